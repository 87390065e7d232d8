"""Sweep-level normalisation: cost and latency efficiency relative to the best passing
cell on the same task, so the composites of one sweep compare fairly.

A single cell can only compare itself with fixed references (config/scoring.toml); within
a sweep the fair yardstick is what the best agent × model did on that very task. The
scorer owns the arithmetic (`scorer.normalise`); this module picks the baselines and
stores the result beside the single-cell composite, which stays as it was. Infra cells
are left out, both as baselines and as rows (their sweep_composite stays NULL).
"""

from __future__ import annotations

from typing import Any

from runner.store.db import ResultsStore
from scorer import Scorecard, Weights, normalise
from scorer.composite import Composite


def baselines(rows: list[dict[str, Any]]) -> dict[str, tuple[float | None, float | None]]:
    """task_id -> (best tokens_per_correct_task, best wall_clock_ms) over passing,
    non-infra cells; None where no cell of the task passed (or none spent tokens)."""
    out: dict[str, tuple[float | None, float | None]] = {}
    for task_id in {r["task_id"] for r in rows}:
        passing = [r for r in rows if r["task_id"] == task_id and not r["infra"] and r["pass"]]
        tpc = [r["total_tokens"] / r["pass"] for r in passing if r["total_tokens"]]
        wall = [r["wall_clock_ms"] for r in passing if r["wall_clock_ms"]]
        out[task_id] = (min(tpc) if tpc else None, min(wall) if wall else None)
    return out


def normalise_sweep(store: ResultsStore, weights: Weights | None = None) -> int:
    """Recompute every capability cell's sweep composite; returns how many were set."""
    rows = store.cells()
    best = baselines(rows)
    updates: list[tuple[str, float | None, float, float]] = []
    for row in rows:
        if row["infra"]:
            continue
        card = store.record(row["cell_id"]).scores
        if card is None:
            continue
        comp = sweep_composite(card, *best[row["task_id"]], weights=weights)
        c = comp.components
        updates.append(
            (
                row["cell_id"],
                float(comp.composite),
                float(c["cost_efficiency"]),
                float(c["latency_efficiency"]),
            )
        )
    store.set_sweep_scores(updates)
    return len(updates)


def sweep_composite(
    card: Scorecard,
    best_tokens_per_correct_task: float | None,
    best_wall_clock_ms: float | None,
    weights: Weights | None = None,
) -> Composite:
    return normalise(
        card,
        best_tokens_per_correct_task=best_tokens_per_correct_task,
        best_wall_clock_ms=best_wall_clock_ms,
        weights=weights,
    )
