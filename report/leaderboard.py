"""The index's leaderboard (one row per agent CLI × model) and its tui × model × task matrix.

The rows and their order are the scorer's (`scorer.ranking.leaderboard`), from the same
`CellResult`s `cab results` ranks: pass rate over capability cells, ties broken by the
sweep-normalised composite. This module only adds what the page links to (each row's
cells) and how numbers look. Infra cells are kept apart: listed, counted, never averaged.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from report.badge import colour_for, percent
from report.load import LoadedCell
from scorer.ranking import LeaderRow, leaderboard
from scorer.slices import dataset_of, language_of


@dataclass(frozen=True)
class BoardRow:
    row: LeaderRow
    cells: list[LoadedCell]

    @property
    def percent(self) -> str:
        return percent(self.row.mean_composite)


def board(cells: list[LoadedCell], sweep_composites: dict[str, float]) -> list[BoardRow]:
    """The scorer's leaderboard rows, each with the cells it was made of."""
    by_pair: dict[tuple[str, str], list[LoadedCell]] = defaultdict(list)
    for c in cells:
        by_pair[(c.record.tui, c.record.model)].append(c)
    results = [c.record.result(sweep_composites.get(c.rel)) for c in cells]
    return [BoardRow(row=r, cells=by_pair[(r.tui, r.model)]) for r in leaderboard(results)]


def cell_score(c: LoadedCell, sweep_composites: dict[str, float]) -> float | None:
    """The composite a cell's badge and matrix entry show: the sweep's when it has one."""
    card = c.record.scores
    if c.rel in sweep_composites:
        return sweep_composites[c.rel]
    return None if card is None else float(card.composite.composite)


#: Past this many tasks the matrix has a column per dataset × language, not per task (a
#: sweep over the polyglot benchmark has 225 tasks).
MAX_TASK_COLUMNS = 40


def matrix(cells: list[LoadedCell], sweep_composites: dict[str, float]) -> dict[str, Any]:
    """Rows (tui, model), columns task ids; each entry lists that pairing's cells. With
    more than MAX_TASK_COLUMNS tasks, columns are dataset/language groups instead."""
    tasks = sorted({c.record.task_id for c in cells})
    if len(tasks) > MAX_TASK_COLUMNS:
        return grouped_matrix(cells)
    pairs = sorted({(c.record.tui, c.record.model) for c in cells})
    grid: dict[tuple[str, str, str], list[LoadedCell]] = defaultdict(list)
    for c in cells:
        grid[(c.record.tui, c.record.model, c.record.task_id)].append(c)
    rows = []
    for tui, model in pairs:
        entries = []
        for task in tasks:
            members = grid.get((tui, model, task), [])
            scored = [c for c in members if not c.record.infra]
            values = [v for c in scored if (v := cell_score(c, sweep_composites)) is not None]
            score = statistics.fmean(values) if values else None
            entries.append(
                {
                    "cells": members,
                    "score": score,
                    "label": percent(score) if scored else ("infra" if members else ""),
                    "colour": colour_for(score) if scored else None,
                }
            )
        rows.append({"tui": tui, "model": model, "entries": entries})
    return {"tasks": tasks, "rows": rows, "unit": "task"}


def grouped_matrix(cells: list[LoadedCell]) -> dict[str, Any]:
    """Rows (tui, model), columns `dataset/language` (scorer.slices): each entry is how
    many of that group's capability cells passed, linking to its first cell."""

    def group(c: LoadedCell) -> str:
        return f"{dataset_of(c.record.task_id)}/{language_of(c.record.task_id)}"

    groups = sorted({group(c) for c in cells})
    pairs = sorted({(c.record.tui, c.record.model) for c in cells})
    grid: dict[tuple[str, str, str], list[LoadedCell]] = defaultdict(list)
    for c in cells:
        grid[(c.record.tui, c.record.model, group(c))].append(c)
    rows = []
    for tui, model in pairs:
        entries = []
        for name in groups:
            members = grid.get((tui, model, name), [])
            scored = [c for c in members if not c.record.infra]
            passed = sum(1 for c in scored if (c.record.result().pass_ or 0) >= 1)
            share = passed / len(scored) if scored else None
            entries.append(
                {
                    "cells": members,
                    "score": share,
                    "label": f"{passed}/{len(scored)}" if scored else ("infra" if members else ""),
                    "colour": colour_for(share) if scored else None,
                }
            )
        rows.append({"tui": tui, "model": model, "entries": entries})
    return {"tasks": groups, "rows": rows, "unit": "dataset/language (passed/cells)"}
