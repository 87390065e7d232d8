"""`cab doctor [demo | tests | sweep FILE]`: what that use of cab needs, checked in a few
seconds, one line per check with what to do when it is missing.

  demo    `cab demo` in Docker (the default)
  tests   the test suite as CI runs it (Docker tests required)
  sweep   a sweep file: its sandbox, images, and each model's endpoint, key and id
          (GET /v1/models only: no tokens are spent)

Exits 1 when something required is missing, 0 otherwise. `--json` prints the checks
as JSON for machines. See docs/doctor.md.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from rich.console import Console
from rich.markup import escape

from runner.errors import RunnerError

if TYPE_CHECKING:
    from runner.doctor.checks import DoctorReport

MARKS = {"ok": "[green]✓[/]", "warn": "[yellow]![/]", "fail": "[red]✗[/]"}


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "doctor",
        help="Check what `cab demo`, the tests or a sweep need on this machine",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("use", nargs="?", default="demo", choices=["demo", "tests", "sweep"])
    p.add_argument("file", nargs="?", type=Path, help="the sweep file (with `sweep`)")
    p.add_argument("--json", action="store_true", help="print the checks as JSON")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from runner import doctor

    if (args.use == "sweep") != (args.file is not None):
        print("cab doctor: give a FILE with `sweep` (and only then)", file=sys.stderr)
        return 2
    try:
        if args.use == "sweep":
            report = doctor.for_sweep(args.file)
        elif args.use == "tests":
            report = doctor.for_tests()
        else:
            report = doctor.for_demo()
    except RunnerError as exc:
        print(f"cab doctor: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(report.model_dump_json(indent=2))
    else:
        render(report, Console(highlight=False, soft_wrap=True))
    return 0 if report.ok else 1


def render(report: DoctorReport, console: Console, title: str | None = None) -> None:
    """flutter-doctor style: a mark, the check, required or optional, what was found,
    and after an arrow what to do."""
    console.print(escape(title or f"cab doctor {report.use}:"))
    width = max(len(c.name) for c in report.checks) if report.checks else 0
    for c in report.checks:
        need = "required" if c.required else "optional"
        line = f" {MARKS[c.status]} {escape(f'{c.name:<{width}}')}  {need:<8}  {escape(c.detail)}"
        if c.status != "ok" and c.fix:
            line += f"  [bold]→ {escape(c.fix)}[/]"
        console.print(line)
    missing = report.blocking()
    if missing:
        names = ", ".join(c.name for c in missing)
        console.print(f"[red]{len(missing)} required missing[/]: {escape(names)}")
    else:
        console.print("[green]everything required is here[/]")
