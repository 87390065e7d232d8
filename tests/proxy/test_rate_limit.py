"""429s: each attempt is its own record; the client gets the provider's body unchanged."""

from __future__ import annotations

import httpx
import openai
import pytest

MESSAGES = [{"role": "user", "content": "hi"}]


def test_always_throttled_with_sdk_retries(proxy, fake, session):
    with (
        openai.OpenAI(base_url=proxy.base_url + "/v1", api_key=session.key, max_retries=2) as c,
        pytest.raises(openai.RateLimitError) as caught,
    ):
        c.chat.completions.create(model="throttled/any", messages=MESSAGES)
    direct = httpx.post(
        fake.base_url + "/v1/chat/completions",
        json={"model": "throttled/any", "messages": MESSAGES},
    )
    assert caught.value.response.status_code == 429
    assert caught.value.response.content == direct.content  # body unchanged
    assert caught.value.response.headers["retry-after-ms"] == "50"
    calls = proxy.calls(session.id)
    assert len(calls) == 3  # the first attempt and two retries
    assert [c.seq for c in calls] == [1, 2, 3]
    for call in calls:
        assert call.outcome == "rate_limited" and call.status_code == 429
        assert call.retry_after_s == 0.05
        assert call.rate_limit_headers["x-ratelimit-remaining-requests"] == "0"
        assert "Rate limit reached" in call.error
        assert call.prompt_tokens is None and call.tokens_source is None
    assert len({c.request_hash for c in calls}) == 1


def test_429_first_n_then_success(proxy, session):
    with openai.OpenAI(base_url=proxy.base_url + "/v1", api_key=session.key, max_retries=3) as c:
        reply = c.chat.completions.create(model="fault/429-first-2", messages=MESSAGES)
    assert reply.choices[0].message.content == "echo: hi"
    assert [c.outcome for c in proxy.calls(session.id)] == ["rate_limited", "rate_limited", "ok"]


def test_scripted_throttled_alias(proxy, session, client):
    with pytest.raises(openai.RateLimitError):
        client.chat.completions.create(model="scripted-throttled", messages=MESSAGES)
    [call] = proxy.calls(session.id)
    assert call.outcome == "rate_limited"
