"""Sweep-level normalisation, stored: the scorer computes it, the sweep keeps it.

`scorer.normalisation` holds the arithmetic and the baselines (aggregating cells is
scoring); this module feeds it the store's finished cells and keeps the result twice:
in the store's `sweep_*` columns (what `cab results` reads) and as data beside the
cells, `runs/<sweep_id>/sweep_scores.json` (what the report reads). Infra cells are
left out, both as baselines and as rows (their sweep_composite stays NULL).
"""

from __future__ import annotations

from runner.store.db import ResultsStore
from scorer import Weights
from scorer.normalisation import SWEEP_SCORES_FILE, SweepScores, SweptCell, sweep_scores


def swept_cells(store: ResultsStore) -> list[SweptCell]:
    return [
        SweptCell(
            cell_id=record.cell_id,
            cell_dir=cell_dir,
            task_id=record.task_id,
            started_at=record.timing.started_at,
            card=record.scores,
        )
        for cell_dir, record, _ in store.finished()
        if record.scores is not None
    ]


def normalise_sweep(store: ResultsStore, weights: Weights | None = None) -> int:
    """Recompute every capability cell's sweep composite; returns how many were set."""
    cells = swept_cells(store)
    scores = sweep_scores(store.sweep_id(), cells, weights)
    store.set_sweep_scores(
        (s.cell_id, s.sweep_composite, s.sweep_cost_efficiency, s.sweep_latency_efficiency)
        for s in scores.cells
    )
    write_sweep_scores(store, scores)
    return len(scores.cells)


def write_sweep_scores(store: ResultsStore, scores: SweepScores) -> None:
    path = store.path.parent / SWEEP_SCORES_FILE
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(scores.model_dump_json(indent=1), encoding="utf-8")
    tmp.replace(path)
