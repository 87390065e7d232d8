"""`cab report`: Write the static site (not built yet)."""

from __future__ import annotations

import argparse
import sys


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("report", help="Write the static site (not built yet)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    print("cab report: not built yet", file=sys.stderr)
    return 2
