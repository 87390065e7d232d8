"""`cab tasks list` and `cab tasks check [ID...] [--sandbox docker|local|auto] [--jobs N]`,
over the built-in suite or the task sources named by `--tasks-dir` (repeatable, any format:
ours, aider-polyglot, Harbor)."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from runner.errors import RunnerError
from runner.tasks import TASKS_DIR, Task, select


def add_sources_option(p: argparse.ArgumentParser, dest: str = "tasks_dirs") -> None:
    """`--tasks-dir DIR` (alias `--tasks`), repeatable: the task sources to read."""
    p.add_argument(
        "--tasks-dir",
        "--tasks",
        dest=dest,
        type=Path,
        action="append",
        default=None,
        metavar="DIR",
        help="a task source (ours, an aider-polyglot checkout, a Harbor dataset); repeat "
        "for more; default: the repo's tasks/",
    )
    if dest == "tasks_dirs":
        p.add_argument(
            "--visible-tests",
            action="store_true",
            help="aider-polyglot exercises keep their tests in the workspace, read-only, as "
            "aider's harness does (ids aider-polyglot-visible/...; scores not comparable)",
        )


def sources_of(args: argparse.Namespace) -> list[Path]:
    dirs = (getattr(args, "tasks_dirs_top", None) or []) + (getattr(args, "tasks_dirs", None) or [])
    return dirs or [TASKS_DIR]


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("tasks", help="List the task suite and check that each task is honest")
    add_sources_option(p, dest="tasks_dirs_top")
    tsub = p.add_subparsers(dest="tasks_command", metavar="ACTION", required=True)

    ls = tsub.add_parser("list", help="id, language, title, expected_tests, refusal")
    ls.add_argument("ids", nargs="*", metavar="ID", help="ids, globs or categories")
    add_sources_option(ls)
    ls.set_defaults(func=run_list)

    ck = tsub.add_parser(
        "check",
        help="untouched must fail, oracle must pass with expected_tests tests (refusal: inverted)",
    )
    ck.add_argument("ids", nargs="*", metavar="ID", help="ids, globs or categories (default all)")
    ck.add_argument("--sandbox", choices=("docker", "local", "auto"), default="auto")
    ck.add_argument(
        "--jobs",
        "-j",
        type=int,
        default=min(4, os.cpu_count() or 1),
        help="tasks checked at once (default: cores, at most 4)",
    )
    add_sources_option(ck)
    ck.set_defaults(func=run_check)


def _count(t: Task) -> str:
    if t.unsupported:
        return "n/a"
    return str(t.test.expected_tests) if t.test.expected_tests is not None else "?"


def run_list(args: argparse.Namespace) -> int:
    try:
        tasks = select(args.ids, sources_of(args), visible_tests=args.visible_tests)
    except RunnerError as exc:
        print(f"cab tasks: {exc}", file=sys.stderr)
        return 2
    rows = [("ID", "LANGUAGE", "TESTS", "REFUSAL", "TITLE")]
    rows += [
        (t.id, t.language, _count(t), "yes" if t.refusal.expected else "no", t.title) for t in tasks
    ]
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    for r in rows:
        print("  ".join(c.ljust(w) for c, w in zip(r[:4], widths, strict=True)) + "  " + r[4])
    return 0


def run_check(args: argparse.Namespace) -> int:
    from runner import images
    from runner.sandbox.select import get_sandbox
    from runner.taskcheck import check_tasks

    try:
        tasks = select(args.ids, sources_of(args), visible_tests=args.visible_tests)
        sandbox = get_sandbox(args.sandbox)
        if sandbox.name == "docker":
            for image in sorted({t.image for t in tasks if not t.unsupported and not t.harbor}):
                images.ensure(image)
    except RunnerError as exc:
        print(f"cab tasks check: {exc}", file=sys.stderr)
        return 2
    results = check_tasks(
        tasks, sandbox, jobs=args.jobs, on_result=lambda r: print(r.line(), flush=True)
    )
    failed = sum(r.status == "FAIL" for r in results)
    skipped = sum(r.status == "SKIP" for r in results)
    print(
        f"{len(tasks) - failed - skipped}/{len(tasks)} tasks honest, {skipped} unsupported here "
        f"(sandbox: {sandbox.name})"
    )
    return 1 if failed else 0
