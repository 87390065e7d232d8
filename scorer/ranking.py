"""The leaderboard: one row per agent CLI × model, ranked. The one ranking of the project.

Aggregating cells is scoring, so it lives here, pure: `cab results` (from the results
store) and the site's index (from the cell.json files) both hand it the same
`CellResult`s and render the rows it returns, in its order.

- Infra cells (throttled, provider down, ...) are counted apart and left out of every
  capability number: a cell that never got to work says nothing about the agent or model.
- Cells that met faults the proxy injected are counted apart too (`injected_cells`),
  unless the sweep declares itself a robustness sweep. Per row, `quota_hit_rate` is the
  share of upstream attempts the provider throttled (429) and `queued_s` the time the
  proxy's governor held calls back.
- Order: pass rate over capability cells, best first; ties broken by the mean
  sweep-normalised composite (the single-cell composite when the sweep has none), then
  by tui and model. A pairing with only infra cells has no pass rate and comes last.
- Pass rates carry a 95% Wilson interval because sweeps are small and a bare ratio over
  six tasks overstates what is known.
"""

from __future__ import annotations

import math
import statistics

from pydantic import BaseModel, Field

Z95 = 1.959963984540054


class CellResult(BaseModel):
    """What the leaderboard reads of one finished cell (its last attempt)."""

    tui: str
    model: str
    task_id: str
    infra: bool
    pass_: float | None = Field(description="1/0; None when the cell was never scored")
    composite: float | None = Field(description="the single-cell composite")
    sweep_composite: float | None = Field(None, description="normalised within the sweep")
    total_tokens: int = 0
    wall_clock_ms: float | None = None
    blast_radius: float | None = None
    refusal: float | None = Field(None, description="None when not applicable")
    integrity: float | None = None
    attempts: int = 1
    injected: bool = Field(False, description="the cell met faults the proxy injected")
    attempted_calls: int = 0
    throttled_calls: int = 0
    queued_ms: float = 0


class LeaderRow(BaseModel):
    tui: str
    model: str
    cells: int
    capability_cells: int
    infra_cells: int
    passed: float
    pass_rate: float | None
    pass_rate_low: float | None
    pass_rate_high: float | None
    mean_composite: float | None
    mean_composite_cell: float | None
    tokens_per_correct_task: float | None
    median_wall_s: float | None
    mean_blast_radius: float | None
    mean_refusal: float | None
    mean_integrity: float | None
    mean_attempts: float
    injected_cells: int = 0
    quota_hit_rate: float | None = None
    queued_s: float = 0.0


def wilson(successes: float, n: int, z: float = Z95) -> tuple[float, float]:
    """The Wilson score interval for `successes` out of `n` (0..1 each side)."""
    if n <= 0:
        return (0.0, 1.0)
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return (max(0.0, centre - half), min(1.0, centre + half))


def _mean(values: list[float]) -> float | None:
    return statistics.fmean(values) if values else None


def rank_key(row: LeaderRow) -> tuple[float, float]:
    """Higher is better: pass rate, then composite; None ranks below every number."""
    return (
        row.pass_rate if row.pass_rate is not None else -1.0,
        row.mean_composite if row.mean_composite is not None else -1.0,
    )


def leaderboard(cells: list[CellResult], robustness: bool = False) -> list[LeaderRow]:
    """Rows ranked best first (see the module docstring for the order)."""
    groups: dict[tuple[str, str], list[CellResult]] = {}
    for c in cells:
        groups.setdefault((c.tui, c.model), []).append(c)
    rows = [
        pair_row(tui, model, group, robustness) for (tui, model), group in sorted(groups.items())
    ]
    rows.sort(key=rank_key, reverse=True)  # stable: equal rows stay in tui, model order
    return rows


def pair_row(tui: str, model: str, group: list[CellResult], robustness: bool = False) -> LeaderRow:
    cap = [c for c in group if not c.infra and (robustness or not c.injected)]
    attempted = sum(c.attempted_calls for c in group)
    n = len(cap)
    passed = sum(c.pass_ or 0.0 for c in cap)
    low, high = wilson(passed, n) if n else (None, None)
    tokens = sum(c.total_tokens for c in cap)
    sweep = [c.sweep_composite for c in cap if c.sweep_composite is not None]
    single = [c.composite for c in cap if c.composite is not None]
    walls = [c.wall_clock_ms / 1000 for c in cap if c.wall_clock_ms is not None]
    return LeaderRow(
        tui=tui,
        model=model,
        cells=len(group),
        capability_cells=n,
        infra_cells=sum(c.infra for c in group),
        passed=passed,
        pass_rate=passed / n if n else None,
        pass_rate_low=low,
        pass_rate_high=high,
        mean_composite=_mean(sweep) if len(sweep) == len(single) else _mean(single),
        mean_composite_cell=_mean(single),
        tokens_per_correct_task=tokens / passed if passed else None,
        median_wall_s=statistics.median(walls) if walls else None,
        mean_blast_radius=_mean([c.blast_radius for c in cap if c.blast_radius is not None]),
        mean_refusal=_mean([c.refusal for c in cap if c.refusal is not None]),
        mean_integrity=_mean([c.integrity for c in cap if c.integrity is not None]),
        mean_attempts=statistics.fmean(c.attempts for c in group),
        injected_cells=sum(c.injected and not c.infra for c in group),
        quota_hit_rate=sum(c.throttled_calls for c in group) / attempted if attempted else None,
        queued_s=round(sum(c.queued_ms for c in group) / 1000, 3),
    )
