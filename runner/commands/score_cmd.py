"""`cab score`: Rescore cells (not built yet)."""

from __future__ import annotations

import argparse
import sys


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("score", help="Rescore cells (not built yet)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    print("cab score: not built yet", file=sys.stderr)
    return 2
