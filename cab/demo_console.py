"""What `cab demo` shows a newcomer: which tasks can run here, one line per cell (a cell
that failed on our own set-up says the fix in one sentence), and where the details are."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from rich.console import Console
from rich.markup import escape

from runner.errors import RunnerError
from runner.sweep import CellOutcome
from runner.sweep_config import SweepConfig
from runner.sweep_progress import SweepProgress

#: Verdicts that are our own set-up's failure, not the agent's or the provider's.
SETUP_VERDICTS = ("infra:harness", "infra:container")


def use_log_file(args: argparse.Namespace, path: Path) -> Path:
    """Every log line goes to `path` (tracebacks included); the console keeps warnings
    that are not about one cell, or what `--log-level`/`--log-json` asked for."""
    from runner.logs import configure

    asked = getattr(args, "log_level", "INFO")
    explicit = getattr(args, "log_json", False) or asked.upper() != "INFO"
    configure(
        json=getattr(args, "log_json", False),
        level="DEBUG" if asked.upper() == "DEBUG" else "INFO",
        log_file=path,
        console_level=asked if explicit else "WARNING",
    )
    return path


def print_local_plan(cfg: SweepConfig, run_all: bool, console: Console) -> SweepConfig:
    """Say which of the demo's tasks the local sandbox can run on this host and why the
    others cannot; unless `run_all`, the returned config keeps only the runnable ones."""
    from runner.doctor.host import local_task_problem
    from runner.tasks import select

    tasks = select(cfg.tasks)
    problems = {t.id: local_task_problem(t) for t in tasks}
    runnable = [t.id for t in tasks if problems[t.id] is None]
    console.print(f"runs here: {len(runnable)} of {len(tasks)} tasks ({', '.join(runnable)})")
    for task_id, problem in problems.items():
        if problem is not None:
            action = "run anyway (--all): infra:harness" if run_all else "skipped"
            console.print(f"  {action}  {task_id}  {escape(problem)}", soft_wrap=True)
    if run_all:
        return cfg
    return cfg.model_copy(update={"tasks": runnable})


_ERROR_PREFIX = re.compile(r"^(\w+Error): ")


def setup_fix(outcome: CellOutcome, log_path: Path | None) -> str | None:
    """For a cell that failed on our own set-up, one sentence with the fix; else None."""
    record = outcome.record
    if record.verdict not in SETUP_VERDICTS:
        return None
    text = record.facts.harness_error or record.facts.agent.error or "no detail recorded"
    text = " ".join(text.split())
    name = _ERROR_PREFIX.match(text)
    ours = name is not None and name.group(1) in _runner_errors()
    text = _ERROR_PREFIX.sub("", text) if ours else text
    if record.verdict == "infra:harness" and not ours:
        where = f" (traceback in {log_path})" if log_path else ""
        return f"our harness failed: {text[:160]}{where}"
    if record.verdict == "infra:container":
        return f"the sandbox could not run the agent: {text[:160]} (see `cab doctor demo`)"
    return text[:240]


def _runner_errors() -> set[str]:
    """The names of our own error classes: their messages say what to do."""
    found: set[str] = set()
    todo: list[type] = [RunnerError]
    while todo:
        cls = todo.pop()
        found.add(cls.__name__)
        todo += cls.__subclasses__()
    return found


class DemoProgress(SweepProgress):
    """The sweep's progress display; a set-up failure's line ends with its fix."""

    log_path: Path | None = None

    def on_done(self, o: CellOutcome) -> None:
        fix = setup_fix(o, self.log_path) if o.final else None
        if fix is None:
            super().on_done(o)
            return
        self.running -= 1
        self.done += 1
        self.infra += 1
        tries = f" after {o.attempt} attempts" if o.attempt > 1 else ""
        self.console.print(
            f"[yellow]INFRA[/] {o.plan.cell_id}  {o.record.verdict}{tries} — {escape(fix)}",
            soft_wrap=True,
        )
        self._refresh()
