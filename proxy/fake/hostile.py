"""A hostile provider, for the proxy's hardening tests: `fault/<name>` models that
misbehave the ways real providers and gateways do.

| model | what the caller gets |
|---|---|
| `fault/401-echo-key` | 401 whose message and `x-debug-key` header quote the key it was sent |
| `fault/echo-key` | a normal reply whose text quotes the key; streamed, the key is split across two writes 20 ms apart (so it arrives in two chunks) |
| `fault/html-200` | 200 `text/html` (a gateway's login or error page) |
| `fault/empty-answer` | a 200 with no answer in it: whole, a `chat.completion` whose `choices` is empty; streamed, `data: [DONE]` alone (as an overloaded gateway may end a stream at once); on Responses, a `response` with no output, status or usage, or a stream with no event |
| `fault/not-http` | bytes that are not HTTP (another server's banner), then the connection closed |
| `fault/gzip` | the normal reply gzip-encoded (`Content-Encoding: gzip`) whatever was asked |
| `fault/gzip-lie` | the normal reply, plain, labelled `Content-Encoding: gzip` |
| `fault/gzip-bomb` | as `fault/gzip`; streamed, the events come after 64 SSE comments of 1 MiB each, all in one write of 64 KB that inflates to 64 MiB |
| `fault/reject-stream-options` | 400 "Unrecognized request argument supplied: stream_options" when the body has `stream_options`, else normal |
| `fault/no-done` | a stream with finish_reason and usage that ends without `data: [DONE]` |
| `fault/cr-lines` | the normal stream with every line ended by a lone CR (SSE allows CRLF, LF or CR) |
| `fault/cut-after-end` | the normal stream, every event of it, then the connection dropped without ending the chunked body |
| `fault/slow-close` | the normal stream, whose connection stays open `SLOW_CLOSE_S` after its last event (the end of the chunked body comes late) |
| `fault/cut-body` | a non-streamed 200 whose body stops half-way (connection dropped) |
| `fault/stall-body` | a non-streamed 200 that sends half its body, then nothing for `hang_s` |
| `fault/set-cookie` | a normal reply with `Set-Cookie: provider_session=...`; its text says which `Cookie` the request carried (`cookie: <value or none>`) |
| `fault/redirect` | 307 to `/v1/chat/completions` on the same host (as a gateway moving an API might) |
| `fault/odd-types` | the normal chat reply with values of the wrong JSON types: `finish_reason` 7, `content` a list, a tool call whose `id` and `name` are numbers and whose `arguments` is an object; on Responses, `status` 7 and text and deltas as lists |
| `fault/misshapen` | a chat reply whose `choices` is a string (whole) or holds a string (streamed); on Responses, a `response` whose `output` is a string |
| `fault/200-rate-limit` | a 200 that is an error (as gateways send one): whole, the body is `{"error": {"code": "rate_limit_exceeded", ...}}`; streamed, two content events, then that error as an event, then the end (no `[DONE]`) |
| `fault/200-overloaded` | the same with Anthropic's `{"type": "error", "error": {"type": "overloaded_error", ...}}` (streamed after `event: error`); on `/v1/responses` all three stream the Responses API's own `error` event |
| `fault/200-credit` | the same with OpenRouter's `{"error": {"code": 402, "message": "Insufficient credits..."}}`: the account ran dry after the 200 |
| header `x-fake-fault: drop` (any route) | the connection is closed without an answer |

`before()` answers instead of the normal reply; `after()` delivers the normal reply
differently. Both return None when the model is none of theirs.
"""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import json
import zlib
from collections.abc import Iterable
from typing import Any

from aiohttp import web

from proxy.errors import error_body

#: a 200 that carries an error, whole or as a stream event: what the error says
ERROR_IN_200: dict[str, dict[str, Any]] = {
    "fault/200-rate-limit": {
        "error": {
            "message": "Rate limit reached for requests per min (RPM): Limit 3, Used 3",
            "type": "requests",
            "param": None,
            "code": "rate_limit_exceeded",
        }
    },
    "fault/200-overloaded": {
        "type": "error",
        "error": {"type": "overloaded_error", "message": "Overloaded"},
    },
    "fault/200-credit": {  # as OpenRouter ends a stream when the account's credit ran out
        "error": {"code": 402, "message": "Insufficient credits. Add more credits to continue."}
    },
}
AFTER = ("fault/gzip", "fault/gzip-bomb", "fault/gzip-lie", "fault/echo-key", "fault/no-done",
         "fault/cut-body", "fault/slow-close", "fault/cr-lines", "fault/cut-after-end",
         "fault/stall-body", "fault/set-cookie", "fault/odd-types", "fault/misshapen",
         *ERROR_IN_200)  # fmt: skip
ODD_TOOL_CALL = {
    "index": 0,
    "id": 5,
    "type": "function",
    "function": {"name": 9, "arguments": {"a": 1}},
}
GZIP = ("fault/gzip", "fault/gzip-bomb")
#: labelled gzip: those, and one whose bytes are not gzip at all
LABELLED_GZIP = (*GZIP, "fault/gzip-lie")
BOMB_COMMENTS, BOMB_COMMENT_BYTES = 64, 1 << 20
#: how long `fault/slow-close` keeps a stream open after its last event
SLOW_CLOSE_S = 1.0
HTML = b"<!DOCTYPE html><html><head><title>Sign in</title></head><body>Sign in</body></html>"


def presented_key(request: web.Request) -> str:
    auth = request.headers.get("Authorization", "")
    return auth[7:] if auth.lower().startswith("bearer ") else auth


def dropped(request: web.Request) -> bool:
    """`x-fake-fault: drop`: close the connection without a word (True when done)."""
    if request.headers.get("x-fake-fault") != "drop" or request.transport is None:
        return False
    request.transport.close()
    return True


def before(request: web.Request, model: str, body: dict) -> web.Response | None:
    if model == "fault/401-echo-key":
        key = presented_key(request)
        msg = f"Incorrect API key provided: {key}. You can find your API key at example."
        return web.Response(
            status=401,
            body=error_body(msg, "invalid_request_error", "invalid_api_key"),
            content_type="application/json",
            headers={"x-debug-key": key},
        )
    if model == "fault/html-200":
        return web.Response(body=HTML, content_type="text/html")
    if model == "fault/empty-answer":
        return empty_answer(request, bool(body.get("stream")))
    if model == "fault/not-http" and request.transport is not None:
        request.transport.write(b"SSH-2.0-OpenSSH_9.6\r\n\r\n")  # another server's banner
        request.transport.close()
        return web.Response()
    if model == "fault/redirect":
        return web.Response(status=307, headers={"Location": "/v1/chat/completions"})
    if model == "fault/reject-stream-options" and "stream_options" in body:
        msg = "Unrecognized request argument supplied: stream_options"
        return web.Response(
            status=400,
            body=error_body(msg, "invalid_request_error", None),
            content_type="application/json",
        )
    return None


def empty_answer(request: web.Request, stream: bool) -> web.Response:
    """A 200 with no answer in it: streamed, `data: [DONE]` alone (Responses: no event at
    all); whole, a `chat.completion` with an empty `choices` (Responses: a `response`
    with no output, status or usage)."""
    responses = request.path.rstrip("/").endswith("/responses")
    if stream:
        return web.Response(body=b"" if responses else b"data: [DONE]\n\n",
                            content_type="text/event-stream")  # fmt: skip
    if responses:
        return web.json_response({"id": "resp_empty", "object": "response", "output": []})
    return web.json_response({"id": "chatcmpl-empty", "object": "chat.completion", "choices": []})


async def after(
    request: web.Request, model: str, whole: bytes | None, events: Iterable[bytes] | None
) -> web.StreamResponse | None:
    """Deliver the normal reply (`whole` body, or stream `events`) the hostile way."""
    if model not in AFTER:
        return None
    if model == "fault/echo-key":
        return await _echo_key(request, whole, events)
    if model == "fault/set-cookie" and whole is not None:
        said = "cookie: " + request.headers.get("Cookie", "none") + " "
        return web.Response(body=whole.replace(b"echo: ", b"echo: " + said.encode(), 1),
                            content_type="application/json",
                            headers={"Set-Cookie": "provider_session=abc123; Path=/"})  # fmt: skip
    if model in ("fault/odd-types", "fault/misshapen"):
        return await _wrong_types(request, model, whole, events)
    if model in ERROR_IN_200:
        return await error_in_200(request, ERROR_IN_200[model], whole is not None, events)
    if whole is not None:
        if model in ("fault/slow-close", "fault/cr-lines", "fault/cut-after-end"):  # streams
            return web.Response(body=whole, content_type="application/json")
        return await _whole(request, model, whole)
    resp = web.StreamResponse(headers=_stream_headers(model))
    await resp.prepare(request)
    packer = zlib.compressobj(wbits=31) if model in GZIP else None
    if model == "fault/gzip-bomb" and packer is not None:
        await resp.write(_bomb(packer))
    # the caller may hang up (a proxy refusing a stream it cannot read): nothing to report
    with contextlib.suppress(ConnectionResetError):
        for event in events or ():
            if model == "fault/no-done" and event.startswith(b"data: [DONE]"):
                break
            if model == "fault/cr-lines":
                event = event.replace(b"\n", b"\r")
            if packer is not None:
                event = packer.compress(event) + packer.flush(zlib.Z_SYNC_FLUSH)
            await resp.write(event)
        if packer is not None:
            await resp.write(packer.flush())
        if model == "fault/slow-close":
            await asyncio.sleep(SLOW_CLOSE_S)
        if model == "fault/cut-after-end" and request.transport is not None:
            request.transport.close()  # what was written goes out first; no final chunk
            return resp
        await resp.write_eof()
    return resp


def _stream_headers(model: str) -> dict[str, str]:
    headers = {"Content-Type": "text/event-stream"}
    if model in LABELLED_GZIP:
        headers["Content-Encoding"] = "gzip"
    return headers


def _bomb(packer: zlib._Compress) -> bytes:
    """64 SSE comments of 1 MiB, compressed one at a time (the fake never holds them all)."""
    comment = b": " + b"x" * (BOMB_COMMENT_BYTES - 4) + b"\n\n"
    return b"".join(packer.compress(comment) for _ in range(BOMB_COMMENTS)) + packer.flush(
        zlib.Z_SYNC_FLUSH
    )


async def _whole(request: web.Request, model: str, whole: bytes) -> web.StreamResponse:
    if model in LABELLED_GZIP:
        return web.Response(
            body=whole if model == "fault/gzip-lie" else gzip.compress(whole),
            content_type="application/json",
            headers={"Content-Encoding": "gzip"},
        )
    resp = web.StreamResponse(headers={"Content-Type": "application/json"})
    resp.content_length = len(whole)
    await resp.prepare(request)
    await resp.write(whole[: len(whole) // 2])
    if model == "fault/stall-body":
        await asyncio.sleep(3600)
    elif request.transport is not None:
        request.transport.close()
    return resp


async def _wrong_types(
    request: web.Request, model: str, whole: bytes | None, events: Iterable[bytes] | None
) -> web.StreamResponse:
    """The normal reply (chat or Responses), its values of the wrong JSON types (or its
    shape wrong)."""
    if whole is not None:
        obj = json.loads(whole)
        _wrong_reply(obj, model)
        return web.json_response(obj)
    resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
    await resp.prepare(request)
    for event in events or ():
        head, sep, data = event.partition(b"data: ")  # Responses events name themselves first
        if sep and data.startswith(b"{"):
            obj = json.loads(data)
            _wrong_event(obj, model)
            event = head + b"data: " + json.dumps(obj).encode() + b"\n\n"
        await resp.write(event)
    await resp.write_eof()
    return resp


def _wrong_reply(obj: dict, model: str) -> None:
    """A whole reply: chat's `choices`, or a Responses `response` object's `output`."""
    if obj.get("object") == "response":
        if model == "fault/misshapen":
            obj["output"] = "the provider's own words"
            return
        obj["status"] = 7
        for item in obj.get("output") or ():
            for part in item.get("content") or ():
                part["text"] = [part.get("text")]
        return
    if model == "fault/misshapen":
        obj["choices"] = "the provider's own words"
        return
    choice = obj["choices"][0]
    choice["finish_reason"] = 7
    choice["message"]["content"] = [choice["message"]["content"]]
    choice["message"]["tool_calls"] = [ODD_TOOL_CALL]


def _wrong_event(obj: dict, model: str) -> None:
    """One stream event: a chat chunk, or a Responses event (its `response`, its delta)."""
    if isinstance(obj.get("response"), dict):
        _wrong_reply(obj["response"], model)
    elif "delta" in obj and model == "fault/odd-types":
        obj["delta"] = [obj["delta"]]
    elif model == "fault/misshapen" and obj.get("choices"):
        obj["choices"] = ["the provider's own words"]
    elif model == "fault/odd-types":
        for choice in obj.get("choices") or ():
            _odd_chunk(choice)


async def error_in_200(
    request: web.Request, error: dict, whole: bool, events: Iterable[bytes] | None
) -> web.StreamResponse:
    if whole:
        return web.json_response(error)
    resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
    await resp.prepare(request)
    for event in list(events or ())[:2]:  # the role, then the first content
        await resp.write(event)
    if request.path.endswith("/responses"):  # the Responses API's own error event
        inner = error["error"]
        error = {"type": "error", "code": inner.get("code") or inner.get("type"),
                 "message": inner["message"], "param": None}  # fmt: skip
    named = b"event: error\n" if error.get("type") == "error" else b""
    await resp.write(named + b"data: " + json.dumps(error).encode() + b"\n\n")
    await resp.write_eof()
    return resp


def _odd_chunk(choice: dict) -> None:
    delta = choice.setdefault("delta", {})
    if isinstance(delta.get("content"), str):
        delta["content"] = [delta["content"]]
    if choice.get("finish_reason"):
        choice["finish_reason"] = 7
        delta["tool_calls"] = [ODD_TOOL_CALL]


async def _echo_key(
    request: web.Request, whole: bytes | None, events: Iterable[bytes] | None
) -> web.StreamResponse:
    key = presented_key(request).encode()
    if whole is not None:
        return web.Response(body=whole.replace(b"echo: ", b"echo: " + key + b" ", 1),
                            content_type="application/json")  # fmt: skip
    resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
    await resp.prepare(request)
    for i, event in enumerate(events or ()):
        if i == 1 and b'"content": "' in event:
            event = event.replace(b'"content": "', b'"content": "key ' + key + b" ", 1)
            cut = event.index(key) + len(key) // 2
            await resp.write(event[:cut])
            await asyncio.sleep(0.02)
            event = event[cut:]
        await resp.write(event)
    await resp.write_eof()
    return resp
