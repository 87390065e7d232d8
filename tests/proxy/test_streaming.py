"""Streams pass through as they arrive; disconnects, cuts and stalls are recorded."""

from __future__ import annotations

import asyncio
import json
import threading

import httpx
import openai
import pytest
from aiohttp import web

from proxy.server import BackgroundServer, ProxyServer

from .conftest import KEY_ENV, wait_for


class GatedUpstream(BackgroundServer):
    """A test-only upstream: sends one chunk, then waits for the test's gate to open
    (or 10 s) before sending the rest. It logs what it did, in order, into `events`."""

    def __init__(self, events: list[str], gate: threading.Event) -> None:
        super().__init__("127.0.0.1", 0)
        self.events, self.gate = events, gate

    def _make_app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/v1/chat/completions", self.handle)
        return app

    async def handle(self, request: web.Request) -> web.StreamResponse:
        await request.read()
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await resp.prepare(request)
        chunk = {"choices": [{"index": 0, "delta": {"content": "first"}, "finish_reason": None}]}
        await resp.write(b"data: " + json.dumps(chunk).encode() + b"\n\n")
        self.events.append("upstream sent chunk 1")
        opened = await asyncio.get_running_loop().run_in_executor(None, self.gate.wait, 10)
        self.events.append("upstream sends chunk 2" if opened else "upstream gave up waiting")
        last = {"choices": [{"index": 0, "delta": {"content": " second"}, "finish_reason": "stop"}],
                "usage": None}  # fmt: skip
        await resp.write(b"data: " + json.dumps(last).encode() + b"\n\ndata: [DONE]\n\n")
        await resp.write_eof()
        return resp


def test_first_chunk_reaches_client_before_upstream_sends_the_second(upstream_key):
    events: list[str] = []
    gate = threading.Event()
    with (
        GatedUpstream(events, gate) as upstream,
        ProxyServer(upstream=upstream.base_url + "/v1", upstream_key_env=KEY_ENV) as proxy,
    ):
        sess = proxy.create_session(cell_id="gate")
        body = {"model": "m", "messages": [{"role": "user", "content": "x"}], "stream": True}
        headers = {"Authorization": f"Bearer {sess.key}"}
        with httpx.stream("POST", proxy.base_url + "/v1/chat/completions", json=body,
                          headers=headers, timeout=30) as resp:  # fmt: skip
            lines = resp.iter_lines()
            for line in lines:
                if line.startswith("data:"):
                    events.append("client got chunk 1")
                    gate.set()
                    break
            rest = [line for line in lines if line.startswith("data:")]
        [call] = proxy.calls(sess.id)
    assert events == ["upstream sent chunk 1", "client got chunk 1", "upstream sends chunk 2"]
    assert rest[-1] == "data: [DONE]"
    assert call.outcome == "ok" and call.response_text == "first second"
    assert call.tokens_source == "estimated"  # this upstream reported no usage


def test_client_disconnect_mid_stream_is_recorded_and_upstream_cancelled(proxy, fake, session):
    body = {
        "model": "fault/slow-chunks-200",
        "messages": [{"role": "user", "content": " ".join(f"w{i}" for i in range(40))}],
        "stream": True,
    }
    headers = {"Authorization": f"Bearer {session.key}"}
    with httpx.stream("POST", proxy.base_url + "/v1/chat/completions", json=body,
                      headers=headers, timeout=30) as resp:  # fmt: skip
        for line in resp.iter_lines():
            if "content" in line:
                break  # walk away mid-stream
    [call] = proxy.calls(session.id)
    assert call.outcome == "client_disconnected" and call.stream
    assert call.status_code == 200
    wait_for(lambda: fake.state.disconnects == 1)  # the upstream request was cancelled


def test_upstream_cut_mid_stream(proxy, session, client):
    # the proxy cuts its own stream too, so the SDK sees a broken stream, not a clean end
    with pytest.raises(openai.APIConnectionError):
        list(client.chat.completions.create(
            model="fault/cut-stream", messages=[{"role": "user", "content": "x"}], stream=True))  # fmt: skip
    [call] = proxy.calls(session.id)
    assert call.outcome == "connection_error"
    assert "cut" in call.error or "ended" in call.error


def test_stream_without_usage_is_estimated(proxy, session, client):
    chunks = list(client.chat.completions.create(
        model="fault/no-usage", messages=[{"role": "user", "content": "count me"}], stream=True))  # fmt: skip
    assert chunks
    [call] = proxy.calls(session.id)
    assert call.outcome == "ok" and call.tokens_source == "estimated"
    assert call.prompt_tokens > 0 and call.completion_tokens > 0
    assert call.total_tokens == call.prompt_tokens + call.completion_tokens


def test_slow_first_chunk_ttft(proxy, session, client):
    list(client.chat.completions.create(
        model="fault/slow-first-chunk-100", messages=[{"role": "user", "content": "a b c"}], stream=True))  # fmt: skip
    [call] = proxy.calls(session.id)
    # ttft is the first *content*, which the fake sends only after its 100 ms pause
    assert 100 <= call.ttft_ms < call.latency_ms


def test_upstream_stalling_mid_stream_times_out(fake, upstream_key):
    with ProxyServer(
        upstream=fake.base_url + "/v1", upstream_key_env=KEY_ENV, timeout=0.3
    ) as proxy:
        sess = proxy.create_session(cell_id="stall")
        body = {"model": "fault/slow-first-chunk-3000", "stream": True,
                "messages": [{"role": "user", "content": "a b c"}]}  # fmt: skip
        headers = {"Authorization": f"Bearer {sess.key}"}
        got = []
        with (
            pytest.raises(httpx.RemoteProtocolError),
            httpx.stream(
                "POST",
                proxy.base_url + "/v1/chat/completions",
                json=body,
                headers=headers,
                timeout=30,
            ) as resp,  # fmt: skip
        ):
            got.extend(resp.iter_lines())
        [call] = proxy.calls(sess.id)
    assert call.outcome == "timeout" and call.status_code == 200
    assert "stalled" in call.error


def test_client_leaving_a_non_streamed_call_cancels_the_upstream(proxy, fake, session):
    body = {"model": "fault/hang", "messages": [{"role": "user", "content": "x"}]}
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(proxy.base_url + "/v1/chat/completions", json=body,
                   headers={"Authorization": f"Bearer {session.key}"}, timeout=0.5)  # fmt: skip
    [call] = proxy.calls(session.id)
    assert call.outcome == "client_disconnected" and call.status_code is None
    wait_for(lambda: fake.state.disconnects == 1)


#: the line after which each API's stream has given the client its whole answer
_LAST = {"chat/completions": "data: [DONE]", "responses": "event: response.completed"}


@pytest.mark.parametrize("route", sorted(_LAST))
def test_a_client_that_hangs_up_after_the_last_event_had_a_whole_call(proxy, session, route):
    # codex reads `response.completed` and drops the connection while the upstream's
    # stream is still open: the call is whole, not a client that went away mid-stream
    words = {"messages": [{"role": "user", "content": "a b c"}]}
    if route == "responses":
        words = {"input": "a b c"}
    body = {"model": "fault/slow-close", "stream": True, **words}
    headers = {"Authorization": f"Bearer {session.key}"}
    with httpx.stream("POST", f"{proxy.base_url}/v1/{route}", json=body, headers=headers,
                      timeout=30) as resp:  # fmt: skip
        seen = []
        for line in resp.iter_lines():
            seen.append(line)
            if line == _LAST[route]:
                break  # hang up with the upstream's stream still open
    [call] = proxy.calls(session.id)
    assert (call.outcome, call.status_code, call.error) == ("ok", 200, None)
    assert call.tokens_source == "usage" and call.completion_tokens > 0


@pytest.mark.parametrize("route", sorted(_LAST))
def test_a_provider_that_drops_its_connection_after_the_last_event_gave_a_whole_answer(
    proxy, session, route
):
    """The provider sent every event, then dropped the connection without ending its
    chunked body. Before: recorded connection_error (infra) and the client's stream cut
    too, so an SDK that drains the stream after [DONE] raised on a whole answer."""
    words = {"messages": [{"role": "user", "content": "a b c"}]}
    if route == "responses":
        words = {"input": "a b c"}
    body = {"model": "fault/cut-after-end", "stream": True, **words}
    with httpx.stream("POST", f"{proxy.base_url}/v1/{route}", json=body, timeout=30,
                      headers={"Authorization": f"Bearer {session.key}"}) as resp:  # fmt: skip
        lines = list(resp.iter_lines())  # raises if the proxy cut its stream
    assert _LAST[route] in lines
    [call] = proxy.calls(session.id)
    assert (call.outcome, call.status_code, call.error) == ("ok", 200, None)
    assert call.tokens_source == "usage"
