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
    if args.json:
        sys.stdout.write(to_json(rows, sweep_id) + "\n")
    elif args.csv:
        sys.stdout.write(to_csv(rows))
    elif args.cells:
        sys.stdout.write(cells_csv(cells))
    else:
        render(rows, sweep_id)
    return 0
