"""`cab`: one entry point; each subcommand lives in its own module under cab/commands/."""

from __future__ import annotations

import argparse
import importlib
import sys

from runner.logs import configure

#: subcommand -> module under cab.commands exposing `register(subparsers)`.
COMMANDS = {
    "proxy": "proxy_cmd",
    "fake-upstream": "fake_upstream_cmd",
    "tasks": "tasks_cmd",
    "images": "images_cmd",
    "run-cell": "run_cell_cmd",
    "score": "score_cmd",
    "diagnose": "diagnose_cmd",
    "sweep": "sweep_cmd",
    "results": "results_cmd",
    "report": "report_cmd",
    "demo": "demo_cmd",
    "doctor": "doctor_cmd",
    "export": "export_cmd",
    "replay": "replay_cmd",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cab", description="CodingAgentBench: benchmark AI coding agents honestly."
    )
    parser.add_argument("--log-json", action="store_true", help="log JSON lines to stderr")
    parser.add_argument("--log-level", default="INFO", help="DEBUG, INFO, WARNING, ERROR")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module in COMMANDS.values():
        importlib.import_module(f"cab.commands.{module}").register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    configure(json=args.log_json, level=args.log_level)
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
