"""Scorecard: every axis, the composite, the verdict and the throttle account of one cell.

AXES is the one list of per-axis scorers; `score_cell`, the composite and the report all
iterate it, so adding an axis is adding one line here (and a field of Scorecard). Each
scorer is pure: `(Evidence, ScoringConfig) -> pydantic model` whose dump starts with the
reference page's keys. `CellRecord.scores` (runner/record.py) is this model, typed: the
store, the report and the CLI read its fields, never a dict.
"""

from __future__ import annotations

from collections.abc import Callable

from pydantic import BaseModel

from scorer import blast_radius, integrity, latency, pass_rate, refusal, tokens
from scorer.composite import Composite, composite
from scorer.config import ScoringConfig, Weights, load_config
from scorer.evidence import Evidence
from scorer.throttle import ThrottleAccount, account
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


class Axes(BaseModel):
    """The per-axis scores, the canonical numbers (the composite is derivative)."""

    pass_rate: pass_rate.PassRate
    tokens: tokens.Tokens
    latency: latency.Latency
    blast_radius: blast_radius.BlastRadius
    refusal: refusal.Refusal
    integrity: integrity.Integrity


class Scorecard(Axes):
    composite: Composite
    verdict: Verdict
    throttle: ThrottleAccount

    @property
    def infra(self) -> bool:
        return self.verdict.infra

    def axis(self, name: str) -> BaseModel:
        """One row of the "Scorer breakdown" by its AXES name (or "composite")."""
        value = getattr(self, name)
        assert isinstance(value, BaseModel), name
        return value


def score_cell(
    evidence: Evidence, weights: Weights | None = None, config: ScoringConfig | None = None
) -> Scorecard:
    """Score one cell. weights None = config's (config None = config/scoring.toml)."""
    config = config or load_config()
    axes = Axes.model_validate({name: scorer(evidence, config) for name, scorer in AXES})
    comp = composite(
        axes.pass_rate,
        axes.tokens,
        axes.latency,
        axes.blast_radius,
        axes.refusal,
        axes.integrity,
        weights=weights,
        config=config,
    )
    return Scorecard(
        **dict(axes),
        composite=comp,
        verdict=judge(evidence, passed=axes.pass_rate.pass_ == 1),
        throttle=account(evidence.calls),
    )
