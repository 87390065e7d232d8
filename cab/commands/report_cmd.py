"""`cab report SWEEP_DIR --out DIR`: write the sweep's static site and print its index path."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "report", help="Write the static site (cell pages, leaderboard, badges) of a sweep"
    )
    p.add_argument("sweep_dir", type=Path, help="runs/<sweep_id>/")
    p.add_argument("--out", type=Path, default=None, help="output dir (default SWEEP_DIR/site)")
    p.add_argument("--base-url", default=None, help="make embed snippets absolute under this URL")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from report import build_site
    from report.load import SweepReadError

    out = args.out or args.sweep_dir / "site"
    try:
        index = build_site(args.sweep_dir, out, base_url=args.base_url)
    except SweepReadError as exc:
        print(f"cab report: {exc}", file=sys.stderr)
        return 2
    print(index.resolve())
    return 0
