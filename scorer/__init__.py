"""Pure per-axis scores, the composite and the infra verdict.

from scorer import score_cell, Scorecard
card = score_cell(evidence, weights=None)   # weights: scorer.composite.Weights | None
"""

from scorer.card import AXES, Scorecard, score_cell
from scorer.composite import Weights, normalise
from scorer.config import ScoringConfig, load_config, load_weights
from scorer.evidence import Evidence
from scorer.reports import TestCounts, parse_report

__all__ = [
    "AXES",
    "Evidence",
    "Scorecard",
    "ScoringConfig",
    "TestCounts",
    "Weights",
    "load_config",
    "load_weights",
    "normalise",
    "parse_report",
    "score_cell",
]
