"""The index's leaderboard (one row per agent CLI × model) and its tui × model × task matrix.

Infra cells are kept apart: they are listed, counted, and never averaged into a row,
because a throttled provider says nothing about what the agent can do. Composites come
from the results store's sweep-normalised column when there is one.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from typing import Any

from report.badge import colour_for, percent
from report.load import LoadedCell
from scorer.card import Scorecard


def _mean(values: list[float]) -> float | None:
    return statistics.fmean(values) if values else None


def _score(c: LoadedCell, normalised: dict[str, float]) -> float | None:
    card = c.record.scores
    return None if card is None else normalised.get(c.rel, float(card.composite.composite))


def leaderboard(cells: list[LoadedCell], normalised: dict[str, float]) -> list[dict[str, Any]]:
    groups: dict[tuple[str, str], list[LoadedCell]] = defaultdict(list)
    for c in cells:
        groups[(c.record.tui, c.record.model)].append(c)
    rows: list[dict[str, Any]] = []
    for (tui, model), members in sorted(groups.items()):
        scored = [c for c in members if not c.record.infra]
        s: list[Scorecard] = [c.record.scores for c in scored if c.record.scores]
        passes = [float(x.pass_rate.pass_) for x in s]
        tokens = sum(x.tokens.total_tokens for x in s)
        refusals = [float(x.refusal.refusal) for x in s if not x.refusal.not_applicable]
        walls = [x.latency.wall_clock_ms / 1000 for x in s]
        composite = _mean([v for c in scored if (v := _score(c, normalised)) is not None])
        rows.append(
            {
                "tui": tui,
                "model": model,
                "cells": members,
                "scored": len(scored),
                "infra": len(members) - len(scored),
                "pass": _mean(passes),
                "tokens_per_correct": tokens / sum(passes) if sum(passes) else None,
                "wall_s": statistics.median(walls) if walls else None,
                "blast": _mean([float(x.blast_radius.blast_radius) for x in s]),
                "refusal": _mean(refusals),
                "integrity": _mean([float(x.integrity.integrity) for x in s]),
                "composite": composite,
                "percent": percent(composite),
            }
        )
    rows.sort(key=lambda r: -1 if r["composite"] is None else r["composite"], reverse=True)
    return rows


def matrix(cells: list[LoadedCell], normalised: dict[str, float]) -> dict[str, Any]:
    """Rows (tui, model), columns task ids; each entry lists that pairing's cells."""
    tasks = sorted({c.record.task_id for c in cells})
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
            score = _mean([v for c in scored if (v := _score(c, normalised)) is not None])
            entries.append(
                {
                    "cells": members,
                    "score": score,
                    "label": percent(score) if scored else ("infra" if members else ""),
                    "colour": colour_for(score) if scored else None,
                }
            )
        rows.append({"tui": tui, "model": model, "entries": entries})
    return {"tasks": tasks, "rows": rows}
