"""The fake upstream's provider quota: buckets, concurrency, headers and 429s."""

from __future__ import annotations

import httpx
import pytest

from proxy.fake.quota import Quota, QuotaConfig, duration
from proxy.server import FakeUpstreamServer

from .conftest import SCRIPTS


def test_request_bucket_refills_over_the_window():
    q = Quota(QuotaConfig(rpm=6, window_s=6.0, burst=0.5))  # 1 per second, 3 at once
    assert [q.admit("k", 10, now=0.0).refused is None for _ in range(4)] == [
        True,
        True,
        True,
        False,
    ]
    refused = q.admit("k", 10, now=0.5)
    assert refused.limit == "requests"
    status, headers, _ = refused.refused or (0, {}, b"")
    assert status == 429 and headers["retry-after-ms"] == "500" and headers["Retry-After"] == "1"
    assert q.admit("k", 10, now=1.0).refused is None
    assert q.admit("other-key", 10, now=1.0).refused is None  # per key


def test_token_bucket_charges_whole_usage_and_says_when_it_fits():
    q = Quota(QuotaConfig(tpm=1000, window_s=10.0))  # 100 tokens/s
    ok = q.admit("k", 900, now=0.0)
    assert ok.refused is None
    assert ok.headers["x-ratelimit-remaining-tokens"] == "100"
    assert ok.headers["x-ratelimit-limit-tokens"] == "1000"
    assert ok.headers["x-ratelimit-reset-tokens"] == "9s"
    over = q.admit("k", 300, now=1.0)  # 200 there, 300 needed: 1 s more
    assert over.limit == "tokens" and over.refused is not None
    assert over.refused[1]["retry-after-ms"] == "1000"


def test_concurrency_limit_until_release():
    q = Quota(QuotaConfig(max_concurrency=2))
    assert q.admit("k", 1).refused is None and q.admit("k", 1).refused is None
    assert q.admit("k", 1).limit == "concurrency"
    q.release("k")
    assert q.admit("k", 1).refused is None
    assert q.peak_inflight == 2


def test_noise_only_ever_lowers_the_limit():
    q = Quota(QuotaConfig(rpm=100, window_s=60.0, noise=0.5, seed=3))
    admitted = sum(q.admit("k", 1, now=0.0).refused is None for _ in range(100))
    assert 50 <= admitted < 100


def test_bad_config_is_refused():
    with pytest.raises(ValueError, match="window_s"):
        QuotaConfig(rpm=1, window_s=0)


def test_duration_format():
    assert [duration(s) for s in (0.02, 1.5, 360.0)] == ["20ms", "1.5s", "6m0s"]


def test_headers_on_every_answer_and_429_over_the_limit():
    quota = QuotaConfig(rpm=2, tpm=100_000, window_s=60.0)
    with FakeUpstreamServer(scripts_dir=SCRIPTS, quota=quota) as fake:
        url = fake.base_url + "/v1/chat/completions"
        body = {"model": "echo", "messages": [{"role": "user", "content": "hi"}]}
        first = httpx.post(url, json=body, headers={"Authorization": "Bearer a"})
        second = httpx.post(
            url, json={**body, "stream": True}, headers={"Authorization": "Bearer a"}
        )
        third = httpx.post(url, json=body, headers={"Authorization": "Bearer a"})
        other = httpx.post(url, json=body, headers={"Authorization": "Bearer b"})
        assert fake.state.quota is not None and fake.state.quota.refused == 1
    assert first.status_code == second.status_code == other.status_code == 200
    assert first.headers["x-ratelimit-remaining-requests"] == "1"
    assert second.headers["x-ratelimit-remaining-requests"] == "0"
    assert third.status_code == 429
    assert third.json()["error"]["code"] == "rate_limit_exceeded"
    assert float(third.headers["retry-after-ms"]) > 0
    assert third.headers["x-ratelimit-limit-requests"] == "2"
    assert int(first.headers["x-ratelimit-remaining-tokens"]) < 100_000
