"""Issue 11's robustness findings: a clean stop, providers that refuse stream_options,
slow or malformed clients, issuing session keys to a standalone proxy, bounded memory
and the in-flight gauge. Real servers on loopback; `cab proxy` as a real process where
the CLI is the point."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import openai
import pytest
from aiohttp import web

from proxy.records import ModelCall
from proxy.server import BackgroundServer, ProxyServer
from proxy.sessions import SessionStore
from proxy.transcripts import read_transcript

from .conftest import KEY_ENV, SECRET, read_answer, wait_for

MSG = [{"role": "user", "content": "one two three four five six seven eight nine ten"}]


def start_cli(args: list[str], env: dict[str, str]) -> tuple[subprocess.Popen, str, list[str]]:
    """`cab <args>`; returns the process, its URL and the lines it printed before it."""
    proc = subprocess.Popen([sys.executable, "-m", "cab", "--log-level", "WARNING", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)  # fmt: skip
    before: list[str] = []
    for _ in range(20):
        line = proc.stdout.readline() if proc.stdout else ""
        m = re.search(r"listening on (http://127\.0\.0\.1:\d+)", line)
        if m:
            return proc, m.group(1), before
        before.append(line)
    proc.kill()
    pytest.fail(f"no listening line: {before}")


@pytest.fixture
def cli_env(fake) -> dict[str, str]:
    return {**os.environ, KEY_ENV: SECRET}


def _stream_in_thread(url: str, model: str, got: list) -> threading.Thread:
    def run() -> None:
        body = {"model": model, "stream": True, "messages": MSG}
        try:
            with httpx.stream("POST", url + "/v1/chat/completions", json=body, timeout=30,
                              headers={"Authorization": "Bearer cab-stop"}) as resp:  # fmt: skip
                for line in resp.iter_lines():
                    got.append(line)
        except httpx.HTTPError as exc:
            got.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def test_sigterm_drains_then_records_the_cut_as_the_proxys(fake, cli_env, tmp_path: Path):
    proc, url, _ = start_cli(["proxy", "--port", "0", "--upstream", fake.base_url + "/v1",
                              "--upstream-key-env", KEY_ENV, "--record-dir", str(tmp_path),
                              "--shutdown-grace", "1.5"], cli_env)  # fmt: skip
    short, long_ = [], []
    threads = [_stream_in_thread(url, "fault/slow-chunks-100", short),
               _stream_in_thread(url, "fault/slow-chunks-2000", long_)]  # fmt: skip
    wait_for(lambda: short and long_)  # both streams have begun
    proc.send_signal(signal.SIGTERM)
    proc.communicate(timeout=30)
    for t in threads:
        t.join(timeout=30)
    assert "data: [DONE]" in short  # finished inside the grace period
    calls = {c.model: c for c in map(ModelCall.model_validate_json,
                                     (tmp_path / "calls.jsonl").read_text().splitlines())}  # fmt: skip
    assert calls["fault/slow-chunks-100"].outcome == "ok"
    cut = calls["fault/slow-chunks-2000"]
    assert (cut.outcome, cut.status_code) == ("proxy_shutdown", 200)


def test_stream_options_refused_is_retried_once_without_and_remembered(proxy, session, client):
    for _ in range(2):
        chunks = list(client.chat.completions.create(
            model="fault/reject-stream-options", messages=MSG, stream=True))  # fmt: skip
        assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    first, second, third = proxy.calls(session.id)
    assert (first.outcome, first.status_code, first.upstream_status) == (
        "retried_without_stream_options", None, 400)  # fmt: skip
    assert "stream_options" in first.error
    assert (second.outcome, second.tokens_source, second.retry_of) == ("ok", "estimated", first.seq)
    assert (third.outcome, third.tokens_source) == ("ok", "estimated")  # remembered: one attempt


def test_no_stream_usage_flag_leaves_the_stream_as_the_client_sent_it(fake, upstream_key):
    with ProxyServer(upstream=fake.base_url + "/v1", upstream_key_env=KEY_ENV,
                     stream_usage=False) as proxy:  # fmt: skip
        sess = proxy.create_session(cell_id="no-usage")
        with openai.OpenAI(base_url=proxy.base_url + "/v1", api_key=sess.key, max_retries=0) as c:
            list(c.chat.completions.create(model="fault/reject-stream-options", messages=MSG,
                                           stream=True))  # fmt: skip
        [call] = proxy.calls(sess.id)
    assert (call.outcome, call.tokens_source) == ("ok", "estimated")


def test_malformed_request_logs_one_line_and_no_traceback(proxy, capfd, caplog):
    host, port = proxy.base_url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        sock.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n"
                     b"Content-Length: twelve\r\n\r\n")  # fmt: skip
        assert b" 400 " in sock.recv(4096).split(b"\r\n")[0]
    time.sleep(0.2)
    out, err = capfd.readouterr()
    text = out + err + caplog.text
    assert "Traceback" not in text
    assert len([line for line in text.splitlines() if "malformed request" in line]) == 1


def _closed_within(sock: socket.socket, seconds: float) -> bool:
    sock.settimeout(seconds)
    try:
        return sock.recv(4096) == b""
    except TimeoutError:
        return False


def test_slow_headers_and_idle_keepalive_connections_are_closed(fake, upstream_key):
    with ProxyServer(upstream=fake.base_url + "/v1", upstream_key_env=KEY_ENV,
                     header_timeout_s=0.5, keepalive_timeout_s=0.5) as proxy:  # fmt: skip
        host, port = proxy.base_url.removeprefix("http://").split(":")
        with socket.create_connection((host, int(port)), timeout=5) as slow:
            slow.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")  # never finishes its headers
            assert _closed_within(slow, 5)
        with socket.create_connection((host, int(port)), timeout=5) as idle:
            idle.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            assert idle.recv(4096).startswith(b"HTTP/1.1 200")
            assert _closed_within(idle, 5)


@pytest.mark.parametrize("framing", ["Content-Length: 1000", "Transfer-Encoding: chunked"])
def test_a_body_that_does_not_arrive_gets_408_a_record_and_a_closed_connection(
    fake, upstream_key, framing
):
    """Slow-loris on the body: before, a client that sent its headers and then trickled
    (or stopped) held its connection and a handler for as long as it liked."""
    with ProxyServer(upstream=fake.base_url + "/v1", upstream_key_env=KEY_ENV,
                     body_timeout_s=0.5) as proxy:  # fmt: skip
        sess = proxy.create_session(cell_id="slow-body")
        host, port = proxy.base_url.removeprefix("http://").split(":")
        start = '{"model": "echo", "messages": ['
        part = start if framing.startswith("Content") else f"{len(start):x}\r\n{start}\r\n"
        head = (f"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n{framing}\r\n"
                f"Authorization: Bearer {sess.key}\r\nContent-Type: application/json\r\n\r\n")  # fmt: skip
        with socket.create_connection((host, int(port)), timeout=10) as slow:
            slow.sendall((head + part).encode())  # and never the rest
            answer = read_answer(slow)
            assert _closed_within(slow, 5)
        [call] = proxy.calls(sess.id)
    status, _, body = answer.partition(b"\r\n\r\n")
    assert status.startswith(b"HTTP/1.1 408")
    assert json.loads(body)["error"]["code"] == "request_timeout"
    assert (call.outcome, call.status_code) == ("bad_request", 408)
    assert fake.state.requests == 0  # nothing reached the upstream


def test_admin_route_issues_session_keys_to_loopback_holders_of_the_token(
    fake, cli_env, tmp_path: Path
):
    env = {**cli_env, "CAB_PROXY_ADMIN_TOKEN": "admin-token-for-tests"}
    proc, url, printed = start_cli(["proxy", "--port", "0", "--upstream", fake.base_url + "/v1",
                                    "--upstream-key-env", KEY_ENV, "--require-session",
                                    "--session", "alice"], env)  # fmt: skip
    try:
        [line] = [p for p in printed if p.startswith("session alice: key cab-alice-")]
        alice = line.split("key ", 1)[1].strip()
        bad = httpx.post(url + "/admin/sessions", headers={"Authorization": "Bearer nope"})
        assert bad.status_code == 401 and bad.json()["error"]["code"] == "invalid_api_key"
        issued = httpx.post(url + "/admin/sessions", json={"name": "bob", "cell_id": "c1"},
                            headers={"Authorization": "Bearer admin-token-for-tests"}).json()  # fmt: skip
        assert issued["key"].startswith("cab-bob-") and issued["cell_id"] == "c1"
        odd = httpx.post(url + "/admin/sessions", json={"name": "eve", "upstream": "http://x/v1"},
                         headers={"Authorization": "Bearer admin-token-for-tests"})  # fmt: skip
        assert (
            odd.status_code == 400 and "unknown field(s) upstream" in odd.json()["error"]["message"]
        )
        for key in (alice, issued["key"]):
            with openai.OpenAI(base_url=url + "/v1", api_key=key, max_retries=0) as c:
                assert c.chat.completions.create(model="echo", messages=MSG).choices
        with (
            pytest.raises(openai.AuthenticationError),
            openai.OpenAI(base_url=url + "/v1", api_key="cab-bob", max_retries=0) as c,
        ):
            c.chat.completions.create(model="echo", messages=MSG)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=30)


def test_admin_route_is_off_without_a_token(proxy, monkeypatch):
    monkeypatch.delenv("CAB_PROXY_ADMIN_TOKEN", raising=False)
    assert httpx.post(proxy.base_url + "/admin/sessions").status_code == 404


def test_standalone_sessions_keep_no_calls_and_expire_when_idle_never_mid_call():
    store = SessionStore(implicit_reader=False)
    runner_sess = store.create(cell_id="cell")
    busy, idle = store.get_or_create("busy"), store.get_or_create("idle")
    store.begin(busy)  # e.g. its agent sits out a Retry-After between two calls
    store.begin(idle)
    store.add_call(idle, ModelCall.model_construct(seq=1, outcome="ok"))
    assert idle.calls == []  # nobody reads it from memory: calls.jsonl has it
    later = time.monotonic() + 10_000
    assert store.expire(idle_s=60, now=later) == 1
    assert store.get("idle") is None
    assert store.get("busy") is busy and store.get(runner_sess.id) is runner_sess


def test_metrics_gauge_counts_calls_in_flight(proxy, session):
    def hang() -> None:
        with contextlib.suppress(httpx.HTTPError):
            httpx.post(proxy.base_url + "/v1/chat/completions", timeout=1.5,
                       headers={"Authorization": f"Bearer {session.key}"},
                       json={"model": "fault/hang", "messages": MSG})  # fmt: skip

    thread = threading.Thread(target=hang, daemon=True)
    thread.start()
    wait_for(lambda: "cab_proxy_calls_in_flight 1" in httpx.get(proxy.base_url + "/metrics").text)
    thread.join(timeout=10)
    wait_for(lambda: "cab_proxy_calls_in_flight 0" in httpx.get(proxy.base_url + "/metrics").text)


class _KeepsBodies(BackgroundServer):
    """A test-only upstream: keeps each request body as it came, answers a short stream."""

    def __init__(self) -> None:
        super().__init__("127.0.0.1", 0)
        self.bodies: list[bytes] = []

    def _make_app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/v1/chat/completions", self.handle)
        return app

    async def handle(self, request: web.Request) -> web.StreamResponse:
        self.bodies.append(await request.read())
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await resp.prepare(request)
        done = {"choices": [{"index": 0, "delta": {"content": "ok"}, "finish_reason": "stop"}]}
        usage = {"choices": [], "usage": {"prompt_tokens": 3, "completion_tokens": 1,
                                          "total_tokens": 4}}  # fmt: skip
        for event in (done, usage):
            await resp.write(b"data: " + json.dumps(event).encode() + b"\n\n")
        await resp.write(b"data: [DONE]\n\n")
        await resp.write_eof()
        return resp


def test_ints_past_64_bits_reach_the_upstream_exactly_and_hash_as_documented(
    upstream_key, tmp_path
):
    """orjson reads an int past 64 bits as a float: a body the proxy re-wrote (it adds
    stream_options) sent the float on, and the request hash followed the float."""
    big, low = 2**64 + 1, -(2**63) - 1
    body = {"model": "m", "stream": True, "seed": big, "metadata": {"n": [low, 1.5]},
            "messages": [{"role": "user", "content": "x"}]}  # fmt: skip
    with (
        _KeepsBodies() as upstream,
        ProxyServer(
            upstream=upstream.base_url + "/v1", upstream_key_env=KEY_ENV, record_dir=tmp_path
        ) as proxy,  # fmt: skip
    ):
        sess = proxy.create_session(cell_id="bigints")
        resp = httpx.post(proxy.base_url + "/v1/chat/completions", json=body, timeout=10,
                          headers={"Authorization": f"Bearer {sess.key}"})  # fmt: skip
        [call] = proxy.calls(sess.id)
        proxy.close_session(sess.id)
    assert resp.status_code == 200 and call.outcome == "ok"
    [sent] = upstream.bodies
    forwarded = json.loads(sent)
    assert forwarded["seed"] == big and forwarded["metadata"] == {"n": [low, 1.5]}
    assert forwarded["stream_options"] == {"include_usage": True}
    kept = {k: v for k, v in body.items() if k != "stream"}
    canonical = json.dumps(kept, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert call.request_hash == "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()
    [transcript] = read_transcript(tmp_path)
    assert transcript.request_hash == call.request_hash
