"""The governor's rules: token accounting with usage corrections, pacing, AIMD, learned
limits, and how long a call waited."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime

import pytest

from proxy import inbound
from proxy.governor import (
    Limits,
    LocalGovernor,
    Outcome,
    estimate_prompt_tokens,
    lane_name,
)
from proxy.governor_lane import BURST, HEADROOM, Bucket, Lane, parse_duration
from proxy.governor_send import retry_delay_s
from proxy.inbound import max_completion


def test_usage_corrects_the_token_charge_both_ways():
    lane = Lane()
    lane.configure(None, 10_000, None, 60.0, now=0.0)
    full = lane.tokens.level if lane.tokens else 0.0
    assert full == 10_000 * BURST
    lane.take(400)
    lane.correct(charged=400, actual=250)  # cheaper than estimated: refund 150
    assert lane.tokens is not None and lane.tokens.level == full - 250
    lane.take(100)
    lane.correct(charged=100, actual=300)  # dearer: charge the other 200
    assert lane.tokens.level == full - 250 - 300
    lane.take(100)
    lane.correct(charged=100, actual=None)  # refused, no usage: all back
    assert lane.tokens.level == full - 550


def test_a_refund_never_fills_the_bucket_past_its_capacity():
    """The call ran long enough for the bucket to refill to the top: the refund of its
    overestimate must not leave the governor believing in more than the provider holds."""
    lane = Lane()
    lane.configure(None, 6000, None, 60.0, now=0.0)
    lane.take(500)
    assert lane.wait_s(0, now=100.0) == 0.0  # refilled to the top meanwhile
    assert lane.tokens is not None and lane.tokens.level == lane.tokens.capacity
    lane.correct(charged=500, actual=100)
    assert lane.tokens.level == lane.tokens.capacity


def test_a_debt_makes_the_next_call_wait_for_the_refill():
    lane = Lane()
    lane.configure(None, 6000, None, 60.0, now=0.0)  # 95 tokens/s after headroom
    lane.take(600)
    lane.correct(600, 1200)  # 600 in debt
    rate = 6000 * HEADROOM / 60
    assert lane.wait_s(100, now=0.0) == pytest.approx((600 + 100) / rate)
    assert lane.wait_s(100, now=100.0) == 0.0


def test_requests_are_paced_at_the_limit_with_a_small_burst():
    b = Bucket.new(600, 60.0, now=0.0)  # 60 per window burst, 9.5/s
    for _ in range(60):
        assert b.wait_s(1) == 0
        b.take(1)
    assert b.wait_s(1) == pytest.approx(1 / (600 * HEADROOM / 60))


def test_429_halves_once_per_round_and_pauses_for_retry_after():
    lane = Lane()
    admitted = [lane.take(10) for _ in range(8)]
    lane.throttled(admitted[0], retry_after_s=2.0, now=10.0)
    assert lane.limit == 4 and lane.paused_until == 12.0
    lane.throttled(admitted[5], retry_after_s=500.0, now=10.0)  # same round: no second halving
    assert lane.limit == 4 and lane.paused_until == 70.0  # Retry-After capped at 60 s
    for _ in range(8):
        lane.release()
    later = lane.take(10)
    lane.throttled(later, None, now=11.0)
    assert lane.limit == 1  # min(4, 1 in flight + 1) / 2


def test_additive_increase_only_while_latency_holds():
    lane = Lane(limit=2.0)
    lane.succeeded(1.0)
    assert lane.limit == 2.5
    lane.succeeded(5.0)  # latency over twice the best: no increase
    assert lane.limit == 2.5
    lane.configure(None, None, 3, 60.0, now=0.0)
    for _ in range(10):
        lane.succeeded(1.0)
    assert lane.limit == 3  # never past max_concurrency


def test_limits_learned_from_headers_and_remaining_lowers_the_bucket():
    lane = Lane()
    headers = {
        "x-ratelimit-limit-requests": "60",
        "x-ratelimit-remaining-requests": "30",
        "x-ratelimit-reset-requests": "15s",
        "x-ratelimit-limit-tokens": "40000",
        "x-ratelimit-remaining-tokens": "0",
        "x-ratelimit-reset-tokens": "6m0s",
    }
    lane.observe_headers(headers, now=0.0)
    assert lane.requests is not None and lane.requests.learned
    assert lane.requests.window_s == 60.0 and lane.requests.limit == 60
    assert lane.requests.level == 60 * BURST  # remaining 30 is more: no change
    assert lane.tokens is not None and lane.tokens.level == 0.0
    lane.configure(120, None, None, 60.0, now=0.0)  # configuration wins over learning
    assert lane.requests.limit == 120 and not lane.requests.learned


def test_two_models_on_one_key_declaring_different_quotas_get_the_smaller():
    """One key, one quota, one lane: entries that disagree are read the strict way, in
    either order, and the bucket keeps what it held (a lowered limit is no free refill)."""
    for first, second in ((60_000, 6000), (6000, 60_000)):
        lane = Lane()
        lane.configure(None, first, None, 60.0, now=0.0)
        assert lane.tokens is not None
        lane.tokens.take(lane.tokens.capacity)  # spent
        lane.configure(None, second, None, 60.0, now=0.0)
        assert lane.tokens.limit == 6000 and lane.tokens.level <= 0.0
        lane.configure(None, 60_000, None, 60.0, now=0.0)  # asked again: stays the smaller
        assert lane.tokens.limit == 6000


def test_parse_duration():
    assert parse_duration("20ms") == 0.02
    assert parse_duration("1.5s") == 1.5
    assert parse_duration("6m0s") == 360
    assert parse_duration("1h2m") == 3720
    assert parse_duration("7") == 7
    assert parse_duration("soon") is None and parse_duration(None) is None


def test_lane_names_never_hold_the_key():
    name = lane_name("https://api.example/v1", "sk-secret-123")
    assert "sk-secret" not in name and name.startswith("https://api.example/v1 key:")
    assert lane_name("u", "a") != lane_name("u", "b")
    assert estimate_prompt_tokens(b"x" * 401) == 101


async def test_governor_queues_fifo_and_reports_the_wait():
    gov = LocalGovernor()
    limits = Limits(max_concurrency=1)
    first = await gov.admit("L", limits, 10)
    assert first.queued_s < 0.01
    waiting = asyncio.ensure_future(gov.admit("L", limits, 10))
    behind = asyncio.ensure_future(gov.admit("L", limits, 10))
    await asyncio.sleep(0.05)
    assert not waiting.done() and not behind.done()
    gov.settle(first, Outcome(status=200, total_tokens=20, completion_tokens=10, latency_s=0.1))
    second = await asyncio.wait_for(waiting, 1)
    assert second.queued_s >= 0.04 and not behind.done()
    gov.settle(second, Outcome(status=200, total_tokens=20, latency_s=0.1))
    third = await asyncio.wait_for(behind, 1)
    gov.settle(third, Outcome(status=200, total_tokens=20, latency_s=0.1))
    stats = gov.stats()["L"]
    assert stats.admitted == 3 and stats.queued == 2 and stats.queued_s >= 0.09


def test_the_completion_guess_keeps_the_recent_peak():
    """Short turns, then one that writes a file (301 tokens): the next calls are charged
    near that, not the average, until later turns let it decay."""
    lane = Lane()
    assert lane.completion_guess is None
    for completion in (18, 18, 301):
        lane.learn_completion(completion)
    assert lane.completion_guess == 301
    assert lane.completion_ema is not None and lane.completion_ema < 120
    for _ in range(12):
        lane.learn_completion(20)
    assert lane.completion_guess is not None and lane.completion_guess < 40


async def test_governor_paces_a_token_budget_and_learns_completions():
    gov = LocalGovernor()
    limits = Limits(tpm=60_000, window_s=60.0)  # capacity 6000, refill 950/s
    t = await gov.admit("T", limits, 5000)
    assert t.charged == 5000 + 256  # first call: a guess for the completion
    gov.settle(t, Outcome(status=200, total_tokens=5040, completion_tokens=40, latency_s=0.01))
    lane = gov.lane("T")
    assert lane.completion_ema == 40
    assert lane.tokens is not None
    lane.tokens.refill(lane.tokens.at)
    assert 6000 - 5040 <= lane.tokens.level < 6000 - 5040 + 100  # + what refilled meanwhile
    nxt = await gov.admit("T", limits, 100)
    assert nxt.charged == 140 and nxt.queued_s < 0.05
    big = asyncio.ensure_future(gov.admit("T", limits, 2000))  # must wait ~1.3 s of refill
    await asyncio.sleep(0.2)
    assert not big.done()
    big.cancel()


async def test_a_named_maximum_is_charged_as_providers_reserve_it():
    """A request naming max_tokens is charged it (OpenAI and Anthropic hold it against the
    quota on arrival), up to a full token bucket; usage corrects it at the end."""
    gov = LocalGovernor()
    limits = Limits(tpm=600_000, window_s=60.0)  # a bucket of 60,000 tokens
    t = await gov.admit("M", limits, 100, max_completion=4000)
    assert t.charged == 4100
    gov.settle(t, Outcome(status=200, total_tokens=400, completion_tokens=300, latency_s=0.1))
    assert gov.lane("M").completion_guess == 300
    assert (await gov.admit("M", limits, 100)).charged == 400  # no maximum: the guess
    assert (await gov.admit("M", limits, 100, max_completion=50)).charged == 150
    assert (await gov.admit("M", limits, 100, max_completion=10**15)).charged == 60_100
    small = Limits(tpm=6000, window_s=60.0)  # a bucket of 600: 32,000 would hold it 5 min
    assert (await gov.admit("S", small, 100, max_completion=32_000)).charged == 700
    assert (await gov.admit("U", None, 100, max_completion=32_000)).charged == 356  # no bucket


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"max_tokens": 512}, 512),
        ({"max_completion_tokens": 700, "max_tokens": 512}, 700),  # the newer field first
        ({"max_output_tokens": 900}, 900),  # the Responses API's
        ({}, None),
        ({"max_tokens": None}, None),
        ({"max_tokens": True}, None),  # not a number, though Python counts it one
        ({"max_tokens": "512"}, None),
        ({"max_tokens": 512.0}, None),
        ({"max_tokens": 0}, None),
        ({"max_tokens": -5}, None),
    ],
)
def test_the_named_maximum_is_read_from_the_request(fields, expected):
    body = {"model": "m", "messages": [{"role": "user", "content": "hi"}], **fields}
    assert max_completion(inbound.prepare("chat", json.dumps(body).encode(), None)) == expected


async def test_settle_twice_is_harmless():
    gov = LocalGovernor()
    t = await gov.admit("X", None, 1)
    gov.settle(t, Outcome(status=200))
    gov.settle(t, Outcome(status=200))
    assert gov.lane("X").inflight == 0


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"retry-after-ms": "250"}, 0.25),  # milliseconds win over seconds
        ({"Retry-After-Ms": "250", "Retry-After": "9"}, 0.25),
        ({"Retry-After": "7"}, 7.0),
        ({"Retry-After": "1.5"}, 1.5),
        ({"Retry-After": "Sun, 29 Nov 2026 12:00:09 GMT"}, 9.0),  # an HTTP date
        ({"Retry-After": "Sun, 29 Nov 2026 11:59:00 GMT"}, 0.0),  # in the past
        ({"Retry-After": "3600"}, 30.0),  # capped
        ({"retry-after-ms": "999999"}, 30.0),
        ({"Retry-After": "soon"}, 2.0),  # unreadable: the fallback
        ({}, 2.0),
    ],
)
def test_retry_after_parsing_and_caps(headers, expected):
    now = datetime(2026, 11, 29, 12, 0, 0, tzinfo=UTC).timestamp()
    assert retry_delay_s(headers, cap_s=30.0, fallback_s=2.0, now=now) == expected
