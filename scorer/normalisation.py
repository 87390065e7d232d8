"""Sweep-level normalisation: cost and latency efficiency relative to the best passing
cell on the same task, so the composites of one sweep compare fairly.

A single cell can only compare itself with fixed references (config/scoring.toml); within
a sweep the fair yardstick is what the best agent × model did on that very task. Pure:
scorecards in, `SweepScores` out. The sweep stores them beside its cells
(`runs/<sweep_id>/sweep_scores.json`, and the store's `sweep_*` columns) and the report
reads that file; the single-cell composite in each cell.json stays as it was. Infra cells
are left out, both as baselines and as rows.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from scorer.card import Scorecard
from scorer.composite import normalise
from scorer.config import Weights

#: The file a sweep writes its sweep composites to, in the sweep's folder.
SWEEP_SCORES_FILE = "sweep_scores.json"


class SweptCell(BaseModel):
    """One capability cell as normalisation reads it."""

    cell_id: str
    cell_dir: str = Field(description="relative to the sweep folder, posix")
    task_id: str
    started_at: datetime = Field(description="of the scored attempt: a rerun makes it stale")
    card: Scorecard


class SweepScore(BaseModel):
    cell_id: str
    cell_dir: str
    started_at: datetime
    sweep_composite: float
    sweep_cost_efficiency: float
    sweep_latency_efficiency: float


class SweepScores(BaseModel):
    """What `sweep_scores.json` holds: every capability cell's sweep composite."""

    sweep_id: str
    weights: Weights | None = Field(None, description="the sweep's; None: each card's own")
    cells: list[SweepScore] = Field(default_factory=list)

    def by_dir(self) -> dict[str, SweepScore]:
        return {s.cell_dir: s for s in self.cells}


Baseline = tuple[float | None, float | None]


def baselines(cells: list[SweptCell]) -> dict[str, Baseline]:
    """task_id -> (best tokens_per_correct_task, best wall_clock_ms) over passing,
    non-infra cells; None where no cell of the task passed (or none spent tokens)."""
    out: dict[str, Baseline] = {}
    for task_id in sorted({c.task_id for c in cells}):
        passing = [
            c.card
            for c in cells
            if c.task_id == task_id and not c.card.infra and c.card.pass_rate.pass_
        ]
        tpc = [k.tokens.total_tokens / k.pass_rate.pass_ for k in passing if k.tokens.total_tokens]
        wall = [k.latency.wall_clock_ms for k in passing if k.latency.wall_clock_ms]
        out[task_id] = (min(tpc) if tpc else None, min(wall) if wall else None)
    return out


def sweep_scores(
    sweep_id: str, cells: list[SweptCell], weights: Weights | None = None
) -> SweepScores:
    """Every capability cell's sweep composite against its task's baselines."""
    best = baselines(cells)
    scores = []
    for c in cells:
        if c.card.infra:
            continue
        tpc, wall = best[c.task_id]
        comp = normalise(
            c.card, best_tokens_per_correct_task=tpc, best_wall_clock_ms=wall, weights=weights
        )
        scores.append(
            SweepScore(
                cell_id=c.cell_id,
                cell_dir=c.cell_dir,
                started_at=c.started_at,
                sweep_composite=float(comp.composite),
                sweep_cost_efficiency=float(comp.components["cost_efficiency"]),
                sweep_latency_efficiency=float(comp.components["latency_efficiency"]),
            )
        )
    return SweepScores(sweep_id=sweep_id, weights=weights, cells=scores)
