"""Assembly: the pipeline's facts -> the scorer's Evidence and the CellRecord.

Kept apart from runner/record.py, which is the record's data model only: the report reads
that module, and must not reach the pipeline's machinery through it (import contracts).
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from proxy.transcripts import TRANSCRIPT_FILE
from runner.confinement import LOOPBACK_PORT
from runner.pipeline.state import CellState
from runner.record import CellRecord, CellTiming, Reproduce, RunIdentity
from scorer.evidence import ChangeFacts, Evidence, TaskFacts, TimingFacts


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
    mode = state.spec.network_mode if state.spec else state.opts.network_mode
    isolated = result.isolated if result else state.sandbox.isolated
    return RunIdentity(
        cell_id=state.cell_id,
        sweep_id=state.opts.sweep_id,
        container_image=state.image_tag if (result and result.isolated) else None,
        image_digest=result.image_digest if result else None,
        model_build_id=model.model_build_id,
        exit_code=state.agent.exit_code,
        tui_version=state.adapter.version,
        sandbox=result.sandbox if result else state.sandbox.name,
        isolated=isolated,
        network=network_note(mode, isolated),
        network_mode=mode if isolated else "local",
        endpoint="embedded" if model.embedded else model.endpoint,
        attempt=state.opts.attempt,
        replay_of=state.opts.replay.cell_id if state.opts.replay else None,
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
        isolation=state.result.isolation if state.result else None,
    )


def network_note(mode: str, isolated: bool) -> str:
    """The record's one-line `network` fact (docs/isolation.md)."""
    if not isolated:
        return "local process: shares the host network (not isolated)"
    if mode == "isolated":
        return (
            f"isolated: only loopback; the proxy on 127.0.0.1:{LOOPBACK_PORT} through the "
            "sidecar (its Unix socket), nothing else reachable"
        )
    if mode == "host":
        return "host network (opted in): the agent reaches the proxy and the host's network"
    return f"docker network '{mode}'"


def artifacts(cell_dir: Path) -> dict[str, str]:
    """name -> file (relative to the cell folder) of what the cell left there."""
    names = {"agent_log": "agent.log", "diff": "diff.patch", "test_output": "tests.log"}
    found = {k: v for k, v in names.items() if (cell_dir / v).exists()}
    found["calls"] = "calls.jsonl"
    if (cell_dir / TRANSCRIPT_FILE).exists():
        found["transcript"] = TRANSCRIPT_FILE
    for path in sorted((cell_dir / "out").rglob("*")):
        if path.is_file():
            found[f"out/{path.relative_to(cell_dir / 'out').as_posix()}"] = path.relative_to(
                cell_dir
            ).as_posix()
    return found
