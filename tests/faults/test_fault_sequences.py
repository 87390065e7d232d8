"""Per-session fault sequences (`faults/<sequence>/<model>`), through the recording proxy:
what each fault looks like to a client and how the proxy records it."""

from __future__ import annotations

import httpx
import pytest

from proxy.fake.sequences import parse_sequence, tagged
from proxy.inject import FaultSpecError
from proxy.server import FakeUpstreamServer, ProxyServer

USER = [{"role": "user", "content": "go"}]


def test_sequence_grammar():
    seq = parse_sequence("ok*3, 429:retry_after=8")
    assert [str(s) for s in seq] == ["ok"] * 3 + ["429:retry_after=8"]
    assert seq[3].fault is not None and seq[3].fault.retry_after_s == 8
    assert [str(s) for s in parse_sequence("ok,503*2,context,drop,junk,empty,slow:s=1,cut,hang")] == [
        "ok", "503", "503", "context", "drop", "junk", "empty", "slow", "cut", "hang"]  # fmt: skip
    assert [str(s) for s in parse_sequence("quota-in-200,overloaded-in-200")] == [
        "quota-in-200", "overloaded-in-200"]  # fmt: skip


@pytest.mark.parametrize(
    "text, says",
    [
        ("ok,teapot", "'teapot'"),
        ("503:retry_after=2", "'503:retry_after=2'"),
        ("429:retry_after=soon", "must be name=number"),
        ("slow:ms=3", "slow takes s=SECONDS"),
        ("ok,,ok", "empty step"),
        ("ok*0", "repeat count"),
    ],
)
def test_bad_sequences_say_what_is_wrong(text, says):
    with pytest.raises(FaultSpecError, match=says):
        parse_sequence(text)


@pytest.fixture
def fake(tmp_path):
    with FakeUpstreamServer(scripts_dir=tmp_path) as server:
        yield server


@pytest.fixture
def proxy(fake: FakeUpstreamServer):
    with ProxyServer(upstream=fake.base_url + "/v1", upstream_key_env="CAB_NO_KEY", timeout=5) as p:
        yield p


def post(proxy: ProxyServer, key: str, model: str, stream: bool = False) -> httpx.Response:
    return httpx.post(
        proxy.base_url + "/v1/chat/completions",
        json={"model": model, "messages": USER, "stream": stream},
        headers={"Authorization": f"Bearer {key}"},
        timeout=30,
    )


def test_each_tag_plays_its_own_sequence(proxy: ProxyServer):
    model = "faults/ok*2,429:retry_after=3/echo"
    a, b = proxy.create_session(), proxy.create_session()
    statuses_a = [post(proxy, a.key, tagged(model, a.id)).status_code for _ in range(3)]
    statuses_b = [post(proxy, b.key, tagged(model, b.id)).status_code for _ in range(3)]
    assert statuses_a == statuses_b == [200, 200, 429]
    calls = proxy.calls(a.id)
    assert [c.outcome for c in calls] == ["ok", "ok", "rate_limited"]
    assert calls[2].retry_after_s == 3


def test_a_bad_sequence_is_an_openai_error(proxy: ProxyServer):
    s = proxy.create_session()
    resp = post(proxy, s.key, "faults/ok,teapot/echo")
    assert resp.status_code == 400 and "teapot" in resp.json()["error"]["message"]


@pytest.mark.parametrize(
    "fault, client_sees, upstream_status, outcome",
    [
        ("503", 503, 503, "upstream_error"),
        ("401", 401, 401, "auth_error"),
        ("404", 404, 404, "client_error"),
        ("context", 400, 400, "context_length"),
        ("drop", 502, None, "connection_error"),  # 502: the proxy's stand-in
        ("junk", 502, 200, "upstream_malformed"),  # a 200 whose body is not the API's JSON
        ("empty", 502, 200, "upstream_malformed"),  # a 200 with no answer in it
        ("cut", 502, 200, "connection_error"),  # the upstream's 200 began, its body broke
        ("quota-in-200", 200, 200, "rate_limited"),  # a gateway's 200 whose body is an error
        ("overloaded-in-200", 200, 200, "upstream_error"),
        ("credit-in-200", 200, 200, "auth_error"),  # the account ran dry after the 200
        ("flagged", 403, 403, "client_error"),  # moderation refused the content, not the key
        ("no-quota", 429, 429, "auth_error"),  # an empty account: no wait mends it
    ],
)
def test_fault_outcomes_as_recorded(
    proxy: ProxyServer, fault, client_sees, upstream_status, outcome
):
    s = proxy.create_session()
    assert post(proxy, s.key, f"faults/{fault}/echo").status_code == client_sees
    (call,) = proxy.calls(s.id)
    assert call.outcome == outcome
    assert call.upstream_status == upstream_status


@pytest.mark.parametrize("api", ["chat", "responses"])
def test_a_quota_that_bites_mid_stream_after_work(proxy: ProxyServer, api):
    """`ok*2,quota-in-200`: two answers, then a 200 whose stream begins and then reports
    the quota error as an event (the Responses API's own `error` event on /responses)."""
    s = proxy.create_session()
    path, asked = ("chat/completions", {"messages": USER}) if api == "chat" else ("responses", {"input": "go"})  # fmt: skip
    seen = []
    for _ in range(3):
        resp = httpx.post(f"{proxy.base_url}/v1/{path}", timeout=30,
                          json={"model": "faults/ok*2,quota-in-200/echo", "stream": True, **asked},
                          headers={"Authorization": f"Bearer {s.key}"})  # fmt: skip
        seen.append((resp.status_code, b"rate_limit_exceeded" in resp.content))
    assert seen == [(200, False), (200, False), (200, True)]
    calls = proxy.calls(s.id)
    assert [c.outcome for c in calls] == ["ok", "ok", "rate_limited"]
    assert "Rate limit reached" in (calls[2].error or "")


@pytest.mark.parametrize(
    ("api", "outcome"),
    [("chat", "upstream_malformed"), ("responses", "connection_error")],
)
def test_an_empty_answer_after_work_is_the_providers(proxy: ProxyServer, api, outcome):
    """`ok,empty` streamed: an answer, then a 200 whose stream carries none (chat:
    `data: [DONE]` alone; Responses: no event at all). Never an `ok` call that said nothing."""
    s = proxy.create_session()
    path, asked = ("chat/completions", {"messages": USER}) if api == "chat" else ("responses", {"input": "go"})  # fmt: skip
    for _ in range(2):
        resp = httpx.post(f"{proxy.base_url}/v1/{path}", timeout=30,
                          json={"model": "faults/ok,empty/echo", "stream": True, **asked},
                          headers={"Authorization": f"Bearer {s.key}"})  # fmt: skip
        assert resp.status_code == 200
    assert [(c.outcome, c.status_code) for c in proxy.calls(s.id)] == [("ok", 200), (outcome, 200)]


def test_cut_stream_is_recorded_as_a_connection_error(proxy: ProxyServer):
    s = proxy.create_session()
    with pytest.raises(httpx.TransportError):
        post(proxy, s.key, "faults/cut/echo", stream=True).raise_for_status()
    (call,) = proxy.calls(s.id)
    assert call.outcome == "connection_error"


def test_hang_ends_at_the_proxy_upstream_timeout(fake):
    with ProxyServer(upstream=fake.base_url + "/v1", timeout=1) as proxy:
        s = proxy.create_session()
        assert post(proxy, s.key, "faults/ok,hang/echo").status_code == 200
        assert post(proxy, s.key, "faults/ok,hang/echo").status_code == 504
        assert [c.outcome for c in proxy.calls(s.id)] == ["ok", "timeout"]


def test_a_session_upstream_timeout_shorter_than_the_proxys_records_a_hang_as_timeout(fake):
    with ProxyServer(upstream=fake.base_url + "/v1", timeout=600) as proxy:
        s = proxy.create_session(upstream_timeout_s=1)
        assert post(proxy, s.key, "faults/hang/echo").status_code == 504
        (call,) = proxy.calls(s.id)
        assert call.outcome == "timeout"
