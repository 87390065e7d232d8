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
import re
from time import perf_counter
from urllib.parse import quote

from aiohttp import web
from yarl import URL

from proxy import inbound, stream_usage
from proxy.auth import presented_key, resolve_session
from proxy.errors import BadRequest, BodyTimeout, BodyTooLarge, ProxyError
from proxy.facts import CallFacts
from proxy.governor import Policy
from proxy.governor_send import (
    Record,
    governed_send,
    link_client_retry,
    remember_first,
    settle,
)
from proxy.inject_serve import fault_for, serve_fault
from proxy.keys import APP_CONFIG, APP_GATE, APP_LIFECYCLE, APP_RECORDER, APP_STORE
from proxy.records import ModelCall
from proxy.redact import redactor_for
from proxy.relay import Relay
from proxy.replay import ReplayBook
from proxy.upstream import Attempt, Reply

#: request headers the proxy never forwards (hop-by-hop, credentials, encodings).
_DROP_REQUEST = frozenset(
    h.lower()
    for h in (
        "host", "authorization", "api-key", "x-api-key", "content-length", "connection",
        "keep-alive", "transfer-encoding", "te", "upgrade", "proxy-authorization",
        "proxy-connection", "accept-encoding", "expect",
        # a compressed request body is decoded here (bounded): what goes on is identity
        "content-encoding",
    )
)  # fmt: skip


async def forward(request: web.Request) -> web.StreamResponse:
    app = request.app
    tail = request.match_info["tail"]
    call = CallFacts(method=request.method, path="/v1/" + tail, api=inbound.api_for(tail))
    recorder, gate = app[APP_RECORDER], app[APP_GATE]

    def record(c: CallFacts) -> ModelCall:
        rec = recorder.record(c)
        settle(gate, c, rec=rec)
        remember_first(c, rec)
        return rec

    relay = Relay(request, call, record)
    life = app[APP_LIFECYCLE]
    life.in_flight += 1
    try:
        attempt = await resolve(request, app, call, tail, relay)
        return await _send_and_relay(request, app, call, attempt, relay, record)
    except ProxyError as err:
        err.message = relay.redactor.scrub_text(err.message)
        call.fail(err.outcome, err.message, None if relay.started else err.status)
        if not call.recorded:
            record(call)
        if relay.response is not None:  # the client has a status line: cut the stream
            relay.abort()
            return relay.response
        if err.close:
            return await _answer_and_close(request, err)
        return err.response()
    except (asyncio.CancelledError, ConnectionResetError):  # the client, or we, went away
        if not call.recorded and call.session is not None:
            if relay.delivered_end:  # it had the whole answer, then hung up: a whole call
                relay.settle_stream(client_left=True)
            else:
                _record_cut(call, relay, life.stopping, record)
        raise
    except Exception as exc:  # a bug of ours: still one record, never a lost session count
        if not call.recorded and call.session is not None:
            call.fail("connection_error", f"proxy internal error: {exc!r}"[:500], 500)
            call.obs = None  # what was observed may be what broke: record without it
            record(call)
        raise
    finally:
        settle(gate, call)  # an admission never settled (the call broke off): free it
        life.in_flight -= 1


def _record_cut(call: CallFacts, relay: Relay, stopping: bool, record: Record) -> None:
    """A call cut before its end: by the proxy's stop (after the drain grace), or by its
    client going away."""
    if stopping:
        call.fail("proxy_shutdown", "the proxy stopped before the call ended")
    else:
        gone = "client went away mid-stream" if relay.started else "client went away"
        call.fail("client_disconnected", gone)
    call.status_code = relay.response.status if relay.response is not None else None
    record(call)


async def _send_and_relay(
    request: web.Request,
    app: web.Application,
    call: CallFacts,
    attempt: Attempt,
    relay: Relay,
    record: Record,
) -> web.StreamResponse:
    """send (through the governor, an injected fault or a replay) -> relay."""
    gate, policy = app[APP_GATE], _policy(app, call)
    link_client_retry(request, call)
    fault = None
    if policy.inject and call.session is not None:  # numbered by the session's requests
        fault = fault_for(policy.inject, call, gate.store.next_request(call.session))
    if fault is not None:
        return await serve_fault(request, call, fault, relay, app[APP_CONFIG].timeout)
    if call.session is not None and call.session.replay is not None:
        reply = await replayed(call.session.replay, call)
    else:
        reply = await governed_send(call, attempt, gate, record, policy.limits, policy.absorb)
        if stream_usage.may_be_refusal(call, reply) and await stream_usage.refused(call, reply):
            app[APP_LIFECYCLE].no_stream_options.add(call.upstream or "")
            attempt = await stream_usage.first_attempt_recorded(call, attempt, reply, gate, record)
            reply = await governed_send(call, attempt, gate, record, policy.limits, policy.absorb)
    return await relay.reply(reply)


def _policy(app: web.Application, call: CallFacts) -> Policy:
    own = call.session.policy if call.session is not None else None
    return own if own is not None else app[APP_CONFIG].policy


async def resolve(
    request: web.Request, app: web.Application, call: CallFacts, tail: str, relay: Relay
) -> Attempt:
    """Which session (from the key the client presented, or the path), what body, the
    exact request to send upstream (to `tail` below its base), and the secrets the relay
    must keep out of what it passes on."""
    cfg, store = app[APP_CONFIG], app[APP_STORE]
    presented = presented_key(request)
    sess, client_key = resolve_session(request, cfg, store, presented)
    store.begin(sess)  # the record ends it, on every path
    call.session = sess
    try:
        raw = await _body(request, cfg.body_timeout_s) if request.body_exists else b""
    except web.HTTPRequestEntityTooLarge:
        raise BodyTooLarge(
            f"request body is larger than this proxy's limit of {cfg.max_body_bytes} bytes"
            " (cab proxy --max-body-bytes)"
        ) from None
    encoding = request.headers.get("Content-Encoding")
    if encoding:
        raw = inbound.decode_body(raw, encoding, cfg.max_body_bytes)
    base = call.upstream = sess.upstream or cfg.upstream
    ask_usage = cfg.stream_usage and base not in app[APP_LIFECYCLE].no_stream_options
    inb = call.inbound = inbound.prepare(call.api, raw, sess.model_override, ask_usage)
    if app[APP_RECORDER].capturing(call):
        call.reply_data = bytearray()
    url = f"{base}/{upstream_path(tail)}"
    if request.rel_url.raw_query_string:
        url += "?" + request.rel_url.raw_query_string
    headers = {k: v for k, v in request.headers.items() if k.lower() not in _DROP_REQUEST}
    headers["Accept-Encoding"] = "identity"
    key = os.environ.get(sess.upstream_key_env or cfg.upstream_key_env) or client_key
    if key:
        headers["Authorization"] = "Bearer " + key
    red = relay.redactor = redactor_for(key or None, presented)  # the key sent, the client's
    if red:
        call.redact = red.scrub_text
    call.proxy_s = perf_counter() - call.t0
    return Attempt(
        request.method, URL(url, encoded=True), headers, inb.data, sess.upstream_timeout_s,
        no_user_agent="User-Agent" not in request.headers,
    )  # fmt: skip


async def _body(request: web.Request, timeout_s: float) -> bytes:
    """The request's body; one still arriving gets `timeout_s` to finish (a body that
    came with its headers, the common case, is read without a timer)."""
    if request.content.is_eof():
        return await request.read()
    try:
        async with asyncio.timeout(timeout_s):
            return await request.read()
    except TimeoutError:
        raise BodyTimeout(
            f"request body did not arrive within {timeout_s:g} s of its headers"
            " (cab proxy --body-timeout)"
        ) from None


#: a path segment that climbs (`..`, `.`), split on `/` and on `\` (which some servers
#: read as `/`), and characters no request path may carry.
_CLIMB = re.compile(r"(?:^|[/\\])\.{1,2}(?:[/\\]|$)")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
#: what stays unescaped in the forwarded path (RFC 3986 pchar and `/`).
_SAFE = "/:@!$&'()*+,;=-._~"


_PLAIN = re.compile(r"[A-Za-z0-9_/-]*")


def upstream_path(tail: str) -> str:
    """The path below the upstream base, checked (after the router decoded it) so that it
    cannot leave that base, and escaped again exactly once for the wire."""
    if _PLAIN.fullmatch(tail):  # chat/completions, responses, models: nothing to check
        return tail
    if _CONTROL.search(tail):
        raise BadRequest("request path contains a control character (e.g. %0a); refused")
    if _CLIMB.search(tail):
        raise BadRequest("request path has a '.' or '..' segment, which would leave /v1/; refused")
    return quote(tail, safe=_SAFE)


async def replayed(book: ReplayBook, call: CallFacts) -> Reply:
    """The recorded reply this request replays (ReplayMiss when the run diverged)."""
    inb = call.inbound
    t = perf_counter()
    entry, response = await book.reply(inb.body if inb is not None else None)
    call.replayed_seq = entry.seq
    return Reply(response, response.status, response.headers, t, perf_counter())


async def _answer_and_close(request: web.Request, err: ProxyError) -> web.StreamResponse:
    """Answer, then close the connection at once: what is left of the request (a body
    that did not come) is not waited for (aiohttp would linger 10 s for it)."""
    resp = err.response()
    await resp.prepare(request)
    await resp.write_eof()
    request.protocol.force_close()  # the answer is in the transport: it is sent, then closed
    return resp
