"""The leaderboard: one row per agent CLI × model, read from the store's `cells` table.

Infra cells (throttled, provider down, ...) are counted apart and left out of every
capability number: a cell that never got to work says nothing about the agent or model.
Cells that met faults the proxy injected are counted apart too (`injected_cells`) unless
the sweep declares itself a robustness sweep. Per row, `quota_hit_rate` is the share of
upstream attempts the provider throttled (429) and `queued_s` the time the proxy's
governor held calls back.
Pass rates carry a 95% Wilson interval because sweeps are small and a bare ratio over
six tasks overstates what is known.
"""

from __future__ import annotations

import csv
import io
import json
import math
import statistics
from typing import Any

from pydantic import BaseModel

Z95 = 1.959963984540054


def wilson(successes: float, n: int, z: float = Z95) -> tuple[float, float]:
    """The Wilson score interval for `successes` out of `n` (0..1 each side)."""
    if n <= 0:
        return (0.0, 1.0)
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return (max(0.0, centre - half), min(1.0, centre + half))


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
    mean_attempts: float
    injected_cells: int = 0
    quota_hit_rate: float | None = None
    queued_s: float = 0.0


def leaderboard(cells: list[dict[str, Any]], robustness: bool = False) -> list[LeaderRow]:
    """Rows sorted best first: pass rate, then composite. `cells` are store rows; a
    robustness sweep ranks cells that met injected faults too."""
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for c in cells:
        groups.setdefault((c["tui"], c["model"]), []).append(c)
    rows = [_row(tui, model, group, robustness) for (tui, model), group in groups.items()]
    rows.sort(
        key=lambda r: (
            r.pass_rate if r.pass_rate is not None else -1,
            r.mean_composite if r.mean_composite is not None else -1,
        ),
        reverse=True,
    )
    return rows


def _mean(values: list[float]) -> float | None:
    return statistics.fmean(values) if values else None


def _row(tui: str, model: str, group: list[dict[str, Any]], robustness: bool) -> LeaderRow:
    injected = [c for c in group if c.get("injected") and not c["infra"]]
    cap = [c for c in group if not c["infra"] and (robustness or not c.get("injected"))]
    attempts = sum(c.get("attempted_calls") or 0 for c in group)
    throttled = sum(c.get("throttled_calls") or 0 for c in group)
    n = len(cap)
    passed = sum(c["pass"] or 0.0 for c in cap)
    low, high = wilson(passed, n) if n else (None, None)
    tokens = sum(c["total_tokens"] or 0 for c in cap)
    sweep = [c["sweep_composite"] for c in cap if c.get("sweep_composite") is not None]
    single = [c["composite"] for c in cap if c["composite"] is not None]
    walls = [c["wall_clock_ms"] / 1000 for c in cap if c["wall_clock_ms"] is not None]
    return LeaderRow(
        tui=tui,
        model=model,
        cells=len(group),
        capability_cells=n,
        infra_cells=sum(1 for c in group if c["infra"]),
        passed=passed,
        pass_rate=passed / n if n else None,
        pass_rate_low=low,
        pass_rate_high=high,
        mean_composite=_mean(sweep) if len(sweep) == len(single) else _mean(single),
        mean_composite_cell=_mean(single),
        tokens_per_correct_task=tokens / passed if passed else None,
        median_wall_s=statistics.median(walls) if walls else None,
        mean_attempts=statistics.fmean(c["attempts"] for c in group),
        injected_cells=len(injected),
        quota_hit_rate=throttled / attempts if attempts else None,
        queued_s=round(sum(c.get("queued_ms") or 0 for c in group) / 1000, 3),
    )


def to_json(rows: list[LeaderRow], sweep_id: str) -> str:
    return json.dumps(
        {"sweep_id": sweep_id, "leaderboard": [r.model_dump() for r in rows]}, indent=1
    )


def to_csv(rows: list[LeaderRow]) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(LeaderRow.model_fields), lineterminator="\n")
    writer.writeheader()
    for r in rows:
        writer.writerow(r.model_dump())
    return buf.getvalue()


def _f(v: float | None, fmt: str) -> str:
    return "—" if v is None else format(v, fmt)


def render(rows: list[LeaderRow], sweep_id: str, console=None) -> None:
    """Print the leaderboard as a table (rich)."""
    from rich.console import Console
    from rich.table import Table

    console = console or Console()
    if not console.is_terminal:  # a pipe or a CI log: do not squeeze the table into 80 cols
        console = Console(file=console.file, width=160)
    table = Table(title=f"Leaderboard — {sweep_id}", title_justify="left")
    for col, justify in [
        ("tui", "left"),
        ("model", "left"),
        ("pass rate [95% CI]", "right"),
        ("composite", "right"),
        ("tokens/correct", "right"),
        ("median wall", "right"),
        ("cells", "right"),
        ("infra", "right"),
        ("injected", "right"),
        ("429 rate", "right"),
        ("queued", "right"),
    ]:
        table.add_column(col, justify=justify, no_wrap=True)  # type: ignore[arg-type]
    for r in rows:
        rate = (
            "—"
            if r.pass_rate is None
            else f"{r.pass_rate:.0%} [{r.pass_rate_low:.0%}–{r.pass_rate_high:.0%}]"
        )
        table.add_row(
            r.tui,
            r.model,
            rate,
            _f(r.mean_composite, ".3f"),
            _f(r.tokens_per_correct_task, ",.0f"),
            "—" if r.median_wall_s is None else f"{r.median_wall_s:.1f}s",
            str(r.capability_cells),
            str(r.infra_cells),
            str(r.injected_cells),
            _f(r.quota_hit_rate, ".0%"),
            f"{r.queued_s:.1f}s",
        )
    console.print(table)
    console.print(
        "pass rate and composite count capability cells only; infra cells (throttled, "
        "provider down) and cells that met injected faults are counted apart. 429 rate: "
        "upstream attempts the provider throttled; queued: time the proxy's governor held "
        "calls back. composite is normalised within the sweep per task."
    )


def cells_csv(cells: list[dict[str, Any]]) -> str:
    """Every finished cell's row (the store's `cells` columns, no record blob)."""
    buf = io.StringIO()
    if cells:
        writer = csv.DictWriter(buf, fieldnames=list(cells[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(cells)
    return buf.getvalue()
