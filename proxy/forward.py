"""The hot path: one handler that forwards a /v1/* call upstream and records it.

    resolve (session, body, outgoing request) -> send (one upstream attempt) -> relay

Each step is a function with typed inputs; what the call has told us so far travels in
one `CallFacts`. Every failure is one of the proxy's own errors (`proxy.errors`; the
upstream's are mapped at `proxy.upstream`), answered in one place. The handler records
exactly one ModelCall per request whatever happens: bad input, unreachable or hung
upstream, upstream cut, client gone.
"""

from __future__ import annotations

import asyncio
import os
from time import perf_counter

from aiohttp import web

from proxy import inbound
from proxy.auth import resolve_session
from proxy.errors import BodyTooLarge, ProxyError
from proxy.facts import CallFacts
from proxy.keys import APP_CLIENT, APP_CONFIG, APP_RECORDER, APP_STORE
from proxy.relay import Relay
from proxy.upstream import Attempt, send

#: request headers the proxy never forwards (hop-by-hop, credentials, encodings).
_DROP_REQUEST = frozenset(
    h.lower()
    for h in (
        "host", "authorization", "api-key", "x-api-key", "content-length", "connection",
        "keep-alive", "transfer-encoding", "te", "upgrade", "proxy-authorization",
        "proxy-connection", "accept-encoding", "expect",
    )
)  # fmt: skip


async def forward(request: web.Request) -> web.StreamResponse:
    tail = request.match_info["tail"]
    call = CallFacts(method=request.method, path="/v1/" + tail, api=inbound.api_for(tail))
    record = request.app[APP_RECORDER].record
    relay = Relay(request, call, record)
    try:
        attempt = await resolve(request, call)
        reply = await send(request.app[APP_CLIENT], attempt)
        return await relay.reply(reply)
    except ProxyError as err:
        call.fail(err.outcome, err.message, None if relay.started else err.status)
        if not call.recorded:
            record(call)
        if relay.response is not None:  # the client has a status line: cut the stream
            relay.abort()
            return relay.response
        return error_response(err)
    except (asyncio.CancelledError, ConnectionResetError):  # the client went away
        if not call.recorded and call.session is not None:
            gone = "client went away mid-stream" if relay.started else "client went away"
            call.fail("client_disconnected", gone)
            call.status_code = relay.response.status if relay.response is not None else None
            record(call)
        raise
    except Exception as exc:  # a bug of ours: still one record, never a lost session count
        if not call.recorded and call.session is not None:
            call.fail("connection_error", f"proxy internal error: {exc!r}"[:500], 500)
            record(call)
        raise


async def resolve(request: web.Request, call: CallFacts) -> Attempt:
    """Which session, what body, and the exact request to send upstream."""
    app = request.app
    cfg, store = app[APP_CONFIG], app[APP_STORE]
    sess, client_key = resolve_session(request, cfg, store)
    store.begin(sess)  # the record ends it, on every path
    call.session = sess
    try:
        raw = await request.read() if request.body_exists else b""
    except web.HTTPRequestEntityTooLarge:
        raise BodyTooLarge(
            f"request body is larger than this proxy's limit of {cfg.max_body_bytes} bytes"
            " (cab proxy --max-body-bytes)"
        ) from None
    inb = call.inbound = inbound.prepare(call.api, raw, sess.model_override)
    url = f"{sess.upstream or cfg.upstream}/{request.match_info['tail']}"
    if request.query_string:
        url += "?" + request.query_string
    headers = {k: v for k, v in request.headers.items() if k.lower() not in _DROP_REQUEST}
    headers["Accept-Encoding"] = "identity"
    key = os.environ.get(sess.upstream_key_env or cfg.upstream_key_env) or client_key
    if key:
        headers["Authorization"] = "Bearer " + key
    call.proxy_s = perf_counter() - call.t0
    return Attempt(request.method, url, headers, inb.data, sess.upstream_timeout_s)


def error_response(err: ProxyError) -> web.Response:
    return web.Response(status=err.status, body=err.body(), content_type="application/json")
