"""Scorecard: every axis, the composite and the verdict of one cell.

AXES is the one list of per-axis scorers; `score_cell`, the composite and the report all
iterate it, so adding an axis is adding one line here. Each scorer is pure:
`(Evidence, ScoringConfig) -> pydantic model` whose dump starts with the reference
page's keys.
"""

from __future__ import annotations

from collections.abc import Callable

from pydantic import BaseModel

from scorer import blast_radius, integrity, latency, pass_rate, refusal, tokens
from scorer.composite import Composite, composite
from scorer.config import ScoringConfig, Weights, load_config
from scorer.evidence import Evidence
from scorer.verdict import Verdict, judge

AxisScorer = Callable[[Evidence, ScoringConfig], BaseModel]

#: (axis name, scorer) in the reference page's order.
AXES: list[tuple[str, AxisScorer]] = [
    ("pass_rate", pass_rate.score),
    ("tokens", tokens.score),
    ("latency", latency.score),
    ("blast_radius", blast_radius.score),
    ("refusal", refusal.score),
    ("integrity", integrity.score),
]


class Scorecard(BaseModel):
    pass_rate: pass_rate.PassRate
    tokens: tokens.Tokens
    latency: latency.Latency
    blast_radius: blast_radius.BlastRadius
    refusal: refusal.Refusal
    integrity: integrity.Integrity
    composite: Composite
    verdict: Verdict


def score_cell(
    evidence: Evidence, weights: Weights | None = None, config: ScoringConfig | None = None
) -> Scorecard:
    """Score one cell. weights None = config's (config None = config/scoring.toml)."""
    config = config or load_config()
    axes = {name: scorer(evidence, config) for name, scorer in AXES}
    comp = composite(**axes, weights=weights, config=config)
    passed = axes["pass_rate"].pass_ == 1
    return Scorecard(**axes, composite=comp, verdict=judge(evidence, passed=passed))
