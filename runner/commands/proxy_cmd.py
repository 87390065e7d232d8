"""`cab proxy`: Run the recording proxy (not built yet)."""

from __future__ import annotations

import argparse
import sys


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("proxy", help="Run the recording proxy (not built yet)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    print("cab proxy: not built yet", file=sys.stderr)
    return 2
