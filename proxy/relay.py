"""The relay step: hand the upstream's reply to the client and observe it on the way.

A streamed reply is written chunk by chunk as it arrives (`iter_any`, never buffered)
while a `StreamObserver` reads it; a whole body is read once, observed once and sent.
The call is recorded before the client's response ends, so a reader that sees the end
of the reply finds the record. Upstream failures surface as the proxy's own errors
(`upstream_errors`), which the handler answers; `Relay.started` says whether the client
already has a status line (then the handler can only cut the connection).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from time import perf_counter

from aiohttp import web

from proxy import classify
from proxy.facts import CallFacts, ms
from proxy.observe import StreamObserver, observe_body
from proxy.upstream import Reply, upstream_errors

#: response headers set by our own server. Content-Encoding passes through: the body is
#: sent as the upstream encoded it (the proxy asks for identity, but may not get it).
_DROP_RESPONSE = frozenset(
    ("content-length", "transfer-encoding", "connection", "keep-alive", "server", "date")
)

Record = Callable[[CallFacts], object]


class Relay:
    def __init__(self, request: web.Request, call: CallFacts, record: Record) -> None:
        self.request, self.call, self.record = request, call, record
        #: the client's response once its status line is sent (a stream), else None.
        self.response: web.StreamResponse | None = None

    @property
    def started(self) -> bool:
        return self.response is not None

    async def reply(self, reply: Reply) -> web.StreamResponse:
        call, status = self.call, reply.status
        call.upstream_status = status
        call.rate_limit_headers = classify.rate_limit_headers(reply.headers)
        if status >= 400:
            call.retry_after_s = classify.retry_after_s(reply.headers)
        headers = {k: v for k, v in reply.headers.items() if k.lower() not in _DROP_RESPONSE}
        inb = call.inbound
        try:
            if (
                inb is not None
                and inb.stream
                and status < 400
                and "event-stream" in reply.headers.get("Content-Type", "")
            ):
                return await self._stream(reply, headers)
            return await self._body(reply, headers)
        except BaseException:
            reply.response.close()  # stops the upstream's side of a call that broke off
            raise
        finally:
            reply.response.release()

    async def _body(self, reply: Reply, headers: dict[str, str]) -> web.Response:
        call = self.call
        with upstream_errors(str(reply.response.url), "body"):
            body = await reply.response.read()
        t_last = perf_counter()
        status = reply.status
        call.status_code = status
        call.outcome = classify.outcome_for(status, body)
        if status < 400:
            call.obs = observe_body(call.api, body)
        else:
            call.error = classify.error_message(body)
        call.ttft_ms = ms(reply.headers_at - call.t0)
        call.proxy_s += perf_counter() - t_last
        self.record(call)
        return web.Response(status=status, body=body, headers=headers)

    async def _stream(self, reply: Reply, headers: dict[str, str]) -> web.StreamResponse:
        call = self.call
        inb = call.inbound
        assert inb is not None
        observer = StreamObserver(inb.api, strip_usage_chunk=inb.strip_usage)
        call.obs = obs = observer.obs
        out = web.StreamResponse(status=reply.status, headers=headers)
        await out.prepare(self.request)
        self.response = out
        call.status_code = reply.status
        with upstream_errors(str(reply.response.url), "stream"):
            async for chunk in reply.response.content.iter_any():
                t = perf_counter()
                data = observer.feed(chunk)
                if data:
                    await out.write(data)
                call.proxy_s += perf_counter() - t  # observe + hand to the socket
        rest = observer.finish()
        if rest:
            await out.write(rest)
        if not obs.done:
            call.fail("connection_error", "upstream stream ended without its final event")
        self.record(call)  # before the end: a client that saw the end finds the record
        with contextlib.suppress(ConnectionResetError):
            await out.write_eof()
        return out

    def abort(self) -> None:
        """The upstream broke its stream: break ours too, so the client sees a cut."""
        if self.request.transport is not None:
            self.request.transport.close()
