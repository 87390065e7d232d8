"""Bad input, broken upstreams and refused sessions: OpenAI-shaped errors, one record
each, and nothing bad ever reaches the upstream."""

from __future__ import annotations

import json
import socket

import httpx
import openai
import pytest

from proxy.server import ProxyServer

from .conftest import KEY_ENV

CHAT = "/v1/chat/completions"


def assert_openai_error(resp: httpx.Response, status: int) -> dict:
    assert resp.status_code == status
    assert resp.headers["content-type"].startswith("application/json")
    err = resp.json()["error"]
    assert set(err) == {"message", "type", "param", "code"} and err["message"]
    return err


@pytest.mark.parametrize(
    ("path", "body", "param"),
    [
        (CHAT, b"{not json", None),
        (CHAT, b"[1, 2]", None),
        (CHAT, b"", None),
        (CHAT, json.dumps({"messages": []}).encode(), "model"),
        (CHAT, json.dumps({"model": "echo"}).encode(), "messages"),
        (CHAT, json.dumps({"model": "echo", "messages": "hi"}).encode(), "messages"),
        (CHAT, json.dumps({"model": "echo", "messages": [], "stream": "yes"}).encode(), "stream"),
        ("/v1/responses", json.dumps({"model": "echo"}).encode(), "input"),
        ("/v1/responses", json.dumps({"input": "hi"}).encode(), "model"),
    ],
)
def test_bad_input_is_refused_and_recorded(proxy, fake, session, path, body, param):
    resp = httpx.post(
        proxy.base_url + path,
        content=body,
        headers={"Authorization": f"Bearer {session.key}", "Content-Type": "application/json"},
    )
    err = assert_openai_error(resp, 400)
    assert err["type"] == "invalid_request_error" and err["param"] == param
    assert fake.state.requests == 0
    [call] = proxy.calls(session.id)
    assert (
        call.outcome == "bad_request" and call.status_code == 400 and call.error == err["message"]
    )
    # the proxy still works afterwards
    ok = httpx.post(proxy.base_url + CHAT, json={"model": "echo", "messages": []},
                    headers={"Authorization": f"Bearer {session.key}"})  # fmt: skip
    assert ok.status_code == 200


def test_body_over_the_limit_is_413(fake, upstream_key):
    with ProxyServer(upstream=fake.base_url + "/v1", upstream_key_env=KEY_ENV,
                     max_body_bytes=1000) as proxy:  # fmt: skip
        sess = proxy.create_session(cell_id="big")
        big = {"model": "echo", "messages": [{"role": "user", "content": "x" * 5000}]}
        resp = httpx.post(
            proxy.base_url + CHAT, json=big, headers={"Authorization": f"Bearer {sess.key}"}
        )
        err = assert_openai_error(resp, 413)
        assert "1000 bytes" in err["message"]
        [call] = proxy.calls(sess.id)
    assert call.outcome == "bad_request" and call.status_code == 413
    assert fake.state.requests == 0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_unreachable_upstream_is_502(upstream_key):
    with ProxyServer(
        upstream=f"http://127.0.0.1:{free_port()}/v1", upstream_key_env=KEY_ENV
    ) as proxy:
        sess = proxy.create_session(cell_id="down")
        with (
            openai.OpenAI(base_url=proxy.base_url + "/v1", api_key=sess.key, max_retries=0) as c,
            pytest.raises(openai.APIStatusError) as caught,
        ):
            c.chat.completions.create(model="echo", messages=[{"role": "user", "content": "x"}])
        [call] = proxy.calls(sess.id)
    assert caught.value.status_code == 502
    assert caught.value.body["code"] == "upstream_unreachable"
    assert call.outcome == "connection_error" and call.status_code == 502
    assert call.request_hash and call.model == "echo"


def test_hung_upstream_is_504_after_the_timeout(fake, upstream_key):
    with ProxyServer(
        upstream=fake.base_url + "/v1", upstream_key_env=KEY_ENV, timeout=0.3
    ) as proxy:
        sess = proxy.create_session(cell_id="hang")
        resp = httpx.post(proxy.base_url + CHAT, headers={"Authorization": f"Bearer {sess.key}"},
                          json={"model": "fault/hang", "messages": []}, timeout=30)  # fmt: skip
        err = assert_openai_error(resp, 504)
        assert err["code"] == "upstream_timeout"
        [call] = proxy.calls(sess.id)
    assert call.outcome == "timeout" and call.status_code == 504


@pytest.mark.parametrize(
    ("model", "status", "outcome"),
    [
        ("fault/500", 500, "upstream_error"),
        ("fault/401", 401, "auth_error"),
        ("faults/402/echo", 402, "auth_error"),  # out of credit: the account, not the request
        ("faults/408/echo", 408, "upstream_error"),  # the provider's own timeout
        ("faults/409/echo", 409, "client_error"),
        ("faults/403/echo", 403, "auth_error"),  # the key refused
        ("faults/flagged/echo", 403, "client_error"),  # the content refused (moderation)
        ("fault/context-length", 400, "context_length"),
        ("scripted/demo/no-such-script", 404, "client_error"),
        ("scripted/demo/broken", 500, "upstream_error"),
    ],
)
def test_upstream_errors_pass_through_and_are_classified(
    proxy, fake, session, model, status, outcome
):
    headers = {"Authorization": f"Bearer {session.key}"}
    body = {"model": model, "messages": [{"role": "user", "content": "x"}]}
    resp = httpx.post(proxy.base_url + CHAT, json=body, headers=headers)
    direct = httpx.post(fake.base_url + CHAT, json=body)
    assert resp.status_code == status and resp.content == direct.content
    [call] = proxy.calls(session.id)
    assert call.outcome == outcome and call.status_code == status
    assert call.error == direct.json()["error"]["message"]


def test_require_session_refuses_plain_and_unknown_keys(proxy, fake):
    for key in ("sk-plain-key", "cab-nosuchsession"):
        with (
            openai.OpenAI(base_url=proxy.base_url + "/v1", api_key=key, max_retries=0) as c,
            pytest.raises(openai.AuthenticationError) as caught,
        ):
            c.chat.completions.create(model="echo", messages=[])
        assert caught.value.status_code == 401
        assert caught.value.body["code"] == "invalid_api_key"
        assert "sk-plain-key" not in caught.value.body["message"]
    assert fake.state.requests == 0


def test_standalone_mode_uses_the_default_session(fake, upstream_key):
    with ProxyServer(upstream=fake.base_url + "/v1", upstream_key_env=KEY_ENV,
                     require_session=False) as proxy:  # fmt: skip
        with openai.OpenAI(
            base_url=proxy.base_url + "/v1", api_key="sk-whatever", max_retries=0
        ) as c:
            c.chat.completions.create(model="echo", messages=[{"role": "user", "content": "x"}])
        [call] = proxy.calls("default")
    assert call.outcome == "ok"
    assert fake.state.authorizations[-1] == f"Bearer {upstream_key}"  # proxy key wins


def test_unknown_route_is_openai_shaped_404(proxy):
    assert_openai_error(httpx.get(proxy.base_url + "/nope"), 404)
