"""`cab results`: Print a sweep's leaderboard (not built yet)."""

from __future__ import annotations

import argparse
import sys


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("results", help="Print a sweep's leaderboard (not built yet)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    print("cab results: not built yet", file=sys.stderr)
    return 2
