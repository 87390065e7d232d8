"""`cab diagnose`'s story and advice never contradict the verdict, and fit the case."""

from __future__ import annotations

from datetime import timedelta

from scorer_evidence import T0, call, page_cell

from scorer import score_cell
from scorer.diagnosis import Context, diagnose
from scorer.evidence import AgentFacts

HINT = "pass --retries N to the reference agent"


def agent(end_s: float, budget_s: float = 60, timed_out: bool = False) -> AgentFacts:
    return AgentFacts(
        exit_code=None if timed_out else 1,
        timed_out=timed_out,
        started_at=T0,
        ended_at=T0 + timedelta(seconds=end_s),
        budget_s=budget_s,
        client_timeout_s=300,
    )


def run(calls, ag: AgentFacts, concurrency: int | None = None):
    ev = page_cell(calls=calls, agent=ag)
    verdict = score_cell(ev).verdict
    ctx = Context(agent=ag, tui="reference", retry_hint=HINT, sweep_concurrency=concurrency)
    return diagnose(ev.calls, verdict, ctx)


def test_gave_up_mid_run_is_told_with_the_verdict_and_the_clis_retry_knob():
    calls = [call(1, 0), call(2, 1)] + [call(3 + i, 2 + i, 50, "rate_limited") for i in range(3)]
    d = run(calls, agent(end_s=5.5))
    assert d.verdict is not None and d.verdict.verdict == "infra:rate_limit"
    assert d.gave_up is not None and d.gave_up.failing_attempts == 3
    assert d.story and "gave up at call 5" in d.story and "infra:rate_limit" in d.story
    assert any("Raise the agent's retry budget" in a and HINT in a for a in d.advice)
    assert d.time_lost_ms == 3500.0  # the last 429 counts to the agent's end: 4.0 -> 5.5 s


def test_timed_out_honouring_retry_after_is_not_giving_up():
    calls = [call(1, 0)] + [
        call(2 + i, 1 + 8.1 * i, 100, "rate_limited", retry_after_s=8) for i in range(3)
    ]
    d = run(calls, agent(end_s=30, budget_s=30, timed_out=True))
    assert d.verdict is not None and d.verdict.verdict == "infra:rate_limit"
    assert d.timed_out and d.gave_up is None
    assert d.story == (
        "The cell's budget ran out while the agent honoured Retry-After "
        "(29.0 s of its 30 s budget in the final streak)."
    )
    assert d.time_lost_ms == 29000.0  # the last wait, up to the agent's end, is counted
    assert any(a.startswith("Raise timeout_s") for a in d.advice)
    assert not any("retry budget" in a for a in d.advice)


def test_worn_down_by_throttles_it_recovered_from_is_told_as_the_providers_doing():
    """No final streak, but the 429s honoured one by one took most of the budget: the
    story says the provider ran out the budget, not "the provider did not end the run"."""
    calls = []
    for i in range(9):
        calls.append(call(1 + 2 * i, 3.1 * i))
        calls.append(call(2 + 2 * i, 3.1 * i + 0.2, 100, "rate_limited", retry_after_s=3))
    calls.append(call(19, 27.9))
    d = run(calls, agent(end_s=30, budget_s=30, timed_out=True))
    assert d.verdict is not None and d.verdict.verdict == "infra:rate_limit"
    assert d.story == (
        "The cell's budget ran out after the provider's failures, each recovered from, "
        "took 26.1 s of its 30 s budget."
    )
    assert d.gave_up is None and any(a.startswith("Raise timeout_s") for a in d.advice)


def test_a_capability_cell_never_reads_as_given_up():
    calls = [call(1, 0), call(2, 1, 50, "rate_limited"), call(3, 3), call(4, 4, 50, "client_error")]
    d = run(calls, agent(end_s=5))
    assert d.verdict is not None and d.verdict.verdict == "capability"
    assert d.gave_up is None and "provider did not end it" in (d.story or "")


def test_auth_and_config_get_one_setup_fix():
    auth = run([call(1, 0), call(2, 1, 20, "auth_error", status_code=401)], agent(end_s=2))
    assert auth.advice == [auth.advice[0]] and "key_env" in auth.advice[0]
    broke = run([call(1, 0), call(2, 1, 20, "auth_error", status_code=402)], agent(end_s=2))
    assert len(broke.advice) == 1 and "out of credit (HTTP 402)" in broke.advice[0]
    dry = call(2, 1, 20, "auth_error", status_code=200, error="in its stream: Insufficient credits")
    mid = run([call(1, 0), dry], agent(end_s=2))
    assert len(mid.advice) == 1 and "out of credit (said inside its answer)" in mid.advice[0]
    empty = call(2, 1, 20, "auth_error", status_code=429, error="check your plan and billing")
    broke_429 = run([call(1, 0), empty], agent(end_s=2))
    assert len(broke_429.advice) == 1 and "out of credit (HTTP 429)" in broke_429.advice[0]
    miss = call(1, 0, 20, "client_error", status_code=404, error="model `x` does not exist")
    cfg = run([miss], agent(end_s=1))
    assert len(cfg.advice) == 1 and "model_id in config/models.toml" in cfg.advice[0]
    wrong = call(1, 0, 20, "client_error", status_code=404, upstream_status=404, error="Not Found")
    base = run([wrong], agent(end_s=1))
    assert len(base.advice) == 1 and "fix endpoint in config/models.toml" in base.advice[0]


def test_sweep_concurrency_from_the_providers_limit_and_the_cells_rate():
    heads = {"x-ratelimit-limit-requests": "60"}
    calls = [call(i, i * 4.0, 100, rate_limit_headers=heads) for i in range(1, 10)]
    calls += [
        call(10 + i, 40 + 4 * i, 100, "rate_limited", rate_limit_headers=heads) for i in range(3)
    ]
    d = run(calls, agent(end_s=49), concurrency=8)
    line = next(a for a in d.advice if "sweep's concurrency" in a)
    # 12 calls over 44.1 s: 16/min a cell; 60/min allowed -> 3 cells
    assert "from 8 to 3" in line and "allows 60 requests/min" in line
