"""The leaderboard printed (rich) and exported (JSON, CSV), and the cells as CSV.

The rows come ranked from the scorer (`scorer.ranking.leaderboard`, via
`ResultsStore.leaderboard()`); this module only lays them out. The site shows the same
rows in the same order.
"""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from rich.console import Console

from scorer.ranking import LeaderRow


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


def rate_with_interval(rate: float | None, low: float | None, high: float | None) -> str:
    """`67% [30%–90%]`: a pass rate with its 95% interval, `—` without cells to rate."""
    if rate is None or low is None or high is None:
        return "—"
    return f"{rate:.0%} [{low:.0%}–{high:.0%}]"


def render(rows: list[LeaderRow], sweep_id: str, console: Console | None = None) -> None:
    """Print the leaderboard as a table (rich)."""
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
        rate = rate_with_interval(r.pass_rate, r.pass_rate_low, r.pass_rate_high)
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
            "—" if r.quota_hit_rate is None else f"{r.quota_hit_rate:.0%}",
            f"{r.queued_s:.1f}s",
        )
    console.print(table)
    console.print(
        "pass rate and composite count capability cells only; infra cells (throttled, "
        "provider down) and cells that met injected faults are counted apart (a robustness "
        "sweep ranks the latter). 429 rate: upstream attempts the provider throttled; queued: "
        "time the proxy's governor held calls back. composite is normalised within the sweep "
        "per task."
    )


def cells_csv(cells: list[dict[str, Any]]) -> str:
    """Every finished cell's row (the store's `cells` columns, no record blob)."""
    buf = io.StringIO()
    if cells:
        writer = csv.DictWriter(buf, fieldnames=list(cells[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(cells)
    return buf.getvalue()
