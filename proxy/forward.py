"""The hot path: one handler that forwards a /v1/* call upstream and records it.

Streams are written to the client chunk by chunk as the upstream sends them
(`iter_any`, never buffered); a `StreamObserver` reads them on the way past. The
handler records exactly one ModelCall per request whatever happens: bad input,
unreachable or hung upstream, upstream cut, client gone.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from time import perf_counter

import aiohttp
from aiohttp import web

from proxy import classify, inbound
from proxy.auth import resolve_session
from proxy.errors import BodyTooLarge, ProxyError, UpstreamTimeout, UpstreamUnreachable
from proxy.keys import APP_CLIENT, APP_CONFIG, APP_RECORDER, APP_STORE
from proxy.observe import StreamObserver, observe_body
from proxy.recorder import now_utc

#: request headers the proxy never forwards (hop-by-hop, credentials, encodings).
_DROP_REQUEST = frozenset(
    h.lower()
    for h in (
        "host", "authorization", "api-key", "x-api-key", "content-length", "connection",
        "keep-alive", "transfer-encoding", "te", "upgrade", "proxy-authorization",
        "proxy-connection", "accept-encoding", "expect",
    )
)  # fmt: skip
#: response headers set by our own server. Content-Encoding passes through: the body is
#: sent as the upstream encoded it (the proxy asks for identity, but may not get it).
_DROP_RESPONSE = frozenset(
    ("content-length", "transfer-encoding", "connection", "keep-alive", "server", "date")
)
_DISCONNECTED = (ConnectionResetError, asyncio.CancelledError)


class _Call:
    """What one request has told us so far, and its one record."""

    def __init__(self, request: web.Request) -> None:
        self.t0 = perf_counter()
        self.started = now_utc()
        self.recorder = request.app[APP_RECORDER]
        tail = request.match_info["tail"]
        self.base = {"method": request.method, "path": "/v1/" + tail, "api": inbound.api_for(tail)}
        self.sess = None
        self.inb: inbound.Inbound | None = None
        self.recorded = False

    def record(self, **fields) -> None:
        self.recorded = True
        fields = {**self.base, **fields}
        inb = self.inb
        fields.setdefault("stream", inb.stream if inb else False)
        if inb is not None:
            fields.setdefault("request_hash", inb.request_hash)
            fields.setdefault("model", inb.model)
            fields.setdefault("requested_model", inb.requested_model)
        self.recorder.record(
            self.sess,
            started_at=self.started,
            latency_s=perf_counter() - self.t0,
            prompt_chars=inb.prompt_chars if inb else 0,
            **fields,
        )


async def forward(request: web.Request) -> web.StreamResponse:
    call = _Call(request)
    try:
        return await _forward(request, call)
    except asyncio.CancelledError:  # the client went away while we waited
        if not call.recorded and call.sess is not None:
            call.record(outcome="client_disconnected", error="client went away mid-call")
        raise
    except Exception as exc:  # a bug of ours: still one record, never a lost session count
        if not call.recorded and call.sess is not None:
            call.record(outcome="connection_error", error=f"proxy internal error: {exc!r}"[:500])
        raise


async def _forward(request: web.Request, call: _Call) -> web.StreamResponse:
    app = request.app
    cfg = app[APP_CONFIG]
    base, record, t0 = call.base, call.record, call.t0
    tail = request.match_info["tail"]
    try:
        sess, client_key = resolve_session(request, cfg, app[APP_STORE])
        app[APP_STORE].begin(sess)  # the record below ends it, on every path
        call.sess = sess
        try:
            raw = await request.read() if request.body_exists else b""
        except web.HTTPRequestEntityTooLarge:
            raise BodyTooLarge(
                f"request body is larger than this proxy's limit of {cfg.max_body_bytes} bytes"
                " (cab proxy --max-body-bytes)"
            ) from None
        inb = call.inb = inbound.prepare(base["api"], raw, sess.model_override)
    except ProxyError as err:
        record(status_code=err.status, outcome=err.outcome, error=err.message)
        return error_response(err)

    url = f"{sess.upstream or cfg.upstream}/{tail}"
    if request.query_string:
        url += "?" + request.query_string
    headers = {k: v for k, v in request.headers.items() if k.lower() not in _DROP_REQUEST}
    headers["Accept-Encoding"] = "identity"
    key = os.environ.get(sess.upstream_key_env or cfg.upstream_key_env) or client_key
    if key:
        headers["Authorization"] = "Bearer " + key

    t_up = perf_counter()
    pre_s = t_up - t0
    try:
        resp = await app[APP_CLIENT].request(request.method, url, data=inb.data, headers=headers)
    except TimeoutError:
        err = UpstreamTimeout(f"upstream {url} did not answer within {cfg.timeout:g}s")
        record(
            status_code=err.status,
            outcome=err.outcome,
            error=err.message,
            proxy_overhead_ms=_ms(pre_s),
        )
        return error_response(err)
    except aiohttp.ClientError as exc:
        err = UpstreamUnreachable(f"upstream {url} unreachable: {type(exc).__name__}: {exc}")
        record(
            status_code=err.status,
            outcome=err.outcome,
            error=err.message,
            proxy_overhead_ms=_ms(pre_s),
        )
        return error_response(err)

    t_headers = perf_counter()
    status = resp.status
    out_headers = {k: v for k, v in resp.headers.items() if k.lower() not in _DROP_RESPONSE}
    info = {
        "status_code": status,
        "retry_after_s": classify.retry_after_s(resp.headers) if status >= 400 else None,
        "rate_limit_headers": classify.rate_limit_headers(resp.headers),
    }
    try:
        if inb.stream and status < 400 and "event-stream" in resp.headers.get("Content-Type", ""):
            return await _stream(request, resp, inb, out_headers, info, record, t0, pre_s)
        try:
            body = await resp.read()
        except TimeoutError:
            record(**info, outcome="timeout", error=f"upstream {url} stalled mid-body")
            return error_response(UpstreamTimeout(f"upstream {url} stalled mid-body"))
        except aiohttp.ClientError as exc:
            msg = f"upstream {url} cut the response: {type(exc).__name__}"
            record(**info, outcome="connection_error", error=msg)
            return error_response(UpstreamUnreachable(msg))
        t_last = perf_counter()
        outcome = classify.outcome_for(status, body)
        obs = observe_body(base["api"], body) if status < 400 else None
        post_s = perf_counter() - t_last
        record(
            **info,
            outcome=outcome,
            obs=obs,
            error=classify.error_message(body) if status >= 400 else None,
            ttft_ms=_ms(t_headers - t0),
            proxy_overhead_ms=_ms(pre_s + post_s),
        )
        return web.Response(status=status, body=body, headers=out_headers)
    finally:
        resp.release()


async def _stream(request, resp, inb, out_headers, info, record, t0, pre_s):
    """Pass an SSE stream through as it arrives; record once at its end, however it ends."""
    out = web.StreamResponse(status=resp.status, headers=out_headers)
    observer = StreamObserver(inb.api, strip_usage_chunk=inb.strip_usage)
    obs = observer.obs
    spent = 0.0  # time the proxy spent per chunk (observe + hand to the socket)
    fields: dict = {"outcome": "ok"}
    recorded = False
    try:
        await out.prepare(request)
        async for chunk in resp.content.iter_any():
            t = perf_counter()
            data = observer.feed(chunk)
            if data:
                await out.write(data)
            spent += perf_counter() - t
        rest = observer.finish()
        if rest:
            await out.write(rest)
        if not obs.done:
            fields = {
                "outcome": "connection_error",
                "error": "upstream stream ended without its final event",
            }
        _finish(record, info, obs, fields, t0, pre_s, spent)  # recorded before the end
        recorded = True
        with contextlib.suppress(ConnectionResetError):
            await out.write_eof()
        return out
    except _DISCONNECTED as exc:
        if recorded:  # the client left during the very last write: the call was complete
            raise
        resp.close()  # cancels the upstream request
        fields = {"outcome": "client_disconnected", "error": "client disconnected mid-stream"}
        if isinstance(exc, asyncio.CancelledError):
            _finish(record, info, obs, fields, t0, pre_s, spent)
            raise
    except TimeoutError:
        fields = {"outcome": "timeout", "error": "upstream stalled mid-stream"}
        _abort(request)
    except aiohttp.ClientError as exc:
        fields = {
            "outcome": "connection_error",
            "error": f"upstream cut the stream: {type(exc).__name__}",
        }
        _abort(request)
    _finish(record, info, obs, fields, t0, pre_s, spent)
    return out


def _finish(record, info, obs, fields, t0, pre_s, spent):
    first = obs.first_output_at or obs.first_event_at
    record(
        **info,
        **fields,
        obs=obs,
        ttft_ms=_ms(first - t0) if first else None,
        proxy_overhead_ms=_ms(pre_s + spent),
    )


def _abort(request: web.Request) -> None:
    """The upstream broke its stream: break ours too, so the client sees a cut, not an end."""
    if request.transport is not None:
        request.transport.close()


def error_response(err: ProxyError) -> web.Response:
    return web.Response(status=err.status, body=err.body(), content_type="application/json")


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 3)
