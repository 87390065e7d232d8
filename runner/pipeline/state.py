"""CellState: one running cell, handed from stage to stage.

It holds the live resources (harness, sandbox, tracer) and the facts each stage leaves
for the next; `runner.record` turns the facts into the CellRecord. A field stays at its
"nothing happened" default when the stage that fills it never ran, so a cell that failed
early is still recorded honestly (agent not started, no changes, tests not run).
"""

from __future__ import annotations

import shutil
import tempfile
import traceback
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import structlog

from proxy.records import ModelCall
from proxy.sessions import Session
from runner.adapters import Adapter, AdapterContext, get_adapter
from runner.harness import Harness
from runner.models import ModelSpec
from runner.pipeline.options import CellOptions, cell_dir_for
from runner.record import cell_id_for
from runner.sandbox import RunResult, RunSpec, Sandbox, get_sandbox
from runner.spans import Tracer, new_span_id
from runner.tasks import Task
from runner.workspace import Snapshot
from scorer.evidence import AgentFacts, ChangeFacts, TestFacts

#: What a harness error says when the run was interrupted (Ctrl-C, SIGTERM -> SystemExit).
INTERRUPTED = "interrupted before the cell finished"


def now() -> datetime:
    return datetime.now(UTC)


@dataclass
class CellState:
    tui: str
    adapter: Adapter
    model: ModelSpec
    task: Task
    opts: CellOptions
    harness: Harness
    own_harness: bool = field(metadata={"doc": "started here, so stopped here"})
    sandbox: Sandbox
    cell_id: str
    cell_dir: Path
    scratch: Path
    log: Any = field(metadata={"doc": "structlog logger bound to the cell"})
    tracer: Tracer = field(default_factory=Tracer)
    cell_started: datetime = field(default_factory=now)
    adapter_span: str = field(default_factory=new_span_id)
    run_label: str = field(
        default_factory=lambda: uuid.uuid4().hex[:12],
        metadata={"doc": "this run of the cell alone: cleanup removes only its containers"},
    )
    adapter_start: datetime = field(default_factory=now)
    adapter_end: datetime | None = None
    # Left by prepare_workspace
    baseline: Snapshot | None = None
    git_before: bool = False
    # Left by run_agent
    session: Session | None = None
    ctx: AdapterContext | None = None
    spec: RunSpec | None = None
    image_tag: str | None = None
    prepared: dict[str, str] = field(
        default_factory=dict, metadata={"doc": "files in the agent's mounts before it ran"}
    )
    result: RunResult | None = None
    agent: AgentFacts = field(default_factory=lambda: AgentFacts(started=False))
    # Left by collect_changes and run_tests
    changes: ChangeFacts | None = None
    tests: TestFacts = field(default_factory=TestFacts)
    # Left by clean_up and fail
    calls: list[ModelCall] = field(default_factory=list)
    harness_error: str | None = None
    interrupted: BaseException | None = None

    @property
    def workdir(self) -> Path:
        return self.scratch / "workdir"

    @property
    def timeout_s(self) -> float:
        return self.opts.timeout_s or self.task.timeout_s

    @property
    def labels(self) -> dict[str, str]:
        """Every container of the cell carries these, so cleanup finds leftovers. cab.run
        tells this run from another run of the same cell id (a second process re-running
        it, or two test runs on one engine): cleanup must never remove those."""
        return {
            "cab.cell_id": self.cell_id,
            "cab.sweep_id": self.opts.sweep_id,
            "cab.run": self.run_label,
        }

    @property
    def wall_ms(self) -> float:
        """The agent's run: from its session opening to its sandbox exiting."""
        end = self.adapter_end or self.adapter_start
        return (end - self.adapter_start).total_seconds() * 1000

    def fail(self, exc: BaseException) -> None:
        """Record our own failure (or an interruption): the verdict will say infra:harness."""
        if isinstance(exc, KeyboardInterrupt | SystemExit):
            self.interrupted = exc
            self.harness_error = INTERRUPTED
        else:
            self.harness_error = f"{type(exc).__name__}: {exc}"
            self.log.error(
                "cell.harness_error", error=self.harness_error, tb=traceback.format_exc()
            )
        if self.adapter_end is None or self.adapter_end <= self.adapter_start:
            self.adapter_end = now()


def open_cell(
    tui: str, model: ModelSpec, task: Task, opts: CellOptions, harness: Harness | None
) -> CellState:
    """Resolve the agent, sandbox and folders, and start the harness when none is shared.
    An unknown agent or sandbox fails here, before anything is written."""
    adapter = get_adapter(tui)
    sandbox = get_sandbox(opts.sandbox)
    cell_id = opts.cell_id or cell_id_for(opts.sweep_id, tui, model.name, task.id)
    cell_dir = cell_dir_for(opts, tui, model.name, task)
    if cell_dir.exists():
        shutil.rmtree(cell_dir)
    (cell_dir / "out").mkdir(parents=True)
    log = structlog.get_logger().bind(cell_id=cell_id, tui=tui, model=model.name)
    log.info("cell.start", task=task.id, attempt=opts.attempt)
    own_harness = harness is None
    harness = harness or Harness().start()
    started = now()
    scratch = Path(tempfile.mkdtemp(prefix=f"cab-{tui}-{task.category}_{task.name}-"))
    return CellState(
        tui=tui,
        adapter=adapter,
        model=model,
        task=task,
        opts=opts,
        harness=harness,
        own_harness=own_harness,
        sandbox=sandbox,
        cell_id=cell_id,
        cell_dir=cell_dir,
        scratch=scratch,
        log=log,
        cell_started=started,
        adapter_start=started,
    )
