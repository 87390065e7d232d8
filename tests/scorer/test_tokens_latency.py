"""tokens and latency over hand-built call records."""

from __future__ import annotations

from scorer_evidence import call, page_cell, passing_cell

from scorer import latency, tokens


def test_tokens_sum_calls_and_divide_by_pass():
    calls = [
        call(1, 0, 500, prompt_tokens=100, completion_tokens=20, total_tokens=120),
        call(2, 1, 500, prompt_tokens=200, completion_tokens=30, total_tokens=230),
        call(3, 2, 50, "rate_limited"),
        call(4, 3, 50, "upstream_error"),
    ]
    t = tokens.score(passing_cell(calls=calls))
    assert (t.prompt_tokens, t.completion_tokens, t.total_tokens) == (300, 50, 350)
    assert (t.model_calls, t.throttled_attempts, t.failed_attempts, t.attempts) == (2, 1, 1, 4)
    assert (t.tokens_per_correct_task, t.pass_used_for_division) == (350, 1)
    assert t.estimated is False


def test_failed_cell_divides_by_nothing():
    t = tokens.score(page_cell(calls=[call(1, 0, prompt_tokens=5, completion_tokens=5)]))
    assert t.total_tokens == 10  # missing total_tokens = prompt + completion
    assert (t.tokens_per_correct_task, t.pass_used_for_division) == (0, 0)


def test_estimated_or_missing_usage_is_flagged():
    est = [call(1, 0, prompt_tokens=10, completion_tokens=1, tokens_source="estimated")]
    assert tokens.score(passing_cell(calls=est)).estimated is True
    bare = tokens.score(passing_cell(calls=[call(1, 0)]))
    assert bare.estimated is True and bare.calls_without_usage == 1


def test_parallel_calls_are_not_double_counted():
    calls = [
        call(1, 0.0, 1000),
        call(2, 0.5, 1000),
        call(3, 5.0, 200),
        call(4, 6, 300, "rate_limited"),
    ]
    lat = latency.score(passing_cell(calls=calls))
    assert lat.model_call_ms == 1700  # [0, 1.5 s] ∪ [5, 5.2 s]; the 429 is not model work
    assert lat.peak_concurrency == 2
    assert lat.attempt_ms == 2000


def test_throttled_wait_runs_from_each_429_to_the_next_attempt():
    calls = [
        call(1, 0.0, 100, "ok"),
        call(2, 1.0, 100, "rate_limited"),  # next attempt at 3.0 -> [1.0, 3.0]
        call(3, 3.0, 100, "rate_limited"),  # next attempt at 7.0 -> [3.0, 7.0]
        call(4, 7.0, 100, "ok"),
        call(5, 9.0, 100, "rate_limited"),  # nothing after: its own 100 ms
    ]
    lat = latency.score(passing_cell(calls=calls))
    assert lat.throttled_wait_ms == 6100
    assert lat.model_call_ms == 200


def test_wall_and_container_time_come_from_timing():
    lat = latency.score(page_cell())
    assert (lat.wall_clock_ms, lat.container_active_ms, lat.model_call_ms) == (
        212062.092,
        212061.084,
        0,
    )
    assert lat.throttled_wait_ms == 15750  # 1+2+4+8 s of back-off + 4 × 0.15 s + the last 0.15 s


def test_time_held_by_the_governor_is_not_model_time():
    calls = [
        call(1, 0.0, 1000, queued_ms=400.0, ttft_ms=500.0),  # held 0.4 s, worked 0.6 s
        call(2, 0.2, 1000, queued_ms=300.0, ttft_ms=450.0),  # held [0.2, 0.5] s
        call(3, 5.0, 200),
    ]
    lat = latency.score(passing_cell(calls=calls))
    assert lat.model_call_ms == 800 + 200  # [0.4, 1.0] ∪ [0.5, 1.2] ∪ [5, 5.2] s
    assert lat.queued_ms == 500  # [0, 0.4] ∪ [0.2, 0.5] s
    assert lat.ttft_ms_median == 150  # 100 and 150 after their holds; the third has none
    assert lat.charged_ms == lat.wall_clock_ms - 500
