"""CellRecord: everything one cell recorded, written as `cell.json`.

The raw facts (`facts`, the scorer's Evidence) are kept apart from the scores so that
`cab score` can rescore a cell without running it again. Names follow the reference
cell page: run identity, timing, scorer breakdown, spans, model calls.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, Field

from proxy.records import ModelCall
from runner.spans import Span
from scorer.evidence import ChangeFacts, Evidence, TaskFacts, TimingFacts

if TYPE_CHECKING:  # the pipeline imports this module; its state is only read here
    from runner.pipeline.state import CellState
    from runner.sandbox.base import RunResult

SCHEMA_VERSION = 1


class RunIdentity(BaseModel):
    cell_id: str
    sweep_id: str
    container_image: str | None = None
    image_digest: str | None = None
    model_build_id: str | None = None
    exit_code: int | None = None
    tui_version: str | None = None
    sandbox: str = "docker"
    isolated: bool = True
    network: str | None = Field(None, description="how the agent reached the proxy")
    endpoint: str = Field("embedded", description="'embedded' or the upstream base URL")
    attempt: int = 1


class CellTiming(BaseModel):
    started_at: datetime
    ended_at: datetime
    duration: float = Field(description="seconds: the agent's run, as wall_clock_ms")
    cell_started_at: datetime | None = Field(None, description="the whole cell, setup to score")
    cell_ended_at: datetime | None = None


class Reproduce(BaseModel):
    """The "Run it yourself" section's commands."""

    docker_run: str = ""
    run_cell: str = ""
    byo: str = ""


class CellRecord(BaseModel):
    schema_version: int = SCHEMA_VERSION
    cell_id: str
    sweep_id: str
    tui: str
    model: str
    task_id: str
    category: str
    title: str
    prompt: str
    identity: RunIdentity
    timing: CellTiming
    facts: Evidence
    scores: dict[str, Any] | None = Field(None, description="the scorer's Scorecard dump")
    spans: list[Span] = Field(default_factory=list)
    artifacts: dict[str, str] = Field(default_factory=dict, description="name -> file in cell dir")
    reproduce: Reproduce = Field(default_factory=Reproduce)

    @property
    def calls(self) -> list[ModelCall]:
        return self.facts.calls

    @property
    def verdict(self) -> str | None:
        return (self.scores or {}).get("verdict", {}).get("verdict")

    def write(self, cell_dir: Path) -> Path:
        cell_dir.mkdir(parents=True, exist_ok=True)
        path = cell_dir / "cell.json"
        tmp = path.with_suffix(".json.tmp")
        tmp.write_text(self.model_dump_json(indent=1), encoding="utf-8")
        tmp.replace(path)
        return path

    @classmethod
    def read(cls, cell_dir: Path) -> CellRecord:
        path = cell_dir / "cell.json" if cell_dir.is_dir() else cell_dir
        return cls.model_validate(json.loads(path.read_text(encoding="utf-8")))


def cell_id_for(sweep_id: str, tui: str, model: str, task_id: str) -> str:
    return f"{sweep_id}/{tui}/{model}/{task_id}"


# Assembly: the pipeline's facts -> Evidence and CellRecord (runner/pipeline/finish.py).


def build_evidence(state: CellState) -> Evidence:
    """The raw facts the scorer reads, from what the stages left (defaults where a stage
    never ran: agent not started, no changes, tests not run)."""
    task = state.task
    return Evidence(
        task=TaskFacts(
            task_id=task.id,
            category=task.category,
            expected_changes=task.expected_changes,
            protected_paths=task.protected_paths,
            allowed_test_config=task.allowed_test_config,
            hidden_paths=task.hidden_paths(),
            expected_refusal=task.refusal.expected,
            refusal_markers=task.refusal.markers,
            expected_tests=task.test.expected_tests,
            test_report=task.test.report,
        ),
        agent=state.agent,
        tests=state.tests,
        changes=state.changes or ChangeFacts(),
        timing=TimingFacts(
            wall_clock_ms=round(state.wall_ms, 3),
            container_active_ms=state.result.container_active_ms if state.result else None,
        ),
        calls=state.calls,
        harness_error=state.harness_error,
    )


def build_identity(state: CellState) -> RunIdentity:
    """The page's "Run identity": what ran where, from the sandbox's own result."""
    result, model = state.result, state.model
    return RunIdentity(
        cell_id=state.cell_id,
        sweep_id=state.opts.sweep_id,
        container_image=state.image_tag if (result and result.isolated) else None,
        image_digest=result.image_digest if result else None,
        model_build_id=model.model_build_id,
        exit_code=state.agent.exit_code,
        tui_version=state.adapter.version,
        sandbox=result.sandbox if result else state.sandbox.name,
        isolated=result.isolated if result else state.sandbox.isolated,
        network=network_note(state.opts.network_mode, result),
        endpoint="embedded" if model.embedded else model.endpoint,
        attempt=state.opts.attempt,
    )


def build_record(state: CellState, evidence: Evidence, reproduce: Reproduce) -> CellRecord:
    """The CellRecord, unscored: `facts` and everything around them."""
    task = state.task
    end = state.adapter_end or state.adapter_start
    return CellRecord(
        cell_id=state.cell_id,
        sweep_id=state.opts.sweep_id,
        tui=state.tui,
        model=state.model.name,
        task_id=task.id,
        category=task.category,
        title=task.title,
        prompt=task.prompt,
        identity=build_identity(state),
        timing=CellTiming(
            started_at=state.adapter_start,
            ended_at=end,
            duration=round(state.wall_ms / 1000, 3),
            cell_started_at=state.cell_started,
            cell_ended_at=datetime.now(UTC),
        ),
        facts=evidence,
        spans=state.tracer.spans,
        artifacts=artifacts(state.cell_dir),
        reproduce=reproduce,
    )


def network_note(mode: str, result: RunResult | None) -> str:
    if result is None or not result.isolated:
        return "local process: shares the host network (not isolated)"
    if mode == "host":
        return "host network: the agent reaches the proxy on 127.0.0.1 (and, here, the host)"
    return f"docker network '{mode}'"


def artifacts(cell_dir: Path) -> dict[str, str]:
    """name -> file (relative to the cell folder) of what the cell left there."""
    names = {"agent_log": "agent.log", "diff": "diff.patch", "test_output": "tests.log"}
    found = {k: v for k, v in names.items() if (cell_dir / v).exists()}
    found["calls"] = "calls.jsonl"
    for path in sorted((cell_dir / "out").rglob("*")):
        if path.is_file():
            found[f"out/{path.relative_to(cell_dir / 'out').as_posix()}"] = path.relative_to(
                cell_dir
            ).as_posix()
    return found
