"""The governor, absorb mode and fault injection in the real proxy, against the fake
provider's quota: what agents see and what the records say."""

from __future__ import annotations

import json
import os
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import openai
import pytest

from proxy.fake.quota import QuotaConfig
from proxy.governor import AbsorbPolicy, Limits, Policy
from proxy.inject import parse_inject
from proxy.server import FakeUpstreamServer, ProxyServer

from .conftest import KEY_ENV, SCRIPTS
from .test_cli_and_secrets import start, stop

MESSAGES = [{"role": "user", "content": "hi"}]


def _storm(proxy: ProxyServer, sessions: int = 8, calls: int = 5) -> list[int]:
    """`sessions` agents at once, each making `calls` calls; the statuses they saw."""

    def agent(i: int) -> list[int]:
        sess = proxy.create_session(cell_id=f"storm/{i}")
        seen = []
        with httpx.Client(base_url=proxy.base_url + "/v1", timeout=30) as c:
            for k in range(calls):
                r = c.post(
                    "/chat/completions",
                    json={"model": "echo", "messages": [{"role": "user", "content": f"{i}-{k}"}]},
                    headers={"Authorization": f"Bearer {sess.key}"},
                )
                seen.append(r.status_code)
        return seen

    with ThreadPoolExecutor(sessions) as pool:
        return [s for seen in pool.map(agent, range(sessions)) for s in seen]


@pytest.mark.parametrize("governed", [False, True])
def test_governor_keeps_concurrent_sessions_under_the_quota(governed):
    quota = QuotaConfig(rpm=40, tpm=200_000, window_s=1.0, burst=0.25)
    limits = Limits(rpm=40, tpm=200_000, window_s=1.0)
    with (
        FakeUpstreamServer(scripts_dir=SCRIPTS, quota=quota) as fake,
        ProxyServer(upstream=fake.base_url + "/v1", governor=governed,
                    policy=Policy(limits=limits)) as proxy,
    ):  # fmt: skip
        statuses = _storm(proxy)
        stats = proxy.governor_stats()
        refused = fake.state.quota.refused if fake.state.quota else -1
    if governed:
        assert statuses == [200] * 40 and refused == 0
        [lane] = stats.values()
        assert lane.admitted == 40 and lane.queued > 0 and lane.queued_s > 0
    else:
        assert statuses.count(429) > 0 and refused == statuses.count(429)
        assert stats == {}


@pytest.mark.parametrize("names_its_maximum", [False, True])
def test_a_first_long_completion_is_charged_its_named_maximum(tmp_path, names_its_maximum):
    """An agent's first call writes 2,000 tokens while its second is already on the way.
    The provider holds the whole cost when the call arrives; a governor charging its guess
    (256) lets the second call into a bucket the provider has already spent: a 429. A
    request that names its max_tokens is charged that, so the second call waits instead."""
    (tmp_path / "t").mkdir()
    (tmp_path / "t" / "long.toml").write_text(f'[[turns]]\ncontent = "{"x" * 8000}"\n')
    quota = QuotaConfig(tpm=30_000, window_s=60.0, burst=0.1)  # a bucket of 3,000 tokens
    limits = Limits(tpm=30_000, window_s=60.0)
    with (
        FakeUpstreamServer(scripts_dir=tmp_path, quota=quota, chunk_delay_s=0.1) as fake,
        ProxyServer(upstream=fake.base_url + "/v1", policy=Policy(limits=limits)) as proxy,
    ):
        sess = proxy.create_session(cell_id="governor/max-tokens")
        body = {"model": "scripted/t/long", "messages": MESSAGES, "stream": True}
        if names_its_maximum:
            body["max_tokens"] = 2048

        def call(delay_s: float) -> int:
            time.sleep(delay_s)  # the second starts while the first still streams
            with httpx.Client(timeout=30) as c:
                r = c.post(
                    proxy.base_url + "/v1/chat/completions",
                    json=body,
                    headers={"Authorization": f"Bearer {sess.key}"},
                )
                return r.status_code if b"rate_limit" not in r.content else 429

        with ThreadPoolExecutor(2) as pool:
            statuses = list(pool.map(call, (0.0, 0.2)))
        calls = sorted(proxy.calls(sess.id), key=lambda c: c.started_at)
        refused = fake.state.quota.refused if fake.state.quota else -1
    assert calls[0].completion_tokens == 2000 and calls[0].tokens_source == "usage"
    if names_its_maximum:
        assert statuses == [200, 200] and refused == 0
        assert calls[1].queued_ms is not None and calls[1].queued_ms > 500  # it waited
    else:  # what the guess alone lets through
        assert statuses == [200, 429] and refused == 1


def test_learned_limits_and_aimd_without_configuration():
    """Nothing configured: the provider's x-ratelimit-* headers (and any 429) teach the
    governor the key's limits, and the storm ends with every agent answered."""
    quota = QuotaConfig(rpm=60, window_s=1.0, burst=0.2, max_concurrency=3)
    with (
        FakeUpstreamServer(scripts_dir=SCRIPTS, quota=quota, chunk_delay_s=0.0) as fake,
        ProxyServer(
            upstream=fake.base_url + "/v1",
            policy=Policy(
                limits=Limits(window_s=1.0),  # no limits: the window learned limits count in
                absorb=AbsorbPolicy(attempts=8, max_wait_s=1.0),
            ),
        ) as proxy,
    ):
        statuses = _storm(proxy, sessions=6, calls=5)
        [lane] = proxy.governor_stats().values()
    assert statuses == [200] * 30
    assert lane.admitted >= 30 and lane.throttled <= 6 and lane.queued > 0


def test_absorb_turns_429s_into_a_slower_success_with_every_attempt_recorded(fake):
    policy = Policy(absorb=AbsorbPolicy(attempts=5, max_wait_s=0.2))
    with ProxyServer(upstream=fake.base_url + "/v1", policy=policy) as proxy:
        sess = proxy.create_session(cell_id="absorb/1")
        with openai.OpenAI(base_url=proxy.base_url + "/v1", api_key=sess.key, max_retries=0) as c:
            reply = c.chat.completions.create(model="fault/429-first-2", messages=MESSAGES)
        calls = proxy.calls(sess.id)
    assert reply.choices[0].message.content == "echo: hi"
    assert [(c.outcome, c.absorbed, c.status_code) for c in calls] == [
        ("rate_limited", True, 429),
        ("rate_limited", True, 429),
        ("ok", False, 200),
    ]
    assert [c.retry_of for c in calls] == [None, 1, 1]
    assert all(c.upstream_status in (429, 200) for c in calls)
    assert calls[1].started_at >= calls[0].ended_at  # waited between attempts


def _through_absorb(
    fake, model: str, stream: bool = False, attempts: int = 5, max_wait_s: float = 0.05
) -> tuple[httpx.Response, list]:
    """One chat call for `model` through a proxy in absorb mode: what the client got, and
    every record of it."""
    policy = Policy(absorb=AbsorbPolicy(attempts=attempts, max_wait_s=max_wait_s))
    with ProxyServer(upstream=fake.base_url + "/v1", policy=policy) as proxy:
        sess = proxy.create_session(cell_id=f"absorb/{model}")
        r = httpx.post(
            proxy.base_url + "/v1/chat/completions",
            json={"model": model, "messages": MESSAGES, "stream": stream},
            headers={"Authorization": f"Bearer {sess.key}"},
            timeout=30,
        )
        return r, proxy.calls(sess.id)


def test_absorb_gives_up_within_its_budget(fake):
    r, calls = _through_absorb(fake, "throttled/x", attempts=3)
    assert r.status_code == 429 and "retry-after-ms" in r.headers
    assert [c.absorbed for c in calls] == [True, True, False]
    assert calls[-1].outcome == "rate_limited" and calls[-1].retry_of == calls[0].seq


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize(
    ("step", "outcome", "says"),
    [
        ("quota-in-200", "rate_limited", "Rate limit reached"),
        ("overloaded-in-200", "upstream_error", "Overloaded"),
        ("empty", "upstream_malformed", "no answer"),  # an overloaded gateway's empty 200
    ],
)
def test_absorb_retries_a_whole_200_that_is_a_providers_failure_but_never_a_stream(
    fake, stream, step, outcome, says
):
    """A gateway's 200 whose body is the quota or overload error, or holds no answer, is a
    429 or a 529 in all but status: absorb mode retries it like one. A stream's failure
    comes after its 200 reached the client: it is recorded, never retried."""
    r, calls = _through_absorb(fake, f"faults/{step}*2,ok/echo", stream)
    if stream:
        assert r.status_code == 200 and b"echo: hi" not in r.content
        assert [(c.outcome, c.absorbed) for c in calls] == [(outcome, False)]
        return
    assert r.status_code == 200 and r.json()["choices"][0]["message"]["content"] == "echo: hi"
    assert [(c.outcome, c.absorbed, c.status_code) for c in calls] == [
        (outcome, True, 200),
        (outcome, True, 200),
        ("ok", False, 200),
    ]
    assert says in (calls[0].error or "")
    assert [c.retry_of for c in calls] == [None, calls[0].seq, calls[0].seq]


def test_absorb_does_not_wait_out_an_empty_account(fake):
    """OpenAI answers an account with no credit left 429 insufficient_quota: no wait mends
    it, so absorb mode passes it on at once (one record, auth_error), as it would a 402."""
    r, calls = _through_absorb(fake, "faults/no-quota*2,ok/echo")
    assert r.status_code == 429 and r.json()["error"]["code"] == "insufficient_quota"
    assert [(c.outcome, c.absorbed, c.status_code) for c in calls] == [("auth_error", False, 429)]


@pytest.mark.parametrize(
    ("step", "outcome"), [("credit-in-200", "auth_error"), ("junk", "upstream_malformed")]
)
def test_absorb_answers_a_200_no_retry_mends_as_it_came(fake, step, outcome):
    """A bad key or an empty account reported inside a 200 (or a body that is not JSON) is
    no throttle: absorb mode passes it on at once, one record."""
    r, calls = _through_absorb(fake, f"faults/{step}*2,ok/echo")
    assert r.status_code in (200, 502)
    assert [(c.outcome, c.absorbed) for c in calls] == [(outcome, False)]


def test_agent_retries_link_to_their_first_attempt(proxy, session):
    with (
        openai.OpenAI(base_url=proxy.base_url + "/v1", api_key=session.key, max_retries=2) as c,
        pytest.raises(openai.RateLimitError),
    ):
        c.chat.completions.create(model="throttled/x", messages=MESSAGES)
    calls = proxy.calls(session.id)
    assert [c.client_retry_count for c in calls] == [0, 1, 2]
    assert [c.retry_of for c in calls] == [None, 1, 1]
    assert not any(c.absorbed for c in calls)


def test_injected_faults_never_reach_the_provider(fake):
    spec = parse_inject("429:retry_after=7@1; 503@2; cut@3; hang:s=0.1@4")
    with ProxyServer(upstream=fake.base_url + "/v1", policy=Policy(inject=spec)) as proxy:
        sess = proxy.create_session(cell_id="inject/1")
        before = fake.state.requests
        url = proxy.base_url + "/v1/chat/completions"
        auth = {"Authorization": f"Bearer {sess.key}"}
        body = {"model": "echo", "messages": MESSAGES}
        first = httpx.post(url, json=body, headers=auth)
        second = httpx.post(url, json=body, headers=auth)
        with (
            pytest.raises(httpx.HTTPError),
            httpx.stream("POST", url, json={**body, "stream": True}, headers=auth) as s,
        ):
            s.read()
        fourth = httpx.post(url, json=body, headers=auth)
        fifth = httpx.post(url, json=body, headers=auth)
        calls = proxy.calls(sess.id)
        reached = fake.state.requests - before
    assert (first.status_code, first.headers["Retry-After"]) == (429, "7")
    assert second.status_code == 503 and fourth.status_code == 504 and fifth.status_code == 200
    assert reached == 1  # only the fifth
    assert [c.injected for c in calls] == ["429:retry_after=7", "503", "cut", "hang:s=0.1", None]
    assert [c.outcome for c in calls] == [
        "rate_limited", "upstream_error", "connection_error", "timeout", "ok",
    ]  # fmt: skip
    assert calls[0].retry_after_s == 7 and calls[0].upstream_status is None


def test_cab_proxy_and_fake_upstream_flags(tmp_path):
    """`cab fake-upstream --rpm` throttles; `cab proxy --rpm --absorb --inject` keeps the
    agent clear of it, and says so in calls.jsonl."""
    env = dict(os.environ)
    fake, fake_url = start(["fake-upstream", "--port", "0", "--scripts", str(SCRIPTS),
                            "--rpm", "20", "--quota-window-s", "1", "--quota-burst", "0.1"],
                           env)  # fmt: skip
    try:
        proxy, url = start(["proxy", "--port", "0", "--upstream", fake_url + "/v1",
                            "--record-dir", str(tmp_path), "--rpm", "20",
                            "--quota-window-s", "1", "--absorb", "--inject", "503@1"],
                           env)  # fmt: skip
        try:
            with httpx.Client(base_url=url + "/v1", timeout=30) as c:
                seen = [
                    c.post("/chat/completions", json={"model": "echo", "messages": MESSAGES},
                           headers={"Authorization": "Bearer cab-cli"}).status_code
                    for _ in range(8)
                ]  # fmt: skip
        finally:
            stop(proxy)
    finally:
        stop(fake)
    assert seen == [503] + [200] * 7
    calls = [json.loads(line) for line in (tmp_path / "calls.jsonl").read_text().splitlines()]
    assert calls[0]["injected"] == "503" and calls[0]["queued_ms"] is None
    assert all(c["upstream_status"] != 429 for c in calls)  # paced under 20 per second
    assert any(c["queued_ms"] and c["queued_ms"] >= 1 for c in calls)


def test_chat_and_responses_on_one_key_share_one_lane(fake, upstream_key):
    """The provider's quota is per key, whichever endpoint is called: one lane, named by
    the upstream base (never the key), counts both APIs' calls."""
    with ProxyServer(upstream=fake.base_url + "/v1", upstream_key_env=KEY_ENV) as proxy:
        key = proxy.create_session(cell_id="lanes").key
        with httpx.Client(base_url=proxy.base_url + "/v1", timeout=30) as c:
            auth = {"Authorization": f"Bearer {key}"}
            assert (
                c.post(
                    "/chat/completions", headers=auth, json={"model": "echo", "messages": MESSAGES}
                ).status_code
                == 200
            )
            assert c.post("/responses", headers=auth,
                          json={"model": "echo", "input": "hi"}).status_code == 200  # fmt: skip
        stats = proxy.governor_stats()
    [(name, lane)] = stats.items()
    assert name.startswith(fake.base_url + "/v1 key:") and upstream_key not in name
    assert lane.admitted == 2


def test_an_agents_own_retry_is_linked_to_its_first_attempt(proxy, session):
    """openai and Anthropic SDKs number their attempts (`x-stainless-retry-count`: 0 on the
    first); a retry of the same request carries the first attempt's seq in `retry_of`."""
    body = {"model": "echo", "messages": [{"role": "user", "content": "again"}]}

    def attempt(n: int | None) -> None:
        headers = {"Authorization": f"Bearer {session.key}"}
        if n is not None:
            headers["x-stainless-retry-count"] = str(n)
        assert httpx.post(proxy.base_url + "/v1/chat/completions", json=body,
                          headers=headers).status_code == 200  # fmt: skip

    for n in (0, 1, 2, None):
        attempt(n)
    calls = proxy.calls(session.id)
    assert [(c.seq, c.client_retry_count, c.retry_of) for c in calls] == [
        (1, 0, None), (2, 1, 1), (3, 2, 1), (4, None, None)]  # fmt: skip
