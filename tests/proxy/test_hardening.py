"""Issue 11's security and record-correctness findings, each as a user would meet it:
a hostile client (path tricks) and a hostile provider (echoed keys, gzip, cut bodies,
dropped connections), against the real proxy and the fake upstream on loopback."""

from __future__ import annotations

import gzip
import http.client
import json
import logging
import socket
import tracemalloc
import zlib
from pathlib import Path

import httpx
import openai
import pytest

from proxy.observe import observe_object
from proxy.records import ModelCall
from proxy.server import ProxyServer
from proxy.transcripts import read_transcript

from .conftest import KEY_ENV, SECRET, read_answer

CHAT = "/v1/chat/completions"
MSG = [{"role": "user", "content": "a b c d e f g"}]


def raw_request(base_url: str, method: str, path: str, key: str) -> tuple[int, dict]:
    """Send `path` byte for byte (httpx and the SDK would normalise the dot segments)."""
    host, port = base_url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=10)
    try:
        conn.request(method, path, body=b"{}" if method == "POST" else None,
                     headers={"Authorization": f"Bearer {key}"})  # fmt: skip
        resp = conn.getresponse()
        return resp.status, json.loads(resp.read())
    finally:
        conn.close()


@pytest.mark.parametrize(
    "path",
    [
        "/v1/../admin",
        "/v1/%2e%2e/%2e%2e/secret",
        "/v1/..%2f..%2fbilling",
        "/v1/models/..%5c..%5cadmin",
        "/s/{sid}/v1/../../s3cr3t",
    ],
)
def test_path_that_leaves_the_upstream_base_is_refused(proxy, fake, session, path):
    seen_before = len(fake.state.seen)
    status, body = raw_request(proxy.base_url, "GET", path.format(sid=session.id), session.key)
    assert status == 400
    assert body["error"]["type"] == "invalid_request_error" and "'..'" in body["error"]["message"]
    [call] = proxy.calls(session.id)
    assert call.outcome == "bad_request" and call.status_code == 400
    assert call.upstream_status is None
    assert len(fake.state.seen) == seen_before  # nothing reached the upstream


def test_newline_in_the_path_gets_an_openai_answer_and_a_record(proxy, fake, session):
    status, body = raw_request(proxy.base_url, "POST", "/v1/chat%0acompletions", session.key)
    assert status == 400 and "control character" in body["error"]["message"]
    [call] = proxy.calls(session.id)
    assert call.outcome == "bad_request" and call.path == "/v1/chat\ncompletions"
    status, body = raw_request(proxy.base_url, "GET", "/nowhere%0aelse", session.key)
    assert status == 404 and body["error"]["code"] == "not_found"


def test_key_quoted_in_a_401_is_redacted_everywhere(proxy, session, record_dir, caplog):
    caplog.set_level(logging.DEBUG)
    resp = httpx.post(proxy.base_url + CHAT, headers={"Authorization": f"Bearer {session.key}"},
                      json={"model": "fault/401-echo-key", "messages": MSG})  # fmt: skip
    assert resp.status_code == 401
    assert SECRET not in resp.text and "[redacted]" in resp.json()["error"]["message"]
    assert SECRET not in str(resp.headers) and resp.headers["x-debug-key"] == "[redacted]"
    [call] = proxy.calls(session.id)
    assert call.outcome == "auth_error" and "[redacted]" in call.error
    assert SECRET not in call.model_dump_json()
    assert SECRET not in (record_dir / "calls.jsonl").read_text()
    assert SECRET not in caplog.text


@pytest.mark.parametrize("stream", [True, False])
def test_key_echoed_in_a_reply_is_redacted_even_split_across_chunks(proxy, session, client, stream):
    if stream:
        chunks = list(client.chat.completions.create(model="fault/echo-key", messages=MSG,
                                                     stream=True))  # fmt: skip
        text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    else:
        reply = client.chat.completions.create(model="fault/echo-key", messages=MSG)
        text = reply.choices[0].message.content or ""
    assert SECRET not in text and "[redacted]" in text
    [call] = proxy.calls(session.id)
    assert call.outcome == "ok" and SECRET not in (call.response_text or "")
    assert "[redacted]" in (call.response_text or "")


def test_gzip_reply_is_observed_decoded(proxy, session, client):
    reply = client.chat.completions.create(model="fault/gzip", messages=MSG)
    assert reply.choices[0].message.content.startswith("echo: ")
    [call] = proxy.calls(session.id)
    assert (call.outcome, call.tokens_source) == ("ok", "usage")
    assert call.prompt_tokens == reply.usage.prompt_tokens


def test_gzip_stream_is_complete_with_usage_and_no_chunk_the_client_did_not_ask_for(
    proxy, session, client
):
    chunks = list(client.chat.completions.create(model="fault/gzip", messages=MSG, stream=True))
    assert chunks and all(c.choices for c in chunks)  # no usage-only chunk
    assert all(c.usage is None for c in chunks)
    [call] = proxy.calls(session.id)
    assert (call.outcome, call.status_code, call.tokens_source) == ("ok", 200, "usage")
    assert call.finish_reason == "stop" and call.completion_tokens


def test_a_gzip_stream_that_inflates_to_64_mib_is_passed_on_in_pieces_not_held(fake, upstream_key):
    """`fault/gzip-bomb`: 64 KB on the wire that inflate to 64 MiB of SSE comments, then
    the reply. The client gets every decoded byte and the call is recorded whole, while
    the proxy never holds more than a few MiB of it (traced in this process, where the
    proxy, the fake and the client all run; the fake compresses 1 MiB at a time). No
    transcript: it would keep its own copy, up to its cap of 8 MiB per call."""
    body = {"model": "fault/gzip-bomb", "messages": MSG, "stream": True}
    received, tail = 0, b""
    with ProxyServer(upstream=fake.base_url + "/v1", upstream_key_env=KEY_ENV) as proxy:
        session = proxy.create_session(cell_id="gzip-bomb")
        tracemalloc.start()
        try:
            with httpx.stream("POST", proxy.base_url + CHAT, json=body, timeout=30,
                              headers={"Authorization": f"Bearer {session.key}"}) as resp:  # fmt: skip
                for data in resp.iter_raw(1 << 16):
                    received += len(data)
                    tail = (tail + data)[-4096:]
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        [call] = proxy.calls(session.id)
    assert resp.status_code == 200 and "content-encoding" not in resp.headers
    assert received > 64 * (1 << 20) and tail.endswith(b"data: [DONE]\n\n")
    assert (call.outcome, call.tokens_source, call.finish_reason) == ("ok", "usage", "stop")
    assert peak < 16 * (1 << 20), f"{peak / (1 << 20):.1f} MiB held at the peak"


def test_body_cut_midway_records_the_502_the_client_got(proxy, session):
    resp = httpx.post(proxy.base_url + CHAT, headers={"Authorization": f"Bearer {session.key}"},
                      json={"model": "fault/cut-body", "messages": MSG})  # fmt: skip
    assert resp.status_code == 502 and resp.json()["error"]["code"] == "upstream_cut"
    [call] = proxy.calls(session.id)
    assert (call.status_code, call.upstream_status, call.outcome) == (502, 200, "connection_error")


def test_body_stalled_midway_records_the_504_the_client_got(fake, upstream_key):
    with ProxyServer(upstream=fake.base_url + "/v1", upstream_key_env=KEY_ENV,
                     timeout=0.3) as proxy:  # fmt: skip
        sess = proxy.create_session(cell_id="stall-body")
        resp = httpx.post(proxy.base_url + CHAT, headers={"Authorization": f"Bearer {sess.key}"},
                          json={"model": "fault/stall-body", "messages": MSG}, timeout=30)  # fmt: skip
        assert resp.status_code == 504
        [call] = proxy.calls(sess.id)
    assert (call.status_code, call.upstream_status, call.outcome) == (504, 200, "timeout")


def test_a_dropped_connection_is_not_retried_silently(proxy, fake, session):
    auth = {"Authorization": f"Bearer {session.key}"}
    with httpx.Client(base_url=proxy.base_url) as http:
        assert http.get("/v1/models", headers=auth).status_code == 200  # pools a connection
        resp = http.get("/v1/models", headers={**auth, "x-fake-fault": "drop"})
    assert resp.status_code == 502
    assert [s for s in fake.state.seen if s == "GET /v1/models"] == ["GET /v1/models"] * 2
    calls = proxy.calls(session.id)
    assert [c.outcome for c in calls] == ["ok", "connection_error"]


def test_stream_with_finish_and_usage_but_no_done_is_complete(proxy, session, client):
    chunks = list(client.chat.completions.create(model="fault/no-done", messages=MSG, stream=True))
    assert chunks
    [call] = proxy.calls(session.id)
    assert (call.outcome, call.tokens_source, call.finish_reason) == ("ok", "usage", "stop")


def test_html_page_with_200_is_an_upstream_failure(proxy, session, client):
    with pytest.raises(openai.APIStatusError) as caught:
        client.chat.completions.create(model="fault/html-200", messages=MSG)
    assert caught.value.status_code == 502
    [call] = proxy.calls(session.id)
    assert (call.outcome, call.status_code, call.upstream_status) == (
        "upstream_malformed",
        502,
        200,
    )
    assert call.tokens_source is None and "text/html" in call.error


def test_a_200_with_no_answer_in_it_is_the_upstreams_failure(proxy, session):
    """An empty `choices`, or a stream that is `data: [DONE]` alone: the provider ended
    without answering (overloaded gateways do), which must not read as the agent's call
    that went well and said nothing. Whole: 502; streamed: the client already has its 200."""
    auth = {"Authorization": f"Bearer {session.key}"}
    whole = httpx.post(proxy.base_url + CHAT, headers=auth, timeout=10,
                       json={"model": "fault/empty-answer", "messages": MSG})  # fmt: skip
    assert whole.status_code == 502 and whole.json()["error"]["code"] == "upstream_malformed"
    streamed = httpx.post(proxy.base_url + CHAT, headers=auth, timeout=10,
                          json={"model": "fault/empty-answer", "messages": MSG, "stream": True})  # fmt: skip
    assert streamed.status_code == 200 and streamed.text.strip() == "data: [DONE]"
    first, second = proxy.calls(session.id, settle_s=2)
    assert (first.outcome, first.status_code, first.upstream_status, first.tokens_source) == (
        "upstream_malformed", 502, 200, None)  # fmt: skip
    assert "no answer" in (first.error or "")
    assert (second.outcome, second.status_code, second.tokens_source) == (
        "upstream_malformed", 200, None)  # fmt: skip
    assert "no answer" in (second.error or "")


@pytest.mark.parametrize(
    ("api", "reply"),
    [
        ("chat", {}),
        ("chat", {"id": "x", "object": "chat.completion", "choices": []}),
        ("completions", {"choices": []}),
        ("responses", {"id": "r", "object": "response", "status": "completed"}),
        ("responses", {"object": "response", "output": []}),  # no status, no usage
        ("embeddings", {"object": "list"}),
    ],
)
def test_a_json_object_with_no_answer_is_not_of_the_apis_shape(api, reply):
    assert observe_object(api, reply).malformed is not None


@pytest.mark.parametrize(
    ("api", "reply"),
    [
        ("chat", {"choices": [{"message": {"content": ""}, "finish_reason": "stop"}]}),
        ("chat", {"choices": [{"message": {"content": "hi"}}]}),  # no finish, no usage
        ("chat", {"choices": [], "usage": {"prompt_tokens": 3, "completion_tokens": 0}}),
        ("chat", {"error": {"message": "quota", "code": "rate_limit_exceeded"}}),
        (
            "responses",
            {"object": "response", "output": [], "usage": {"input_tokens": 3, "output_tokens": 0}},
        ),
        ("embeddings", {"object": "list", "data": []}),
        ("responses", {"object": "response", "status": "completed", "output": []}),
        ("models", {"id": "gpt-x", "object": "model"}),
    ],
)
def test_a_json_object_with_an_answer_is_of_the_apis_shape(api, reply):
    assert observe_object(api, reply).malformed is None


def test_records_file_holds_no_key(proxy, session, client, record_dir: Path):
    client.chat.completions.create(model="echo", messages=MSG)
    proxy.calls(session.id)
    assert SECRET not in (record_dir / "calls.jsonl").read_text()


def test_provider_cookies_are_never_kept_nor_sent_for_anyone(fake, upstream_key):
    """A provider that sets a cookie (Cloudflare's `__cf_bm` on real APIs) must not have it
    replayed by the proxy on later calls, least of all on another session's. The upstream
    is named by host name, as a real one is (cookies of a bare IP are never kept)."""
    upstream = fake.base_url.replace("127.0.0.1", "localhost") + "/v1"
    with ProxyServer(upstream=upstream, upstream_key_env=KEY_ENV) as proxy:
        said = []
        for cell in ("one", "two"):
            key = proxy.create_session(cell_id=cell).key
            resp = httpx.post(proxy.base_url + CHAT, headers={"Authorization": f"Bearer {key}"},
                              json={"model": "fault/set-cookie", "messages": MSG})  # fmt: skip
            assert resp.status_code == 200
            assert resp.headers["set-cookie"].startswith("provider_session=")  # passed on as is
            said.append(resp.json()["choices"][0]["message"]["content"].split(" ")[1:3])
    assert said == [["cookie:", "none"], ["cookie:", "none"]]


def test_a_redirect_is_not_followed_with_the_key(proxy, fake, session):
    """The proxy sends the real key to the one upstream it was given; a 3xx is answered as
    the upstream failure it is (502, recorded with the upstream's status), never followed."""
    before = len(fake.state.authorizations)
    resp = httpx.post(proxy.base_url + CHAT, headers={"Authorization": f"Bearer {session.key}"},
                      json={"model": "fault/redirect", "messages": MSG})  # fmt: skip
    assert resp.status_code == 502 and "307" in resp.json()["error"]["message"]
    assert len(fake.state.authorizations) == before + 1  # one request upstream, not two
    [call] = proxy.calls(session.id)
    assert (call.status_code, call.upstream_status, call.outcome) == (
        502, 307, "upstream_malformed")  # fmt: skip


# -- a provider whose JSON has values of the wrong types ------------------------------


def _records_as_read(record_dir: Path) -> list[ModelCall]:
    """calls.jsonl as any reader reads it: every line must validate."""
    return [ModelCall.model_validate_json(line)
            for line in (record_dir / "calls.jsonl").read_text().splitlines()]  # fmt: skip


@pytest.mark.parametrize("stream", [False, True])
def test_values_of_the_wrong_type_reach_the_client_and_leave_records_anyone_can_read(
    proxy, session, record_dir, stream
):
    """finish_reason 7, content a list, a tool call named 9: the client gets the reply as
    the provider sent it, and the record (and transcript) keep only what has its type."""
    body = {"model": "fault/odd-types", "messages": MSG, "stream": stream}
    resp = httpx.post(proxy.base_url + CHAT, headers={"Authorization": f"Bearer {session.key}"},
                      json=body, timeout=10)  # fmt: skip
    assert resp.status_code == 200
    assert b'"finish_reason": 7' in resp.content and b'"name": 9' in resp.content
    [call] = proxy.calls(session.id, settle_s=2)
    assert (call.outcome, call.status_code) == ("ok", 200)
    assert call.finish_reason is None and call.tool_calls == []
    [read] = _records_as_read(record_dir)
    assert read == call
    proxy.close_session(session.id)  # the transcript's gzip member is complete
    [kept] = read_transcript(record_dir)
    assert kept.reply is not None and kept.reply.finish_reason is None
    assert kept.raw is not None  # the upstream's bytes (a stream's usage chunk too)
    assert all(line in kept.raw.data() for line in resp.content.split(b"\n\n"))


@pytest.mark.parametrize("stream", [False, True])
def test_a_responses_reply_of_the_wrong_types_reaches_the_client_and_leaves_a_valid_record(
    proxy, session, record_dir, stream
):
    """The Responses API the same way: `status` 7, text and deltas as lists."""
    resp = httpx.post(proxy.base_url + "/v1/responses", timeout=10,
                      headers={"Authorization": f"Bearer {session.key}"},
                      json={"model": "fault/odd-types", "input": "hi", "stream": stream})  # fmt: skip
    assert resp.status_code == 200 and b'"status": 7' in resp.content
    [call] = proxy.calls(session.id, settle_s=2)
    assert (call.outcome, call.finish_reason, call.response_text) == ("ok", None, None)
    assert _records_as_read(record_dir) == [call]
    misshapen = httpx.post(proxy.base_url + "/v1/responses", timeout=10,
                           headers={"Authorization": f"Bearer {session.key}"},
                           json={"model": "fault/misshapen", "input": "hi"})  # fmt: skip
    assert misshapen.status_code == 502  # `output` a string: not the API's JSON


def test_a_whole_reply_not_of_the_apis_shape_is_the_upstreams_failure(proxy, session):
    """`choices` a string: not the API's JSON, as an HTML page is not (502, recorded
    upstream_malformed), never the proxy's own 500."""
    resp = httpx.post(proxy.base_url + CHAT, headers={"Authorization": f"Bearer {session.key}"},
                      json={"model": "fault/misshapen", "messages": MSG}, timeout=10)  # fmt: skip
    assert resp.status_code == 502 and resp.json()["error"]["code"] == "upstream_malformed"
    [call] = proxy.calls(session.id, settle_s=2)
    assert (call.outcome, call.status_code, call.upstream_status) == (
        "upstream_malformed", 502, 200)  # fmt: skip
    assert "shape" in (call.error or "")


def test_a_misshapen_stream_is_forwarded_whole_and_recorded_with_what_was_wrong(
    proxy, session, client
):
    chunks = list(client.chat.completions.with_raw_response.create(
        model="fault/misshapen", messages=MSG, stream=True).http_response.iter_lines())  # fmt: skip
    assert any("the provider's own words" in line for line in chunks)
    assert chunks[-1] == "data: [DONE]" or chunks[-2:] == ["data: [DONE]", ""]
    [call] = proxy.calls(session.id, settle_s=2)
    assert (call.outcome, call.status_code) == ("ok", 200)
    assert call.error is not None and "unexpected shape" in call.error


def test_a_transcript_that_cannot_be_written_costs_the_call_nothing(fake, upstream_key, tmp_path):
    """The record is kept, the session's reader gets it at once, the client its reply."""
    (tmp_path / "transcript.jsonl.gz").mkdir()  # where the transcript goes: unwritable
    with ProxyServer(upstream=fake.base_url + "/v1", upstream_key_env=KEY_ENV,
                     record_dir=tmp_path, require_session=True) as proxy:  # fmt: skip
        sess = proxy.create_session(cell_id="no-transcript")
        with openai.OpenAI(base_url=proxy.base_url + "/v1", api_key=sess.key,
                           max_retries=0) as c:  # fmt: skip
            reply = c.chat.completions.create(model="echo", messages=MSG)
        [call] = proxy.calls(sess.id, settle_s=30)
    assert reply.choices[0].message.content and call.outcome == "ok"
    assert [r.seq for r in _records_as_read(tmp_path)] == [call.seq]


def test_the_upstream_sees_the_clients_user_agent_or_none(proxy, fake, session):
    """The proxy adds no User-Agent of its own (aiohttp's) to a client that sent none."""
    host, port = proxy.base_url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=10)  # sends no User-Agent
    try:
        conn.request("POST", CHAT, body=json.dumps({"model": "echo", "messages": MSG}),
                     headers={"Authorization": f"Bearer {session.key}",
                              "Content-Type": "application/json"})  # fmt: skip
        assert conn.getresponse().status == 200
    finally:
        conn.close()
    resp = httpx.post(proxy.base_url + CHAT, json={"model": "echo", "messages": MSG},
                      headers={"Authorization": f"Bearer {session.key}",
                               "User-Agent": "agent-cli/1.2"})  # fmt: skip
    assert resp.status_code == 200
    assert list(fake.state.user_agents)[-2:] == [None, "agent-cli/1.2"]


@pytest.mark.parametrize(("model", "upstream_status"), [("echo", 200), ("fault/500", 500)])
def test_a_whole_reply_over_the_limit_is_refused_not_held(
    fake, upstream_key, record_dir, model, upstream_status
):
    """`--max-reply-bytes`: a larger whole reply (or error body) is a 502, recorded as the
    upstream's failure; a stream is not a whole reply and is not limited."""
    with ProxyServer(upstream=fake.base_url + "/v1", upstream_key_env=KEY_ENV,
                     record_dir=record_dir, max_reply_bytes=64) as proxy:  # fmt: skip
        sess = proxy.create_session(cell_id="small-limit")
        auth = {"Authorization": f"Bearer {sess.key}"}
        resp = httpx.post(proxy.base_url + CHAT, headers=auth,
                          json={"model": model, "messages": MSG}, timeout=10)  # fmt: skip
        streamed = httpx.post(proxy.base_url + CHAT, headers=auth, timeout=10,
                              json={"model": "echo", "messages": MSG, "stream": True})  # fmt: skip
        first, second = proxy.calls(sess.id, settle_s=5)
    assert resp.status_code == 502 and resp.json()["error"]["code"] == "upstream_malformed"
    assert "--max-reply-bytes" in resp.json()["error"]["message"]
    assert (first.outcome, first.status_code, first.upstream_status) == (
        "upstream_malformed", 502, upstream_status)  # fmt: skip
    assert streamed.status_code == 200 and b"[DONE]" in streamed.content
    assert (second.outcome, second.tokens_source) == ("ok", "usage")


def test_a_gzip_reply_that_decodes_past_the_limit_is_refused_not_inflated(
    fake, upstream_key, record_dir
):
    """A small compressed body that inflates past `--max-reply-bytes` (a gzip bomb, at
    scale) is refused as the upstream's failure; under the limit it is read as usual."""
    msg = [{"role": "user", "content": "a " * 100}]  # ~240 bytes on the wire, ~600 decoded
    with ProxyServer(upstream=fake.base_url + "/v1", upstream_key_env=KEY_ENV,
                     record_dir=record_dir, max_reply_bytes=400) as proxy:  # fmt: skip
        sess = proxy.create_session(cell_id="bomb")
        resp = httpx.post(proxy.base_url + CHAT, headers={"Authorization": f"Bearer {sess.key}"},
                          json={"model": "fault/gzip", "messages": msg}, timeout=10)  # fmt: skip
        [call] = proxy.calls(sess.id, settle_s=5)
    assert resp.status_code == 502 and "decodes to more than" in resp.json()["error"]["message"]
    assert (call.outcome, call.upstream_status) == ("upstream_malformed", 200)
    with ProxyServer(upstream=fake.base_url + "/v1", upstream_key_env=KEY_ENV,
                     record_dir=record_dir / "roomy", max_reply_bytes=700) as proxy:  # fmt: skip
        sess = proxy.create_session(cell_id="no-bomb")
        resp = httpx.post(proxy.base_url + CHAT, headers={"Authorization": f"Bearer {sess.key}"},
                          json={"model": "fault/gzip", "messages": msg}, timeout=10)  # fmt: skip
        [call] = proxy.calls(sess.id, settle_s=5)
    assert resp.status_code == 200 and (call.outcome, call.tokens_source) == ("ok", "usage")


@pytest.mark.parametrize(
    "wire",
    [
        b"Authorization: Bearer {key}" + b"a" * 9000 + b"\r\n\r\n",
        b"Content-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n{}",
        b"X-A: a\r\n b\r\n\r\n",
    ],
    ids=["a header over 8 KB", "two body lengths", "a folded header"],
)
def test_a_request_http_cannot_parse_gets_the_openai_error_and_a_record(
    proxy, session, record_dir, caplog, wire
):
    """Refused by aiohttp's parser before any handler ran: still the OpenAI envelope (not
    aiohttp's text) and a record, and neither the record nor the log quotes the bytes."""
    host, port = proxy.base_url.removeprefix("http://").split(":")
    head = b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n"
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(head + wire.replace(b"{key}", session.key.encode()))
        reply = b""
        while chunk := sock.recv(65536):
            reply += chunk
    status_line, _, rest = reply.partition(b"\r\n")
    headers, _, body = rest.partition(b"\r\n\r\n")
    assert b" 400 " in status_line and b"application/json" in headers.lower(), reply[:300]
    error = json.loads(body)["error"]
    assert error["type"] == "invalid_request_error" and error["message"].startswith("malformed")
    proxy.calls(session.id, settle_s=0)  # flushes calls.jsonl
    [line] = (record_dir / "calls.jsonl").read_text().splitlines()
    call = ModelCall.model_validate_json(line)
    assert (call.method, call.outcome, call.status_code) == ("UNKNOWN", "bad_request", 400)
    assert session.key not in line and session.key not in caplog.text


def _exchange(base_url: str, wire: bytes) -> tuple[bytes, bytes, bytes]:
    """Send `wire` as is; the status line, headers and body of the one answer."""
    host, port = base_url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(wire)
        reply = read_answer(sock)
    status_line, _, rest = reply.partition(b"\r\n")
    headers, _, body = rest.partition(b"\r\n\r\n")
    return status_line, headers, body


@pytest.mark.parametrize(
    ("wire", "status", "method"),
    [
        (b"CONNECT evil.example:443 HTTP/1.1\r\nHost: evil.example:443\r\n\r\n", 404, "CONNECT"),
        (b"OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n", 404, "OPTIONS"),
        (b"POST /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n", 404, "POST"),
    ],
    ids=["CONNECT host:port", "OPTIONS *", "POST /healthz"],
)
def test_a_request_no_route_takes_gets_the_openai_error_and_a_record(
    proxy, session, record_dir, wire, status, method
):
    """aiohttp's router answered a target that is not a path in plain text (`404: Not
    Found`) and nothing recorded it: every request gets the envelope and a record."""
    status_line, headers, body = _exchange(proxy.base_url, wire)
    assert f" {status} ".encode() in status_line and b"application/json" in headers.lower()
    error = json.loads(body)["error"]
    assert error["type"] == "invalid_request_error"
    proxy.calls(session.id, settle_s=0)  # flushes calls.jsonl
    [line] = (record_dir / "calls.jsonl").read_text().splitlines()
    call = ModelCall.model_validate_json(line)
    assert (call.method, call.status_code) == (method, status)
    assert call.outcome == "bad_request"


def test_an_expectation_other_than_100_continue_is_ignored_not_a_plain_417(proxy, session):
    """RFC 9110 lets a server ignore an expectation it does not know; aiohttp answered a
    plain-text 417 that no record kept. `Expect: 100-continue` still gets its 100."""
    body = json.dumps({"model": "echo", "messages": MSG}).encode()
    head = (b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Authorization: Bearer " + session.key.encode() + b"\r\nConnection: close\r\n"
            b"Content-Length: %d\r\n" % len(body))  # fmt: skip
    status_line, _, reply = _exchange(proxy.base_url, head + b"Expect: 200-ok\r\n\r\n" + body)
    assert b" 200 " in status_line and json.loads(reply)["choices"]
    status_line, then, _ = _exchange(proxy.base_url, head + b"Expect: 100-continue\r\n\r\n" + body)
    assert b" 100 " in status_line and b" 200 " in then
    assert [c.outcome for c in proxy.calls(session.id, settle_s=2)] == ["ok", "ok"]


def test_a_compressed_request_body_is_decoded_bounded_and_sent_on_as_identity(
    proxy, session, record_dir
):
    """The upstream gets the body decoded, without the header (before: the decoded body
    with `Content-Encoding: gzip`, which the upstream could not read). A body that
    inflates past --max-body-bytes is refused before it is inflated whole; an encoding
    the proxy cannot decode is refused by name."""
    auth = {"Authorization": f"Bearer {session.key}", "Content-Type": "application/json"}
    body = json.dumps({"model": "echo", "messages": MSG}).encode()
    url = proxy.base_url + CHAT
    plain = httpx.post(url, content=body, headers=auth, timeout=10)
    packed = httpx.post(url, content=gzip.compress(body), timeout=10,
                        headers={**auth, "Content-Encoding": "gzip"})  # fmt: skip
    packer = zlib.compressobj(wbits=31)
    bomb = b"".join(packer.compress(b" " * (1 << 20)) for _ in range(40)) + packer.flush()
    too_big = httpx.post(
        url, content=bomb, timeout=10, headers={**auth, "Content-Encoding": "gzip"}
    )
    brotli = httpx.post(url, content=body, timeout=10, headers={**auth, "Content-Encoding": "br"})
    calls = proxy.calls(session.id)
    assert packed.status_code == 200 and packed.json()["choices"] == plain.json()["choices"]
    assert calls[1].request_hash == calls[0].request_hash and calls[1].outcome == "ok"
    assert too_big.status_code == 413 and "decodes to more" in too_big.json()["error"]["message"]
    assert brotli.status_code == 415 and "'br'" in brotli.json()["error"]["message"]
    assert [c.status_code for c in calls[2:]] == [413, 415]


def test_head_gets_the_upstreams_answer_without_a_body(proxy, session):
    resp = httpx.head(proxy.base_url + "/v1/models", timeout=10,
                      headers={"Authorization": f"Bearer {session.key}"})  # fmt: skip
    [call] = proxy.calls(session.id)
    assert resp.status_code == 200 and (call.outcome, call.status_code) == ("ok", 200)


@pytest.mark.parametrize("api", ["chat", "responses"])
@pytest.mark.parametrize(
    ("model", "stream", "outcome", "says"),
    [
        ("fault/200-rate-limit", False, "rate_limited", "Rate limit reached"),
        ("fault/200-rate-limit", True, "rate_limited", "Rate limit reached"),
        ("fault/200-overloaded", True, "upstream_error", "Overloaded"),
        ("fault/200-credit", True, "auth_error", "Insufficient credits"),  # the account's
    ],
)
def test_an_error_inside_a_200_is_the_providers_failure_not_an_ok_call(
    proxy, session, model, stream, outcome, says, api
):
    """A quota that bites mid-stream (or a gateway's 200 whose body is an error) must not
    be recorded `ok` (before: the whole 200 and a stream that still sent [DONE]) nor a
    cut connection that lost the provider's words; the governor counts it as a 429."""
    path, asked = (CHAT, {"messages": MSG}) if api == "chat" else ("/v1/responses", {"input": "hi"})
    resp = httpx.post(proxy.base_url + path, headers={"Authorization": f"Bearer {session.key}"},
                      json={"model": model, "stream": stream, **asked}, timeout=10)  # fmt: skip
    [call] = proxy.calls(session.id)
    assert resp.status_code == 200 and says.encode() in resp.content  # passed on as sent
    assert (call.outcome, call.status_code, call.upstream_status) == (outcome, 200, 200)
    assert says in (call.error or "")
    [lane] = proxy.governor_stats().values()
    assert lane.throttled == (outcome == "rate_limited")


def test_an_answer_that_is_not_http_is_the_upstreams_malformed_answer(proxy, session):
    """Another server's banner where HTTP was due: the upstream answered, with nothing
    the proxy can read (502 upstream_malformed), not an unreachable upstream."""
    resp = httpx.post(proxy.base_url + CHAT, headers={"Authorization": f"Bearer {session.key}"},
                      json={"model": "fault/not-http", "messages": MSG}, timeout=10)  # fmt: skip
    [call] = proxy.calls(session.id)
    assert resp.status_code == 502 and resp.json()["error"]["code"] == "upstream_malformed"
    assert (call.outcome, call.status_code) == ("upstream_malformed", 502)
    assert "not HTTP" in (call.error or "")


@pytest.mark.parametrize("stream", [False, True])
def test_a_reply_labelled_gzip_that_is_not_gzip_is_the_upstreams_malformed_answer(
    proxy, session, stream
):
    """The label lies (`fault/gzip-lie`): the whole reply is refused as the upstream's
    (502; before, it was forwarded as it came and recorded ok) and a stream is cut where
    it stops decoding; neither is an ok call."""
    auth = {"Authorization": f"Bearer {session.key}"}
    body = {"model": "fault/gzip-lie", "messages": MSG, "stream": stream}
    if stream:
        with (
            pytest.raises(httpx.HTTPError),
            httpx.stream("POST", proxy.base_url + CHAT, json=body, headers=auth, timeout=10) as cut,
        ):
            cut.read()
    else:
        resp = httpx.post(proxy.base_url + CHAT, json=body, headers=auth, timeout=10)
        assert resp.status_code == 502 and resp.json()["error"]["code"] == "upstream_malformed"
    [call] = proxy.calls(session.id)
    assert (call.outcome, call.upstream_status) == ("upstream_malformed", 200)
    assert call.status_code == (200 if stream else 502)  # a stream had its status line
    assert "gzip" in (call.error or "")


def test_a_request_body_labelled_gzip_that_is_not_gzip_is_refused(proxy, session):
    resp = httpx.post(proxy.base_url + CHAT, timeout=10,
                      content=json.dumps({"model": "echo", "messages": MSG}).encode(),
                      headers={"Authorization": f"Bearer {session.key}",
                               "Content-Encoding": "gzip"})  # fmt: skip
    [call] = proxy.calls(session.id)
    assert resp.status_code == 400 and "not valid gzip" in resp.json()["error"]["message"]
    assert (call.outcome, call.status_code) == ("bad_request", 400)


def test_a_stream_whose_lines_end_with_a_lone_cr_is_observed_whole(
    proxy, session, client, record_dir
):
    """SSE ends a line with CRLF, LF or a lone CR. Before, a lone-CR stream was passed on
    intact but recorded `connection_error` (its end never seen) with estimated tokens."""
    said = "".join(
        c.choices[0].delta.content or ""
        for c in client.chat.completions.create(model="fault/cr-lines", messages=MSG, stream=True)
        if c.choices  # the usage chunk the proxy asked for is not passed on
    )
    events = list(client.responses.create(model="fault/cr-lines", input="a b", stream=True))
    assert said.startswith("echo") and events[-1].type == "response.completed"
    chat, responses = proxy.calls(session.id)
    for call in (chat, responses):
        assert (call.outcome, call.status_code, call.error) == ("ok", 200, None)
        assert call.tokens_source == "usage" and call.finish_reason in ("stop", "completed")
    assert chat.response_text == said and (responses.response_text or "").startswith("echo")
    proxy.close_session(session.id)  # the transcript's gzip member is complete
    kept = read_transcript(record_dir)
    assert [k.reply.content if k.reply else None for k in kept] == [
        said,
        responses.response_text,
    ]


@pytest.mark.parametrize(
    ("depth", "status", "outcome"), [(300, 200, "ok"), (1000, 400, "bad_request")]
)
def test_a_deeply_nested_body_is_forwarded_or_refused_never_the_proxys_crash(
    proxy, session, depth, status, outcome
):
    """orjson writes 255 levels and reads 1024; the standard library, up to its recursion
    limit. Before, a body ~1000 deep was the proxy's own 500, recorded `connection_error`
    (an infra failure a client could cause); 300 deep and streamed was that too."""
    nested = "[" * depth + "1" + "]" * depth
    raw = f'{{"model": "echo", "stream": true, "messages": {json.dumps(MSG)}, "x": {nested}}}'
    resp = httpx.post(proxy.base_url + CHAT, content=raw, timeout=10,
                      headers={"Authorization": f"Bearer {session.key}",
                               "Content-Type": "application/json"})  # fmt: skip
    [call] = proxy.calls(session.id)
    assert (resp.status_code, call.outcome, call.status_code) == (status, outcome, status)
    if status == 400:
        assert resp.json()["error"]["type"] == "invalid_request_error"
        assert "nested too deeply" in resp.json()["error"]["message"]


def test_a_model_name_of_megabytes_is_forwarded_but_not_kept_whole(proxy, fake, session):
    """The client chooses the model name: before, a 1 MB one went into every record
    twice (model, requested_model)."""
    name = "m" * 1_000_000
    resp = httpx.post(proxy.base_url + CHAT, json={"model": name, "messages": MSG}, timeout=10,
                      headers={"Authorization": f"Bearer {session.key}"})  # fmt: skip
    assert resp.status_code == 200 and resp.json()["model"] == name  # the upstream got it whole
    [call] = proxy.calls(session.id)
    assert call.model == call.requested_model == "m" * 255 + "…"
