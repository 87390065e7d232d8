"""Run a sweep: the agents × models × tasks × repeats matrix, a bounded number at a time.

- One Harness (fake upstream + recording proxy) for the whole sweep; each cell gets its
  own proxy session from `run_cell`.
- `run_cell` blocks (docker SDK), so cells run in threads (`asyncio.to_thread`) bounded
  by a semaphore; the store is written only from the event loop's thread.
- Resume: a cell is finished once its row in `cells` is committed; a rerun skips those,
  first removing the sweep's leftover containers (label cab.sweep_id) and the attempts of
  cells that never finished. A lock file stops two runs of one sweep at once.
- Infra retries: an infra verdict queues the cell again with exponential backoff
  (tenacity), its slot freed while it waits. Every attempt is kept: the previous one's
  folder moves to <cell_dir>/attempts/<n>/ and each attempt has its own store row.
  Capability failures are never retried, nor are cells that met injected faults.
- Repeats: with repeats > 1 each repeat is its own cell, `<cell_id>#r<k>` in
  `<cell path>/r<k>/`, with its own container label, so repeats run side by side.
"""

from __future__ import annotations

import asyncio
import fcntl
import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import structlog
from tenacity import AsyncRetrying, retry_if_result, stop_after_attempt, wait_exponential

from runner.cell import CellOptions, run_cell
from runner.errors import RunnerError
from runner.harness import Harness
from runner.record import CellRecord
from runner.sandbox import get_sandbox
from runner.store import ResultsStore
from runner.store.facts import cell_facts
from runner.store.normalise import normalise_sweep
from runner.sweep_config import CellPlan, SweepConfig, expand
from scorer import score_cell

log = structlog.get_logger(__name__)

STASH = ".attempts-in-flight"
#: Host-wide run locks, one per sweep_id (flock: released by the kernel, even on kill -9).
LOCK_DIR = Path(tempfile.gettempdir()) / "cab-sweep-locks"


class SweepBusyError(RunnerError):
    """Another process is running this sweep right now."""


@dataclass
class CellOutcome:
    plan: CellPlan
    record: CellRecord
    attempt: int
    final: bool
    infra: bool
    passed: bool


@dataclass
class SweepSummary:
    sweep_dir: Path
    total: int
    skipped: int
    ran: int
    passed: int
    infra: int
    errors: int


#: Progress callbacks: on_start(plan, attempt), on_done(outcome), on_error(plan, exc).
Listener = Callable[..., None]


class SweepRunner:
    def __init__(
        self,
        cfg: SweepConfig,
        out_root: Path = Path("runs"),
        sandbox: str | None = None,
        listener: object | None = None,
        harness_options: dict[str, Any] | None = None,
    ) -> None:
        self.cfg = cfg
        #: Harness keyword arguments (benchmarks: the fake provider's quota, the governor)
        self.harness_options = harness_options or {}
        self.sweep_dir = out_root / cfg.sweep_id
        self.sandbox_kind = sandbox or cfg.sandbox
        self.listener = listener
        self.plans = expand(cfg)
        self.stopping = False
        #: cell_id -> the attempt a reopened cell resumes at (see _rejudge_finished)
        self.resume_at: dict[str, int] = {}

    # -- the whole sweep ------------------------------------------------------------------

    def pending(self) -> list[CellPlan]:
        """The cells not yet finished (all of them for a new sweep)."""
        db = self.sweep_dir / "results.db"
        if not db.exists():
            return list(self.plans)
        with ResultsStore(db) as store:
            done = store.finished_ids()
        return [p for p in self.plans if p.cell_id not in done]

    def run(self) -> SweepSummary:
        """Run what is not finished. Host-wide, one run per sweep_id at a time: the
        containers' label cab.sweep_id is the engine's, not the folder's, so a second run
        of the same id (even into another --out) would remove this one's containers."""
        self.sweep_dir.mkdir(parents=True, exist_ok=True)
        LOCK_DIR.mkdir(parents=True, exist_ok=True)
        lock = open(LOCK_DIR / f"{self.cfg.sweep_id}.lock", "a+")  # noqa: SIM115 - held
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            lock.seek(0)
            holder = lock.read().strip() or "another process"
            lock.close()
            raise SweepBusyError(
                f"sweep '{self.cfg.sweep_id}' is already running on this host ({holder}); "
                "wait for it, or give this sweep another sweep_id"
            ) from exc
        try:
            lock.truncate(0)
            lock.write(f"pid {os.getpid()}, out {self.sweep_dir.resolve()}\n")
            lock.flush()
            return self._run_locked()
        finally:
            lock.close()

    def _run_locked(self) -> SweepSummary:
        self.sandbox = get_sandbox(self.sandbox_kind)
        self.store = ResultsStore.for_sweep(self.sweep_dir)
        try:
            removed = self.sandbox.cleanup({"cab.sweep_id": self.cfg.sweep_id})
            dropped = self.store.forget_unfinished()
            shutil.rmtree(self.sweep_dir / STASH, ignore_errors=True)
            reopened = self._rejudge_finished()
            if removed or dropped or reopened:
                log.info(
                    "sweep.resume",
                    leftover_containers=removed,
                    unfinished_attempts=dropped,
                    reopened_as_infra=reopened,
                )
            if self.sandbox.isolated:
                self._ensure_images()
            self.store.set_meta("sweep", self.cfg.model_dump(mode="json"))
            self.store.set_meta("sandbox", self.sandbox.name)
            done = self.store.finished_ids()
            todo = [p for p in self.plans if p.cell_id not in done]
            self._notify("on_plan", len(self.plans), len(self.plans) - len(todo))
            summary = SweepSummary(
                self.sweep_dir, len(self.plans), len(self.plans) - len(todo), 0, 0, 0, 0
            )
            with Harness(**self.harness_options) as harness:
                self.harness = harness
                outcomes = asyncio.run(self._run_all(todo))
            for o in outcomes:
                if isinstance(o, CellOutcome):
                    summary.ran += 1
                    summary.passed += o.passed
                    summary.infra += o.infra
                else:
                    summary.errors += 1
            normalise_sweep(self.store, self.cfg.scoring.weights)
            shutil.rmtree(self.sweep_dir / STASH, ignore_errors=True)
            return summary
        finally:
            self.store.close()

    def _rejudge_finished(self) -> int:
        """Resume re-scores every finished cell by today's scorer (a cell stored before a
        verdict rule changed may have been judged wrongly). A cell that is now infra and has
        attempts left is reopened: it runs again as its next attempt. Returns how many."""
        reopened = 0
        for row in self.store.cells():
            record = self.store.record(row["cell_id"])
            record.scores = score_cell(record.facts, weights=self.cfg.scoring.weights)
            verdict = record.scores.verdict
            if verdict.verdict == row["verdict"]:
                continue
            final = not verdict.infra or row["attempts"] >= self.cfg.retry.attempts
            self.store.record_attempt(
                record,
                attempt=row["attempts"],
                cell_dir=row["cell_dir"],
                final=True,
                base_cell_id=row["base_cell_id"],
                repeat=row["repeat"],
            )
            if not final:
                self.store.reopen(row["cell_id"])
                self.resume_at[row["cell_id"]] = row["attempts"] + 1
                reopened += 1
        return reopened

    def _ensure_images(self) -> None:
        """Build the agent and task images the matrix needs once, up front, rather than
        letting every cell fail on a missing image (the first build takes minutes)."""
        from runner import images
        from runner.adapters import get_adapter

        names = {p.task.image for p in self.plans}
        names |= {get_adapter(t).image for t in self.cfg.tuis}
        for name in sorted(names):
            self._notify("on_note", f"image {name}: {images.ensure(name)}")

    async def _run_all(self, todo: list[CellPlan]) -> list[CellOutcome | BaseException]:
        self.slots = asyncio.Semaphore(self.cfg.concurrency)
        tasks = [asyncio.create_task(self._cell(p)) for p in todo]
        try:
            return await asyncio.gather(*tasks, return_exceptions=True)
        except asyncio.CancelledError:
            # Ctrl-C: results still coming back are not committed; the sweep's containers
            # are removed so the worker threads return promptly. Resume reruns these cells.
            self.stopping = True
            await asyncio.to_thread(self.sandbox.cleanup, {"cab.sweep_id": self.cfg.sweep_id})
            raise

    # -- one cell, with its infra retries -------------------------------------------------

    async def _cell(self, plan: CellPlan) -> CellOutcome:
        retry = self.cfg.retry
        first = self.resume_at.get(plan.cell_id, 1)  # a reopened cell continues its count
        retrying = AsyncRetrying(
            stop=stop_after_attempt(max(1, retry.attempts - first + 1)),
            wait=wait_exponential(multiplier=retry.backoff_s, max=retry.backoff_max_s),
            retry=retry_if_result(lambda o: not o.final),
            reraise=True,
        )
        try:
            async for attempt in retrying:
                with attempt:
                    n = first + attempt.retry_state.attempt_number - 1
                    async with self.slots:
                        outcome = await self._attempt(plan, n)
                done = attempt.retry_state.outcome
                if done is not None and not done.failed:
                    attempt.retry_state.set_result(outcome)
        except Exception as exc:
            log.error(
                "sweep.cell_error", cell_id=plan.cell_id, error=f"{type(exc).__name__}: {exc}"
            )
            self._notify("on_error", plan, exc)
            raise
        return outcome

    async def _attempt(self, plan: CellPlan, n: int) -> CellOutcome:
        cell_dir = self.sweep_dir / plan.rel_dir
        stash = self.sweep_dir / STASH / plan.rel_dir
        if n > 1:
            _stash_previous(cell_dir, stash, n - 1)
            self.store.move_attempt(plan.cell_id, n - 1, f"{plan.rel_dir}/attempts/{n - 1}")
        self._notify("on_start", plan, n)
        opts = CellOptions(
            sweep_id=self.cfg.sweep_id,
            out_root=self.sweep_dir.parent,
            sandbox=self.sandbox.name,
            network_mode=self.cfg.network_mode,
            timeout_s=self.cfg.timeout_s,
            attempt=n,
            plugins=self.cfg.plugins,
            cell_dir=cell_dir,
            cell_id=plan.cell_id,
            weights=self.cfg.scoring.weights,
        )
        record = await asyncio.to_thread(
            run_cell, plan.tui, plan.model, plan.task, opts, self.harness
        )
        if self.stopping:
            raise asyncio.CancelledError
        if n > 1:
            _restore_previous(cell_dir, stash)
        f = cell_facts(record)
        # a cell that met injected faults is never retried: a seeded injector would only
        # serve the same faults again
        final = not f["infra"] or f["injected"] or n >= self.cfg.retry.attempts
        self.store.record_attempt(
            record,
            attempt=n,
            cell_dir=plan.rel_dir,
            final=final,
            base_cell_id=plan.base_cell_id,
            repeat=plan.repeat,
        )
        outcome = CellOutcome(plan, record, n, final, f["infra"], bool(f["pass"]))
        self._notify("on_done", outcome)
        return outcome

    def _notify(self, event: str, *args: object) -> None:
        fn = getattr(self.listener, event, None)
        if fn is not None:
            fn(*args)


def _stash_previous(cell_dir: Path, stash: Path, n: int) -> None:
    """Move attempt n's folder (and the attempts before it) aside: run_cell starts from
    an empty cell folder, and the attempts come back under <cell_dir>/attempts/."""
    stash.mkdir(parents=True, exist_ok=True)
    earlier = cell_dir / "attempts"
    if earlier.is_dir():
        for p in earlier.iterdir():
            os.replace(p, stash / p.name)
        earlier.rmdir()
    if cell_dir.exists():
        os.replace(cell_dir, stash / str(n))


def _restore_previous(cell_dir: Path, stash: Path) -> None:
    target = cell_dir / "attempts"
    target.mkdir(parents=True, exist_ok=True)
    if stash.is_dir():
        for p in stash.iterdir():
            os.replace(p, target / p.name)
        stash.rmdir()
