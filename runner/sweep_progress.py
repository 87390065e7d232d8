"""The live display of a running sweep (rich): a bar with done/total, passing, infra,
running now and an ETA, and one line per finished cell printed above it.

It is a listener of `SweepRunner` (on_plan, on_start, on_done, on_error), so the runner
knows nothing of terminals; on a non-terminal (CI logs, a pipe) only the lines print.
"""

from __future__ import annotations

import time

from rich.console import Console
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

from runner.sweep import CellOutcome
from runner.sweep_config import CellPlan


class SweepProgress:
    def __init__(self, console: Console | None = None) -> None:
        self.console = console or Console()
        if not self.console.is_terminal:  # CI logs: one unwrapped line per cell
            self.console = Console(file=self.console.file, width=200)
        self.total = self.done = self.passing = self.infra = self.running = 0
        self.skipped = 0
        self.started = time.monotonic()
        self.progress = Progress(
            TextColumn("[bold]sweep"),
            BarColumn(),
            TextColumn("{task.fields[status]}"),
            TimeElapsedColumn(),
            console=self.console,
            transient=False,
        )
        self.task_id: TaskID | None = None

    def __enter__(self) -> SweepProgress:
        self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._refresh()
        self.progress.stop()

    def _eta(self) -> str:
        ran = self.done - self.skipped
        left = self.total - self.done
        if ran <= 0 or left <= 0:
            return "—" if left else "0s"
        per_cell = (time.monotonic() - self.started) / ran
        return f"{per_cell * left:.0f}s"

    def _status(self) -> str:
        return (
            f"{self.done}/{self.total} done · {self.passing} passing · {self.infra} infra · "
            f"{self.running} running · ETA {self._eta()}"
        )

    def _refresh(self) -> None:
        if self.task_id is not None:
            self.progress.update(self.task_id, completed=self.done, status=self._status())

    # -- listener -------------------------------------------------------------------------

    def on_note(self, text: str) -> None:
        self.console.print(f"[dim]{text}[/]")

    def on_plan(self, total: int, finished: int) -> None:
        self.total, self.done, self.skipped = total, finished, finished
        self.started = time.monotonic()
        self.task_id = self.progress.add_task("sweep", total=total, status="")
        if finished:
            self.console.print(f"resuming: {finished} of {total} cells already finished")
        self._refresh()

    def on_start(self, plan: CellPlan, attempt: int) -> None:
        self.running += 1
        self._refresh()

    def on_done(self, o: CellOutcome) -> None:
        self.running -= 1
        verdict = o.record.verdict or "unscored"
        wall = o.record.facts.timing.wall_clock_ms / 1000
        if not o.final:
            self.console.print(
                f"[yellow]retry[/] {o.plan.cell_id}  {verdict} (attempt {o.attempt}), "
                "queued again with backoff"
            )
            self._refresh()
            return
        self.done += 1
        self.passing += o.passed and not o.infra
        self.infra += o.infra
        mark = "[yellow]INFRA[/]" if o.infra else ("[green]PASS[/]" if o.passed else "[red]FAIL[/]")
        tries = f" after {o.attempt} attempts" if o.attempt > 1 else ""
        self.console.print(f"{mark} {o.plan.cell_id}  {verdict}  {wall:.1f}s{tries}")
        self._refresh()

    def on_error(self, plan: CellPlan, exc: BaseException) -> None:
        self.running = max(0, self.running - 1)
        self.console.print(f"[red]ERROR[/] {plan.cell_id}  {type(exc).__name__}: {exc}")
        self._refresh()
