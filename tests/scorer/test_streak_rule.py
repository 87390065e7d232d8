"""The infra-streak rule over synthetic timelines: one test per bullet of the rule.

Times are seconds from T0 (the agent's start); `agent(...)` gives the run its window,
budget and client timeout as the runner records them.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from scorer_evidence import T0, call, page_cell, passing_cell

from scorer import score_cell
from scorer.evidence import AgentFacts
from scorer.evidence import TestFacts as RunFacts


def agent(end_s: float, budget_s: float = 60, timed_out: bool = False, **kw) -> AgentFacts:
    base = {
        "exit_code": None if timed_out else 1,
        "timed_out": timed_out,
        "started_at": T0,
        "ended_at": T0 + timedelta(seconds=end_s),
        "budget_s": budget_s,
        "client_timeout_s": 30,
    }
    return AgentFacts(**{**base, **kw})


def ok(seq: int, at: float, ms: float = 200) -> object:
    return call(seq, at, ms, "ok")


def judge(calls, ag: AgentFacts, passed: bool = False):
    cell = passing_cell(calls=calls, agent=ag) if passed else page_cell(calls=calls, agent=ag)
    return score_cell(cell).verdict


def three_ok() -> list:
    return [ok(1, 0), ok(2, 1), ok(3, 2)]


@pytest.mark.parametrize(
    "failure, reason, words",
    [
        (dict(outcome="rate_limited", retry_after_s=1), "rate_limit", "Provider rate limit"),
        (dict(outcome="upstream_error", status_code=503), "provider_error", "HTTP 503"),
        (  # a credit-based gateway whose account ran dry mid-run
            dict(outcome="auth_error", status_code=402),
            "auth",
            "Provider refused the account: out of credit (HTTP 402) from call 4 on",
        ),
        (dict(outcome="upstream_error", status_code=408), "provider_error", "HTTP 408"),
        (  # quotas that bite mid-stream: the provider's error event inside a 200
            dict(
                outcome="rate_limited",
                status_code=200,
                upstream_status=200,
                error="upstream reported in its stream: Rate limit reached for gpt-4o",
            ),
            "rate_limit",
            "Provider rate limit (reported inside its answer)",
        ),
        (
            dict(
                outcome="upstream_error",
                status_code=200,
                upstream_status=200,
                error="upstream reported in its stream: Overloaded",
            ),
            "provider_error",
            "Provider reported an error inside its answer (Overloaded)",
        ),
        (dict(outcome="auth_error", status_code=401), "auth", "refused the credentials"),
        (  # Anthropic's empty account: a 400, not a 402
            dict(
                outcome="auth_error",
                status_code=400,
                upstream_status=400,
                error="Your credit balance is too low to access the Anthropic API.",
            ),
            "auth",
            "Provider refused the account: out of credit (HTTP 400)",
        ),
        (  # a gateway's credit ran out mid-stream: its error event inside the 200
            dict(
                outcome="auth_error",
                status_code=200,
                upstream_status=200,
                error="upstream reported in its stream: Insufficient credits",
            ),
            "auth",
            "Provider refused the account: out of credit (reported inside its answer)",
        ),
        (dict(outcome="timeout", status_code=504), "provider_error", "upstream timeout"),
        (
            dict(
                outcome="connection_error", status_code=502, error="upstream unreachable: refused"
            ),
            "provider_error",
            "Provider unreachable (connection failed",
        ),
        (
            dict(outcome="connection_error", status_code=502, upstream_status=200),
            "provider_error",
            "broke off mid-body",
        ),
        (
            dict(outcome="upstream_malformed", status_code=502, upstream_status=200),
            "provider_error",
            "not the API's JSON",
        ),
        (
            dict(
                outcome="upstream_malformed",
                status_code=200,
                error="upstream stream ended with no answer in it (no output, finish reason or usage)",
            ),
            "provider_error",
            "Provider answered 200 with nothing in it",
        ),
        (
            dict(
                outcome="upstream_malformed",
                status_code=502,
                error="upstream http://h/v1/x answered with something that is not HTTP: Bad status line",
            ),
            "provider_error",
            "Provider answered with something that is not HTTP",
        ),
    ],
)
def test_three_ok_then_failures_until_the_agent_gave_up_is_infra(failure, reason, words):
    calls = three_ok() + [call(4 + i, 3 + i, 100, **failure) for i in range(4)]
    v = judge(calls, agent(end_s=8))
    assert (v.verdict, v.reason) == (f"infra:{reason}", reason)
    assert words in v.sentence and "after 3 completed call(s)" in v.sentence
    assert "HTTP 200" not in v.sentence and "HTTP 502" not in v.sentence
    assert "before doing any work" not in v.sentence
    assert ("Add credit" in v.sentence) == ("out of credit" in words)  # the fix that helps
    assert v.evidence["streak"]["first_seq"] == 4 and v.evidence["streak"]["ended_by"] == (
        "agent_exit"
    )


def test_agent_exiting_0_after_every_call_failed_is_infra():
    """aider exits 0 when every call failed: any exit code counts as giving up."""
    calls = [call(i, i, 50, "upstream_error", status_code=500) for i in range(1, 4)]
    v = judge(calls, agent(end_s=4, exit_code=0))
    assert v.verdict == "infra:provider_error" and "before any model call succeeded" in v.sentence


def test_timed_out_honouring_retry_after_over_most_of_the_budget_is_infra():
    """3 ok, then 429 with Retry-After 8 until the cell timeout (~90% throttled)."""
    calls = three_ok() + [
        call(4 + i, 3 + 8.2 * i, 100, "rate_limited", retry_after_s=8) for i in range(3)
    ]
    v = judge(calls, agent(end_s=30, budget_s=30, timed_out=True))
    assert v.verdict == "infra:rate_limit"
    assert v.evidence["streak"]["ended_by"] == "timeout"
    assert "until the 30 s budget ran out" in v.sentence


def test_timed_out_with_a_short_final_streak_is_capability_and_says_so():
    calls = [ok(i, i * 2) for i in range(1, 12)] + [call(12, 26, 100, "rate_limited")]
    v = judge(calls, agent(end_s=30, budget_s=30, timed_out=True))
    assert v.verdict == "capability"
    assert "under half of the 28 s it had after its first model call" in v.sentence


def _worn_down(retry_after_s: float, budget_s: float = 30) -> list:
    """A quota that bites again and again: an ok, then a 429 whose Retry-After the agent
    honours, then the retry answered, then the next 429: no final streak ever forms."""
    calls, seq, t = [], 1, 0.0
    while t + retry_after_s + 0.2 < budget_s:
        calls.append(ok(seq, t))
        calls.append(call(seq + 1, t + 0.2, 100, "rate_limited", retry_after_s=retry_after_s))
        seq, t = seq + 2, t + 0.3 + retry_after_s
    calls.append(ok(seq, t))
    return calls


def test_timed_out_after_throttles_it_recovered_from_took_most_of_the_budget_is_infra():
    """Each 429 honoured and its retry answered, then the next: the provider took ~90% of
    the run and the budget ran out. No final streak says so; the time lost to it does."""
    calls = _worn_down(retry_after_s=3)
    v = judge(calls, agent(end_s=30, budget_s=30, timed_out=True))
    assert v.verdict == "infra:rate_limit"
    assert "streak" not in v.evidence
    lost = v.evidence["lost_to_provider"]
    assert lost["types"] == {"rate_limit": 9} and lost["work_budget_s"] == 30
    assert lost["lost_ms"] == 9 * 3_100  # each from its 429 to the next ok
    assert v.sentence.startswith("Provider rate limits took 27.9 s of the 30 s")
    assert "9 failed attempt(s) between 10 completed call(s)" in v.sentence


def test_throttles_recovered_from_that_took_under_half_the_budget_stay_capability():
    calls = _worn_down(retry_after_s=3)[:5]  # two throttles, 6.6 s of 30
    calls += [ok(6 + i, 7 + 2 * i) for i in range(11)]
    v = judge(calls, agent(end_s=30, budget_s=30, timed_out=True))
    assert v.verdict == "capability" and "lost_to_provider" not in v.evidence
    assert "failed 2 time(s) and recovered" in v.sentence


def test_throttles_recovered_from_then_an_exit_of_its_own_stay_capability():
    """The provider did not cut the run short: the agent stopped on its own."""
    v = judge(_worn_down(retry_after_s=3), agent(end_s=30, budget_s=30))
    assert v.verdict == "capability"


def test_recovered_failures_and_a_short_final_streak_add_up():
    """5xx the provider recovered from, then a final streak under half the budget: each
    alone is under half, together they took most of the run."""
    calls = [ok(1, 0), call(2, 0.5, 100, "upstream_error", status_code=503), ok(3, 9)]
    calls += [ok(4, 9.5), call(5, 10, 100, "upstream_error", status_code=503), ok(6, 19)]
    calls += [call(7, 20, 100, "upstream_error", status_code=502)]
    v = judge(calls, agent(end_s=30, budget_s=30, timed_out=True))
    assert v.verdict == "infra:provider_error"
    assert v.evidence["lost_to_provider"]["attempts"] == 3
    assert v.sentence.startswith("Provider failures took 27.5 s of the 30 s")


def test_timed_out_while_the_governor_held_most_calls_for_the_quota_is_infra():
    """Every call answered, but each held ~2.5 s by the proxy's governor for a quota the
    sweep shares: the quota, not the agent, ran out the budget."""
    calls = [ok(i + 1, 3 * i, 2_900).model_copy(update={"queued_ms": 2_500.0}) for i in range(10)]
    v = judge(calls, agent(end_s=30, budget_s=30, timed_out=True))
    assert v.verdict == "infra:rate_limit"
    lost = v.evidence["lost_to_provider"]
    assert (lost["attempts"], lost["held_by_governor"], lost["lost_ms"]) == (0, 10, 25_000.0)
    assert "10 call(s) the proxy held for the quota" in v.sentence


def test_short_governor_holds_stay_capability():
    calls = [ok(i + 1, 3 * i, 2_900).model_copy(update={"queued_ms": 50.0}) for i in range(10)]
    assert judge(calls, agent(end_s=30, budget_s=30, timed_out=True)).verdict == "capability"


def test_budget_ran_out_while_a_streak_call_was_in_flight_is_infra():
    calls = [*three_ok(), call(4, 3, 26900, "client_disconnected", error="client went away")]
    v = judge(calls, agent(end_s=30, budget_s=30, timed_out=True))
    assert v.verdict == "infra:provider_error"
    assert v.evidence["streak"]["ended_by"] == "in_flight"
    assert "still waiting" in v.sentence and "In doubt" in v.sentence


def test_a_retry_cut_off_by_the_timeout_does_not_break_the_streak():
    """ok, ok, a hang the proxy timed out (504), then the agent's retry, in flight when the
    budget ran out: the retry neither breaks nor starts the streak, it is in flight."""
    calls = [ok(1, 0), ok(2, 1, 3_000), call(3, 5, 12_900, "timeout", status_code=504)]
    calls.append(call(4, 18.2, 1_800, "client_disconnected"))
    v = judge(calls, agent(end_s=20, budget_s=20, timed_out=True))
    assert v.verdict == "infra:provider_error"
    assert v.evidence["streak"]["ended_by"] == "in_flight"


def test_a_streak_is_measured_against_the_budget_left_after_the_first_call():
    """A slow start-up (76 s of 120 before the first call) is the agent's: a 401 at 77 s
    and nothing more until the timeout covers most of the time it had for model work."""
    calls = [ok(1, 76), call(2, 77, 50, "auth_error", status_code=401)]
    v = judge(calls, agent(end_s=120, budget_s=120, timed_out=True))
    assert v.verdict == "infra:auth" and v.evidence["streak"]["ended_by"] == "timeout"


def test_healthy_but_slow_provider_running_out_the_budget_is_capability():
    calls = [ok(i, (i - 1) * 5, 4_900) for i in range(1, 6)]
    calls.append(call(6, 25, 5_000, "client_disconnected"))
    v = judge(calls, agent(end_s=30, budget_s=30, timed_out=True))
    assert v.verdict == "capability"


def test_a_call_open_as_long_as_the_client_timeout_is_a_provider_failure():
    calls = [ok(1, 0), call(2, 1, 29_000, "client_disconnected"), ok(3, 31)]
    calls.append(call(4, 32, 29_500, "client_disconnected"))
    v = judge(calls, agent(end_s=62, budget_s=600))
    assert v.verdict == "infra:provider_error"


def test_a_client_disconnect_after_a_short_wait_is_the_agent_leaving():
    calls = [*three_ok(), call(4, 3, 300, "client_disconnected")]
    assert judge(calls, agent(end_s=4)).verdict == "capability"


def test_streak_followed_by_ok_is_capability_with_the_time_lost():
    calls = [ok(1, 0), call(2, 1, 100, "rate_limited"), call(3, 3, 100, "upstream_error"), ok(4, 7)]
    v = judge(calls, agent(end_s=8))
    assert v.verdict == "capability"
    assert "failed 2 time(s) and recovered; 6.0 s were lost" in v.sentence
    assert v.evidence["recovered_failures"] == {"attempts": 2, "time_lost_ms": 6000.0}


def test_a_parallel_ok_started_before_the_streak_does_not_break_it():
    calls = [ok(1, 0), call(2, 1, 9_000, "ok"), call(3, 2, 100, "rate_limited")]
    calls += [call(4, 4, 100, "rate_limited"), call(5, 8, 100, "rate_limited")]
    assert judge(calls, agent(end_s=10)).verdict == "infra:rate_limit"


def test_an_ok_started_after_the_streak_began_breaks_it():
    calls = [ok(1, 0), call(2, 1, 100, "rate_limited"), call(3, 1.5, 3_000, "ok")]
    calls.append(call(4, 5, 100, "client_error", status_code=400))
    assert judge(calls, agent(end_s=6)).verdict == "capability"


def test_auth_wins_over_the_last_failure_and_every_type_is_listed():
    calls = [
        *three_ok(),
        call(4, 3, 50, "rate_limited"),
        call(5, 4, 50, "auth_error", status_code=403),
        call(6, 5, 50, "upstream_error", status_code=500),
    ]
    v = judge(calls, agent(end_s=6))
    assert v.verdict == "infra:auth" and "HTTP 403" in v.sentence
    assert v.evidence["streak"]["types"] == {"auth": 1, "provider_error": 1, "rate_limit": 1}


def test_reason_is_the_type_of_the_last_failure():
    calls = [*three_ok(), call(4, 3, 50, "upstream_error"), call(5, 4, 50, "rate_limited")]
    v = judge(calls, agent(end_s=5))
    assert v.verdict == "infra:rate_limit"
    assert "(1 provider error, 1 rate limit)" in v.sentence


def test_model_not_found_is_config():
    miss = call(1, 0, 20, "client_error", status_code=404, error="The model `x` does not exist")
    v = judge([miss], agent(end_s=1))
    assert v.verdict == "infra:config" and "model_not_found" in v.sentence
    assert "a rerun fails the same way" in v.sentence


def test_a_plain_404_is_the_agents():
    v = judge([call(1, 0, 20, "client_error", status_code=404, error="no route")], agent(end_s=1))
    assert v.verdict == "capability"


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (404, "The model `gpt-9` does not exist or you do not have access to it."),  # OpenAI
        (404, "model: claude-9-opus"),  # Anthropic's not_found_error
        (404, "models/gemini-9 is not found for API version v1beta"),  # Gemini
        (400, "Invalid model: mistral-huge-9"),  # Mistral answers 400
        (404, "model 'llama9' not found, try pulling it first"),  # Ollama
    ],
)
def test_each_providers_no_such_model_is_the_set_up(status, error):
    """A wrong model id, said each provider's way: the set-up (config), never capability,
    and the sentence keeps the provider's status."""
    wrong = dict(status_code=status, upstream_status=status, error=error)
    v = judge([call(1, 0, 20, "client_error", **wrong)], agent(end_s=1))
    assert (v.verdict, v.reason) == ("infra:config", "config")
    assert f"does not know this model (HTTP {status}" in v.sentence
    other = judge([call(1, 0, 20, "client_error", **dict(wrong, error="bad temperature"))],
                  agent(end_s=1))  # fmt: skip
    assert other.verdict == ("infra:config" if status == 404 else "capability")


def test_a_provider_404_to_an_api_path_at_the_first_call_is_the_endpoint_set_wrong():
    """A base URL without /v1 (or another provider's path): the provider answers 404 to
    /v1/chat/completions itself, every cell would read capability. It is the set-up."""
    missing = dict(
        status_code=404, upstream_status=404, error="Invalid URL (POST /chat/completions)"
    )
    v = judge([call(1, 0, 20, "client_error", **missing)], agent(end_s=1))
    assert (v.verdict, v.reason) == ("infra:config", "config")
    assert "The endpoint does not serve /v1/chat/completions" in v.sentence
    assert "the endpoint URL" in v.sentence
    after_work = judge([*three_ok(), call(4, 3, 20, "client_error", **missing)], agent(end_s=4))
    assert after_work.verdict == "capability"  # the same endpoint answered before
    made_up = dict(missing, api="other", path="/v1/chat/completion")  # the agent's own path
    assert judge([call(1, 0, 20, "client_error", **made_up)], agent(end_s=1)).verdict == (
        "capability"
    )


def test_a_403_for_flagged_content_is_the_requests_not_a_refused_key():
    """OpenRouter answers 403 when moderation flags the input: the proxy records the
    request's refusal (`client_error`), and the verdict does not send the user to fix a key."""
    flagged = dict(status_code=403, upstream_status=403, error="your input was flagged")
    v = judge([*three_ok(), call(4, 3, 20, "client_error", **flagged)], agent(end_s=4))
    assert v.verdict == "capability"
    assert "The provider's moderation refused its last request" in v.sentence
    revoked = dict(status_code=403, upstream_status=403)  # an older record's 403: by status
    v = judge([*three_ok(), call(4, 3, 20, "client_error", **revoked)], agent(end_s=4))
    assert v.verdict == "infra:auth"
    keyed = judge([*three_ok(), call(4, 3, 20, "auth_error", **revoked)], agent(end_s=4))
    assert keyed.verdict == "infra:auth"


def test_context_length_after_real_work_is_capability():
    calls = [*three_ok(), call(4, 3, 20, "context_length", status_code=400)]
    v = judge(calls, agent(end_s=4))
    assert v.verdict == "capability" and "outgrew the model's context window" in v.sentence


def test_a_pass_with_a_completed_call_stays_capability_even_after_a_streak():
    calls = [ok(1, 0), call(2, 1, 50, "rate_limited"), call(3, 2, 50, "rate_limited")]
    v = judge(calls, agent(end_s=3, exit_code=1), passed=True)
    assert v.verdict == "capability" and v.sentence.startswith(
        "Capability: the hidden tests passed"
    )


def test_exit_137_not_timed_out_not_oom_is_container():
    v = judge(three_ok(), agent(end_s=5, exit_code=137))
    assert v.verdict == "infra:container" and "killed from outside the harness" in v.sentence


def test_oom_kill_within_the_cells_limit_is_the_agents():
    v = judge(three_ok(), agent(end_s=5, exit_code=137, oom_killed=True, mem_limit="4g"))
    assert v.verdict == "capability" and "memory limit (4g)" in v.sentence


def test_timed_out_exit_137_is_not_an_external_kill():
    v = judge(three_ok(), agent(end_s=60, exit_code=137, timed_out=True))
    assert v.verdict == "capability"


def test_zero_calls_and_connection_refused_in_the_log_is_container():
    log = "\n".join(f"APIConnectionError: Connection refused (attempt {i})" for i in range(5))
    v = judge([], agent(end_s=5, stdout_tail=log))
    assert v.verdict == "infra:container"
    assert v.evidence["agent_connection_errors"]["count"] == 5
    assert "could not reach the proxy" in v.sentence


def test_zero_calls_without_connection_errors_is_capability():
    v = judge([], agent(end_s=5, stdout_tail="usage: agent [-h]"))
    assert v.verdict == "capability"


def test_old_records_without_agent_times_use_the_wall_clock():
    """`cab score` re-judges old cells: no started_at/ended_at/budget, timed out."""
    calls = three_ok() + [call(4 + i, 3 + 9 * i, 100, "rate_limited") for i in range(3)]
    cell = page_cell(calls=calls, agent=AgentFacts(exit_code=None, timed_out=True))
    cell.timing.wall_clock_ms = 30_000
    assert score_cell(cell).verdict.verdict == "infra:rate_limit"


def test_tests_timing_out_does_not_make_a_streak_infra_or_not():
    calls = [call(1, 0, 50, "rate_limited")]
    cell = page_cell(calls=calls, agent=agent(end_s=1), tests=RunFacts(ran=True, timed_out=True))
    assert score_cell(cell).verdict.verdict == "infra:rate_limit"


def test_a_retry_in_flight_at_the_timeout_keeps_the_streaks_own_reason():
    """429s while honouring Retry-After, then a retry still open when the budget ran out:
    the reason is the answers' (rate_limit), the open retry only says it was in flight."""
    calls = [ok(1, 0), call(2, 1, 5, "rate_limited"), call(3, 4, 5, "rate_limited")]
    calls.append(call(4, 7, 6_900, "client_disconnected"))
    v = judge(calls, agent(end_s=14, budget_s=14, timed_out=True))
    assert v.verdict == "infra:rate_limit"
    assert v.evidence["streak"]["ended_by"] == "in_flight"


def test_attempts_the_proxy_absorbed_are_evidence_not_answers():
    """Absorb mode: the proxy retried two 429s itself and the agent got an ok; then the
    agent hit a bad request of its own. The absorbed 429s do not make a streak."""
    calls = [ok(1, 0), call(2, 1, 50, "rate_limited", absorbed=True)]
    calls += [call(3, 2, 50, "rate_limited", absorbed=True), ok(4, 3)]
    calls.append(call(5, 4, 20, "client_error", status_code=400))
    assert judge(calls, agent(end_s=5)).verdict == "capability"
    only_absorbed = [ok(1, 0), call(2, 1, 50, "rate_limited", absorbed=True)]
    assert judge(only_absorbed, agent(end_s=2)).verdict == "capability"


def test_timed_out_while_the_governor_held_the_call_is_rate_limit():
    calls = [ok(1, 0), call(2, 1, 28_000, "client_disconnected", queued_ms=27_500)]
    v = judge(calls, agent(end_s=29, budget_s=29, timed_out=True))
    assert v.verdict == "infra:rate_limit" and v.evidence["streak"]["ended_by"] == "in_flight"
