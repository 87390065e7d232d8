"""A small sweep built from our own models (CellRecord, Span, ModelCall, Evidence).

Used until — and beside — real `cab run-cell` sweeps: a passing cell, a throttled infra
cell, a cell whose agent output and file names carry markup, and neighbours so the
"other CLIs / models / tasks" links have something to point at. Scores come from the
real scorer.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from proxy.capture import CapturedCall, TranscriptWriter
from proxy.records import ModelCall
from runner.record import CellRecord, CellTiming, Reproduce, RunIdentity, cell_id_for
from runner.spans import Tracer
from scorer import score_cell
from scorer.evidence import AgentFacts, ChangeFacts, Evidence, TaskFacts, TestFacts, TimingFacts

XSS = '<script>window.__xss=1</script>"><img src=x onerror=window.__xss=1>'
SWEEP = "sample-20261125"
T0 = datetime(2026, 11, 25, 12, 0, 0, tzinfo=UTC)


def _ms(n: float) -> timedelta:
    return timedelta(milliseconds=n)


def _call(seq: int, at: float, dur: float, outcome: str, **kw: Any) -> ModelCall:
    status = {"ok": 200, "rate_limited": 429}.get(outcome, 500)
    return ModelCall(
        seq=seq,
        session="s1",
        started_at=T0 + _ms(at),
        ended_at=T0 + _ms(at + dur),
        request_hash=f"{seq:02d}" + "ab" * 31,
        model="scripted",
        status_code=status,
        outcome=outcome,
        latency_ms=dur,
        **kw,
    )


def _scores(evidence: Evidence) -> dict[str, Any]:
    return score_cell(evidence).model_dump(mode="json")


def make_cell(
    sweep_dir: Path,
    tui: str,
    model: str,
    task_id: str,
    *,
    calls: list[ModelCall],
    stdout: str = "ok",
    changed: list[str] | None = None,
    test_exit: int = 0,
    infra: str | None = None,
) -> CellRecord:
    category = task_id.split("/")[0]
    cid = cell_id_for(SWEEP, tui, model, task_id)
    tracer = Tracer()
    end = max([c.ended_at for c in calls] + [T0 + _ms(1500)]) + _ms(300)
    adapter = tracer.new_id()
    tracer.add("task_setup", f"prepare:{task_id}", T0, T0 + _ms(120), attrs={"workdir": "/w"})
    tracer.add(
        "container",
        f"{tui}:run",
        T0 + _ms(150),
        end - _ms(100),
        parent_id=adapter,
        attrs={"image": "cab/reference:1", "stdout_tail": stdout},
    )
    for c in calls:
        tracer.add(
            "model_call",
            f"chat:{model}",
            c.started_at,
            c.ended_at,
            parent_id=adapter,
            attrs={"seq": c.seq, "status_code": c.status_code, "outcome": c.outcome,
                   "retry_after_s": c.retry_after_s},
        )  # fmt: skip
    tracer.add("adapter_run", f"{tui}:{task_id}", T0 + _ms(140), end - _ms(90), span_id=adapter)
    tracer.add("scoring", f"hidden_tests:{task_id}", end - _ms(80), end - _ms(20))
    tracer.add("cleanup", f"cleanup:{tui}", end - _ms(15), end)
    wall = (end - T0).total_seconds() * 1000
    evidence = Evidence(
        task=TaskFacts(task_id=task_id, category=category, expected_changes=["*.go"]),
        agent=AgentFacts(exit_code=0 if not infra else 1, stdout_tail=stdout),
        tests=TestFacts(ran=True, exit_code=test_exit, stdout=stdout),
        changes=ChangeFacts(modified=changed or ["handler.go"]),
        timing=TimingFacts(wall_clock_ms=wall, container_active_ms=wall - 250),
        calls=calls,
    )
    record = CellRecord(
        cell_id=cid,
        sweep_id=SWEEP,
        tui=tui,
        model=model,
        task_id=task_id,
        category=category,
        title=f"Fix {task_id.split('/')[-1]}: {stdout[:60]}",
        prompt="Fix the handler.",
        identity=RunIdentity(
            cell_id=cid,
            sweep_id=SWEEP,
            container_image=f"codingagentbench/{tui}:1",
            image_digest="sha256:" + "7f" * 32,
            model_build_id=model,
            exit_code=evidence.agent.exit_code,
        ),
        timing=CellTiming(started_at=T0, ended_at=end, duration=round(wall / 1000, 3)),
        facts=evidence,
        scores=_scores(evidence),
        spans=tracer.spans,
        reproduce=Reproduce(
            docker_run=f"docker run --rm --network host codingagentbench/{tui}:1@sha256:{'7f' * 32}",
            run_cell=f"cab run-cell --tui {tui} --model {model} --task {task_id}",
            byo='export OPENAI_API_BASE="$YOUR_ENDPOINT"',
        ),
    )
    record.write(sweep_dir / tui / model / task_id)
    return record


def build_sample_sweep(root: Path) -> Path:
    """Write the sample sweep under root/<SWEEP>/ and return that directory."""
    sweep = root / SWEEP
    ok_calls = [
        _call(1, 300, 420, "ok", prompt_tokens=900, completion_tokens=120, total_tokens=1020,
              finish_reason="tool_calls"),
        _call(2, 800, 380, "ok", prompt_tokens=1100, completion_tokens=90, total_tokens=1190,
              finish_reason="stop"),
    ]  # fmt: skip
    make_cell(sweep, "reference", "scripted", "polyglot/go-http-handler-fix", calls=ok_calls)
    make_cell(sweep, "reference", "scripted", "polyglot/py-csv-fix", calls=ok_calls[:1])
    make_cell(sweep, "other", "scripted", "polyglot/go-http-handler-fix", calls=ok_calls)
    throttled = [
        _call(i + 1, 200 + i * 1100, 40, "rate_limited", retry_after_s=1.0,
              rate_limit_headers={"x-ratelimit-remaining-requests": "0"})
        for i in range(5)
    ]  # fmt: skip
    make_cell(
        sweep,
        "reference",
        "scripted-throttled",
        "polyglot/go-http-handler-fix",
        calls=throttled,
        stdout="--- FAIL: TestGreet_MissingNameReturns400\n    got 200 want 400",
        test_exit=1,
        infra="rate_limit",
    )
    make_cell(
        sweep,
        "reference",
        "scripted-cheat",
        "polyglot/go-http-handler-fix",
        calls=ok_calls[:1],
        stdout=f"agent says {XSS}",
        changed=[f"evil{XSS}.go"],
    )
    passing = sweep / "reference" / "scripted" / "polyglot" / "go-http-handler-fix"
    write_transcript(passing, "fix the handler", ["Let me look.", "Fixed."])
    write_transcript(
        sweep / "reference" / "scripted-cheat" / "polyglot" / "go-http-handler-fix",
        f"task {XSS}",
        [f"reply {XSS}"],
        tool=(f"bash{XSS}", f'{{"cmd": "{XSS}"}}'),
    )
    return sweep


def write_transcript(
    cell_dir: Path, prompt: str, replies: list[str], tool: tuple[str, str] | None = None
) -> None:
    """A wire transcript as the proxy keeps it: one call per reply, each resending the
    history with the previous reply and a tool result appended."""
    writer = TranscriptWriter(cell_dir)
    history: list[dict] = [{"role": "system", "content": "You fix bugs."},
                           {"role": "user", "content": prompt}]  # fmt: skip
    for seq, text in enumerate(replies, start=1):
        message: dict = {"role": "assistant", "content": text}
        if tool:
            message["tool_calls"] = [
                {
                    "id": f"t{seq}",
                    "type": "function",
                    "function": {"name": tool[0], "arguments": tool[1]},
                }
            ]
        body = {"choices": [{"message": message, "finish_reason": "stop"}]}
        writer.write(
            CapturedCall(
                seq=seq, request_hash=f"sha256:{seq:064x}", api="chat", stream=False,
                body={"model": "scripted", "messages": list(history)}, status=200,
                content_type="application/json", response=json.dumps(body).encode(),
            )
        )  # fmt: skip
        history += [message, {"role": "tool", "tool_call_id": f"t{seq}", "content": f"out {seq}"}]
