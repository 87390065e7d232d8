"""`cab run-cell`: Run one cell (not built yet)."""

from __future__ import annotations

import argparse
import sys


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("run-cell", help="Run one cell (not built yet)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    print("cab run-cell: not built yet", file=sys.stderr)
    return 2
