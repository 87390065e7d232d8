"""The verdict never calls a capability failure infra (borderline cases)."""

from __future__ import annotations

import pytest
from scorer_evidence import call, page_cell, passing_cell

from scorer import score_cell
from scorer.evidence import AgentFacts
from scorer.evidence import TestFacts as RunFacts


def verdict(ev):
    return score_cell(ev).verdict


def test_no_calls_and_exit_1_is_capability():
    v = verdict(page_cell(calls=[], agent=AgentFacts(exit_code=1)))
    assert (v.verdict, v.infra, v.reason) == ("capability", False, None)
    assert "no model calls" in v.sentence


def test_one_ok_call_then_429s_until_the_agent_gave_up_is_rate_limit():
    calls = [call(1, 0, 500), call(2, 1, 100, "rate_limited"), call(3, 3, 100, "rate_limited")]
    v = verdict(page_cell(calls=calls))
    assert v.verdict == "infra:rate_limit"
    assert "from call 2 on, after 1 completed call(s)" in v.sentence
    assert "before doing any work" not in v.sentence
    assert v.evidence["throttled_attempts"] == 2 and v.evidence["streak"]["attempts"] == 2


def test_429s_then_an_ok_then_giving_up_on_a_bad_request_is_capability():
    calls = [
        call(1, 0, 500),
        call(2, 1, 100, "rate_limited"),
        call(3, 3, 100, "rate_limited"),
        call(4, 5, 100),
        call(5, 6, 100, "client_error", status_code=422),
    ]
    v = verdict(page_cell(calls=calls))
    assert v.verdict == "capability"
    assert "failed 2 time(s) and recovered; 4.0 s were lost" in v.sentence


def test_401_on_first_call_is_auth():
    v = verdict(page_cell(calls=[call(1, 0, 30, "auth_error", error="invalid api key")]))
    assert (v.verdict, v.reason) == ("infra:auth", "auth")
    assert "HTTP 401" in v.sentence and "Infra, not capability" in v.sentence


def test_403_is_auth_even_between_429s():
    calls = [call(1, 0, 30, "rate_limited"), call(2, 2, 30, "client_error", status_code=403)]
    assert verdict(page_cell(calls=calls)).verdict == "infra:auth"


def test_tests_timed_out_is_capability():
    v = verdict(passing_cell(tests=RunFacts(ran=True, timed_out=True)))
    assert v.verdict == "capability"


def test_agent_timed_out_after_working_is_capability():
    v = verdict(page_cell(calls=[call(1, 0)], agent=AgentFacts(exit_code=None, timed_out=True)))
    assert v.verdict == "capability"


def test_all_throttled_is_rate_limit():
    assert verdict(page_cell()).verdict == "infra:rate_limit"


@pytest.mark.parametrize("outcome", ["upstream_error", "timeout", "connection_error"])
def test_provider_failure_with_no_success_is_provider_error(outcome):
    v = verdict(page_cell(calls=[call(1, 0, 50, outcome), call(2, 1, 50, outcome)]))
    assert (v.verdict, v.reason) == ("infra:provider_error", "provider_error")


def test_bad_requests_with_no_success_stay_capability():
    v = verdict(page_cell(calls=[call(1, 0, 5, "client_error", status_code=422)]))
    assert v.verdict == "capability"
    assert "none failed for infra reasons" in v.sentence


def test_context_length_on_the_very_first_call_is_config():
    v = verdict(page_cell(calls=[call(1, 0, 5, "context_length", status_code=400)]))
    assert v.verdict == "infra:config"


def test_container_failure_before_the_agent_ran():
    v = verdict(page_cell(calls=[], agent=AgentFacts(started=False, error="image not found: x")))
    assert (v.verdict, v.reason) == ("infra:container", "container")
    assert "image not found: x" in v.sentence


def test_harness_error_wins():
    v = verdict(passing_cell(harness_error="results store unwritable"))
    assert (
        v.verdict == "infra:harness" and "results store unwritable" in v.evidence["harness_error"]
    )


def test_passing_cell_is_capability_even_when_throttled_first():
    calls = [call(1, 0, 50, "rate_limited"), call(2, 2, 500)]
    v = verdict(passing_cell(calls=calls))
    assert v.verdict == "capability" and v.sentence.startswith(
        "Capability: the hidden tests passed."
    )


def test_passing_untouched_workspace_while_throttled_is_infra():
    """A refusal task's untouched workspace passes; an agent throttled before its first
    call never refused anything, so the pass says nothing of the model."""
    calls = [call(i, 2 * i, 2 * i + 1, "rate_limited") for i in range(1, 6)]
    v = verdict(passing_cell(calls=calls))
    assert v.verdict == "infra:rate_limit"
    assert v.evidence["tests_passed_without_a_model_call"] is True
