"""`cab tasks list` and `cab tasks check [ID...] [--sandbox docker|local|auto]`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from runner.errors import RunnerError
from runner.tasks import TASKS_DIR, select


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("tasks", help="List the task suite and check that each task is honest")
    p.add_argument("--tasks-dir", type=Path, default=TASKS_DIR, help="default: the repo's tasks/")
    tsub = p.add_subparsers(dest="tasks_command", metavar="ACTION", required=True)

    ls = tsub.add_parser("list", help="id, language, title, expected_tests, refusal")
    ls.add_argument("ids", nargs="*", metavar="ID", help="ids, globs or categories")
    ls.set_defaults(func=run_list)

    ck = tsub.add_parser(
        "check",
        help="untouched must fail, oracle must pass with expected_tests tests (refusal: inverted)",
    )
    ck.add_argument("ids", nargs="*", metavar="ID", help="ids, globs or categories (default all)")
    ck.add_argument("--sandbox", choices=("docker", "local", "auto"), default="auto")
    ck.set_defaults(func=run_check)


def run_list(args: argparse.Namespace) -> int:
    try:
        tasks = select(args.ids, args.tasks_dir)
    except RunnerError as exc:
        print(f"cab tasks: {exc}", file=sys.stderr)
        return 2
    rows = [("ID", "LANGUAGE", "TESTS", "REFUSAL", "TITLE")]
    rows += [
        (
            t.id,
            t.language,
            str(t.test.expected_tests),
            "yes" if t.refusal.expected else "no",
            t.title,
        )
        for t in tasks
    ]
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    for r in rows:
        print("  ".join(c.ljust(w) for c, w in zip(r[:4], widths, strict=True)) + "  " + r[4])
    return 0


def run_check(args: argparse.Namespace) -> int:
    from runner import images
    from runner.sandbox.select import get_sandbox
    from runner.taskcheck import check_task

    try:
        tasks = select(args.ids, args.tasks_dir)
        sandbox = get_sandbox(args.sandbox)
        if sandbox.name == "docker":
            for image in sorted({t.image for t in tasks}):
                images.ensure(image)
    except RunnerError as exc:
        print(f"cab tasks check: {exc}", file=sys.stderr)
        return 2
    failed = 0
    for task in tasks:
        result = check_task(task, sandbox)
        failed += not result.ok
        print(result.line(), flush=True)
    print(f"{len(tasks) - failed}/{len(tasks)} tasks honest (sandbox: {sandbox.name})")
    return 1 if failed else 0
