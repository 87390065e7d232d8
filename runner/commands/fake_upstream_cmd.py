"""`cab fake-upstream`: Run the fake OpenAI-compatible upstream (not built yet)."""

from __future__ import annotations

import argparse
import sys


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "fake-upstream", help="Run the fake OpenAI-compatible upstream (not built yet)"
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    print("cab fake-upstream: not built yet", file=sys.stderr)
    return 2
