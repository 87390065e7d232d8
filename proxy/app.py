"""create_app(config): the proxy as an aiohttp Application.

The same app serves `cab proxy` and the runner's in-process ProxyServer. The upstream
client (aiohttp's own ClientSession: httpx's pool cost most of the throughput, see
docs/proxy.md) is opened and closed in `cleanup_ctx`; handlers are thin.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Coroutine
from typing import Any

import aiohttp
from aiohttp import web
from aiohttp.web_urldispatcher import AbstractRoute, UrlMappingMatchInfo

from proxy import admin_sweep, upstream
from proxy.admin import issue_session
from proxy.capture import TranscriptWriter
from proxy.config import ProxyConfig
from proxy.errors import NotFound
from proxy.facts import CallFacts
from proxy.forward import forward
from proxy.governor import LocalGovernor
from proxy.governor_send import Gate
from proxy.keys import (
    APP_CLIENT,
    APP_CONFIG,
    APP_GATE,
    APP_LIFECYCLE,
    APP_METRICS,
    APP_RECORDER,
    APP_STORE,
)
from proxy.lifecycle import Lifecycle, lifecycle_ctx
from proxy.metrics import Metrics
from proxy.recorder import Recorder
from proxy.sessions import SessionStore
from proxy.sink import RecordSink


def create_app(config: ProxyConfig, store: SessionStore | None = None) -> web.Application:
    app = web.Application(client_max_size=config.max_body_bytes)
    app.router.__class__ = _Router  # aiohttp's, whose misses are answered as ours
    app[APP_CONFIG] = config
    # standalone (no store given): nobody reads sessions from memory; calls.jsonl has them
    app[APP_STORE] = store if store is not None else SessionStore(implicit_reader=False)
    app[APP_METRICS] = Metrics()
    sink = RecordSink(config.record_dir)
    transcript = (
        TranscriptWriter(config.record_dir) if config.record_dir and config.transcripts else None
    )
    app[APP_RECORDER] = Recorder(app[APP_STORE], sink, app[APP_METRICS], transcript)
    app[APP_GATE] = Gate(
        LocalGovernor() if config.governor else None,
        lambda attempt: upstream.send(app[APP_CLIENT], attempt),
        app[APP_STORE],
    )
    app.cleanup_ctx.append(_upstream_client)
    life = app[APP_LIFECYCLE] = Lifecycle()
    app.cleanup_ctx.append(lifecycle_ctx(life, app[APP_STORE], config))
    app.on_shutdown.append(_stopping)
    app.on_cleanup.append(lambda _app: _close(sink, transcript))
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/metrics", metrics)
    app.router.add_post("/admin/sessions", issue_session)
    admin_sweep.routes(app)
    # [\s\S]: a decoded %0a must reach a handler (and get an answer and a record) too
    app.router.add_route("*", r"/v1/{tail:[\s\S]*}", forward, expect_handler=expect_continue)
    app.router.add_route(
        "*", r"/s/{sid}/v1/{tail:[\s\S]*}", forward, expect_handler=expect_continue
    )
    route = app.router.add_route("*", r"/{tail:[\s\S]*}", not_found, expect_handler=expect_continue)
    assert isinstance(app.router, _Router)
    app.router.miss = route
    return app


class _Router(web.UrlDispatcher):
    """aiohttp's router, except that a request no route takes gets `not_found` (an
    OpenAI-shaped 404 and a record, as every request does), not aiohttp's plain-text 404:
    a request target that is not a path (`CONNECT host:443`, `OPTIONS *`), which even the
    catch-all route `/{tail}` does not match."""

    miss: AbstractRoute

    def resolve(self, request: web.Request) -> Coroutine[Any, Any, UrlMappingMatchInfo]:
        # a path that begins with `/` always has a route (the catch-all takes any method):
        # aiohttp's own resolve, with no frame of ours on the request path
        if request.rel_url.path_safe[:1] == "/":
            return super().resolve(request)
        return self._missed()

    async def _missed(self) -> UrlMappingMatchInfo:
        return UrlMappingMatchInfo({}, self.miss)


async def expect_continue(request: web.Request) -> None:
    """`Expect: 100-continue` is answered as aiohttp does; any other expectation is
    ignored (RFC 9110 allows it), so the request gets the answer and the record every
    request gets, not aiohttp's plain-text 417."""
    if request.version >= (1, 1) and request.headers["Expect"].lower() == "100-continue":
        await request.writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        request.writer.output_size = 0


async def _stopping(app: web.Application) -> None:
    """The server stopped accepting; calls in flight now drain (shutdown_grace_s)."""
    app[APP_LIFECYCLE].stopping = True


async def _close(sink: RecordSink, transcript: TranscriptWriter | None) -> None:
    sink.close()
    if transcript is not None:
        transcript.close()


async def _upstream_client(app: web.Application) -> AsyncIterator[None]:
    cfg = app[APP_CONFIG]
    timeout = aiohttp.ClientTimeout(total=None, sock_connect=cfg.timeout, sock_read=cfg.timeout)
    connector = aiohttp.TCPConnector(limit=1000, ttl_dns_cache=300)
    async with aiohttp.ClientSession(
        connector=connector,
        timeout=timeout,
        auto_decompress=False,
        # a transparent proxy keeps no state of its own between calls: a provider's cookie
        # is passed to the client that got it, never replayed on anyone's later call
        cookie_jar=aiohttp.DummyCookieJar(),
        response_class=upstream.capped_response(cfg.max_reply_bytes),
    ) as client:
        # aiohttp re-sends an idempotent request (GET /v1/models) once when a pooled
        # connection drops; the proxy never retries on its own (one record per attempt).
        client._retry_connection = False
        app[APP_CLIENT] = client
        yield


async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok", "upstream": request.app[APP_CONFIG].upstream})


async def metrics(request: web.Request) -> web.Response:
    text = request.app[APP_METRICS].render(request.app[APP_LIFECYCLE].in_flight)
    return web.Response(text=text, content_type="text/plain", charset="utf-8")


def record_refused(app: web.Application, message: str, status: int) -> None:
    """A request aiohttp's HTTP parser refused, recorded like every request: its method
    and path are what aiohttp calls an unreadable request (UNKNOWN, /)."""
    call = CallFacts(method="UNKNOWN", path="/", api="other")
    call.fail("bad_request", message, status)
    app[APP_RECORDER].record(call)


async def not_found(request: web.Request) -> web.Response:
    """Any other path: an OpenAI-shaped 404, recorded like every request."""
    target = request.path or request.raw_path  # `CONNECT host:443` has no path
    err = NotFound(f"no route {request.method} {target!r}: the OpenAI API is under /v1/")
    call = CallFacts(method=request.method[:20], path=target[:500], api="other")
    call.fail(err.outcome, err.message, err.status)
    request.app[APP_RECORDER].record(call)
    return err.response()
