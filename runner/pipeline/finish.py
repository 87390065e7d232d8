"""The last step of every cell, run from `run_cell`'s `finally`: the spans that cover the
whole run, the evidence, the scores, and `cell.json` + `calls.jsonl` on disk."""

from __future__ import annotations

from runner.pipeline.assemble import build_evidence, build_record
from runner.pipeline.state import CellState
from runner.record import CellRecord
from runner.reproduce import reproduce
from scorer import score_cell


def add_run_spans(state: CellState) -> None:
    """The adapter_run span (parent of the container and plugin spans) and one
    model_call span per recorded call."""
    tracer = state.tracer
    tracer.add(
        "adapter_run",
        f"{state.tui}:{state.task.id}",
        state.adapter_start,
        state.adapter_end or state.adapter_start,
        span_id=state.adapter_span,
        attrs={
            "timeout_s": state.timeout_s,
            "plugin_stack": [p.name for p in state.opts.plugins],
            "exit_code": state.agent.exit_code,
        },
    )
    for call in state.calls:
        tracer.add(
            "model_call",
            f"{call.api}:{call.model}",
            call.started_at,
            call.ended_at,
            parent_id=state.adapter_span,
            attrs={
                "seq": call.seq,
                "status_code": call.status_code,
                "outcome": call.outcome,
                "request_hash": call.request_hash,
                "total_tokens": call.total_tokens,
                "ttft_ms": call.ttft_ms,
                "retry_after_s": call.retry_after_s,
            },
        )


def write_record(state: CellState) -> CellRecord:
    """Assemble, score and write the cell's record; returns it."""
    add_run_spans(state)
    evidence = build_evidence(state)
    commands = reproduce(
        state.adapter, state.model, state.task, state.spec, state.ctx, state.result, state.prepared
    )
    record = build_record(state, evidence, commands)
    with state.tracer.span("scoring", f"score:{state.task.id}"):
        record.scores = score_cell(evidence, weights=state.opts.weights)
    record.spans = state.tracer.spans
    record.write(state.cell_dir)
    (state.cell_dir / "calls.jsonl").write_text(
        "".join(c.model_dump_json() + "\n" for c in state.calls), encoding="utf-8"
    )
    state.log.info("cell.done", verdict=record.verdict, exit_code=state.agent.exit_code)
    return record
