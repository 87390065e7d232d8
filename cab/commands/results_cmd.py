"""`cab results SWEEP_DIR`: a sweep's leaderboard, or its export as JSON or CSV."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("results", help="Print a sweep's leaderboard (per agent CLI × model)")
    p.add_argument("sweep_dir", type=Path, help="the sweep's folder, e.g. runs/demo")
    fmt = p.add_mutually_exclusive_group()
    fmt.add_argument("--json", action="store_true", help="leaderboard as JSON on stdout")
    fmt.add_argument("--csv", action="store_true", help="leaderboard as CSV on stdout")
    fmt.add_argument("--cells", action="store_true", help="every finished cell as CSV")
    p.add_argument(
        "--by-language",
        action="store_true",
        help="one row per agent CLI × model × dataset × language (e.g. the polyglot set)",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from runner.store import DB_NAME, ResultsStore
    from runner.store.export import cells_csv, render, to_csv, to_json

    db = args.sweep_dir / DB_NAME
    if not db.is_file():
        print(
            f"cab results: {db}: no results store here (run `cab sweep FILE` first)",
            file=sys.stderr,
        )
        return 2
    with ResultsStore(db) as store:
        cells = store.cells()
        rows = store.leaderboard()
        sweep_id = store.sweep_id()
        if args.by_language:
            return _by_language(store, sweep_id, as_json=args.json)
    if args.json:
        sys.stdout.write(to_json(rows, sweep_id) + "\n")
    elif args.csv:
        sys.stdout.write(to_csv(rows))
    elif args.cells:
        sys.stdout.write(cells_csv(cells))
    else:
        render(rows, sweep_id)
    return 0


def _by_language(store, sweep_id: str, *, as_json: bool) -> int:
    """Pass rates per dataset and language (scorer.slices), as a table or JSON."""
    import json

    from rich.console import Console
    from rich.table import Table

    from runner.store.export import rate_with_interval
    from scorer.slices import slice_rows

    robust = bool((store.meta("sweep") or {}).get("robustness"))
    rows = slice_rows(store.results(), robustness=robust)
    if as_json:
        data = {"sweep_id": sweep_id, "by_language": [r.model_dump() for r in rows]}
        sys.stdout.write(json.dumps(data, indent=1) + "\n")
        return 0
    console = Console()
    if not console.is_terminal:
        console = Console(file=console.file, width=160)
    table = Table(title=f"Pass rate by language — {sweep_id}", title_justify="left")
    for col in ("dataset", "language", "tui", "model", "pass rate [95% CI]", "cells", "infra"):
        table.add_column(col, no_wrap=True)
    for r in rows:
        rate = rate_with_interval(r.pass_rate, r.pass_rate_low, r.pass_rate_high)
        table.add_row(
            r.dataset, r.language, r.tui, r.model, rate, str(r.capability_cells), str(r.infra_cells)
        )
    console.print(table)
    return 0
