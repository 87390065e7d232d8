"""Hand-built Evidence for the scorer tests, and the reference page's own cell."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from proxy.records import ModelCall
from scorer.evidence import AgentFacts, Evidence, TaskFacts, TimingFacts
from scorer.evidence import TestFacts as RunFacts

T0 = datetime(2026, 5, 31, 20, 10, 40, tzinfo=UTC)

#: The page's test output tail (plain `go test`).
PAGE_STDOUT = (
    "--- FAIL: TestGreet_MissingNameReturns400 (0.00s)\n"
    "    handler_test.go:34: status: got 200 want 400\n"
    "--- FAIL: TestGreet_EmptyNameReturns400 (0.00s)\n"
    "    handler_test.go:44: status: got 200 want 400\n"
    "FAIL\nFAIL\tcodingagentbench/gohttphandler\t0.003s\nFAIL\n"
)


def call(seq: int, at_s: float, ms: float = 100.0, outcome: str = "ok", **kw) -> ModelCall:
    """One attempt starting at T0 + at_s seconds and lasting ms."""
    status = {"ok": 200, "rate_limited": 429, "auth_error": 401, "upstream_error": 502}
    start = T0 + timedelta(seconds=at_s)
    return ModelCall(
        seq=seq,
        started_at=start,
        ended_at=start + timedelta(milliseconds=ms),
        outcome=outcome,
        status_code=kw.pop("status_code", status.get(outcome)),
        latency_ms=ms,
        **kw,
    )


def task(**kw) -> TaskFacts:
    base = {"task_id": "polyglot/go-http-handler-fix", "category": "polyglot"}
    return TaskFacts(**{**base, **kw})


def page_calls() -> list[ModelCall]:
    """Five attempts, all answered 429, backing off 1, 2, 4, 8 s; none completed."""
    calls, at = [], 0.0
    for i in range(5):
        calls.append(call(i + 1, at, 150, "rate_limited", retry_after_s=2.0**i))
        at += 0.15 + 2.0**i
    return calls


def page_cell(**overrides) -> Evidence:
    """The reference page's cell as facts."""
    facts = {
        "task": task(expected_changes=["handler.go"], hidden_paths=["handler_test.go"]),
        "agent": AgentFacts(exit_code=1, stdout_tail="RateLimitError: retries exhausted\n"),
        "tests": RunFacts(ran=True, exit_code=1, stdout=PAGE_STDOUT),
        "timing": TimingFacts(wall_clock_ms=212062.092, container_active_ms=212061.084),
        "calls": page_calls(),
    }
    return Evidence(**{**facts, **overrides})


def passing_cell(**overrides) -> Evidence:
    """A clean success: one ok call, tests passed (exit code only, no report)."""
    facts = {
        "task": task(expected_changes=["handler.go"]),
        "agent": AgentFacts(exit_code=0),
        "tests": RunFacts(ran=True, exit_code=0, stdout="ok\n"),
        "timing": TimingFacts(wall_clock_ms=30000.0, container_active_ms=29000.0),
        "calls": [call(1, 0, 2000, prompt_tokens=900, completion_tokens=100, total_tokens=1000)],
    }
    return Evidence(**{**facts, **overrides})
