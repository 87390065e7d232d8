"""What the proxy does beside answering calls: housekeeping and a clean stop.

`Lifecycle` is the app's mutable state of being (the server once it serves, whether it is
stopping, calls in flight). `housekeeping` runs once a second while the app serves:
sessions without a reader that sat idle expire, and a connection that has not sent its
first request's headers within `header_timeout_s` is closed (slow-loris; aiohttp's own
keep-alive timer bounds idle connections and later requests). On stop the server stops
accepting, calls in flight get `shutdown_grace_s` to finish, and whatever is still
running after that is recorded `proxy_shutdown`, not blamed on its client.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import structlog
from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError
from aiohttp.web_request import BaseRequest

from proxy.config import ProxyConfig
from proxy.errors import BadRequest, ProxyError
from proxy.sessions import SessionStore

log = structlog.get_logger("proxy")
TICK_S = 1.0


@dataclass
class Lifecycle:
    #: the aiohttp Server once the runner is set up (its live connections).
    server: web.Server | None = None
    #: set when the proxy begins to stop: calls cut from here on are the proxy's doing.
    stopping: bool = False
    #: calls in flight (the /metrics gauge).
    in_flight: int = 0
    #: upstreams that refused the stream_options the proxy adds (proxy/stream_usage.py).
    no_stream_options: set[str] = field(default_factory=set)
    #: first time each connection was seen without a complete request.
    _waiting: dict[int, float] = field(default_factory=dict)

    def close_slow_headers(self, header_timeout_s: float, now: float) -> int:
        """Close connections that have not completed their first request's headers."""
        if self.server is None:
            return 0
        closed, live = 0, set()
        for conn in self.server.connections:
            if getattr(conn, "_request_count", 1) > 0:
                continue
            key = id(conn)
            live.add(key)
            since = self._waiting.setdefault(key, now)
            if now - since >= header_timeout_s:
                conn.force_close()
                closed += 1
        self._waiting = {k: v for k, v in self._waiting.items() if k in live}
        return closed


async def housekeeping(
    life: Lifecycle, store: SessionStore, cfg: ProxyConfig, tick_s: float = TICK_S
) -> None:
    while True:
        await asyncio.sleep(tick_s)
        now = time.monotonic()
        store.expire(cfg.session_idle_s, now)
        if life.close_slow_headers(cfg.header_timeout_s, now):
            log.info("closed connections that sent no request headers in time")


def lifecycle_ctx(life: Lifecycle, store: SessionStore, cfg: ProxyConfig) -> Any:
    async def ctx(app: web.Application) -> AsyncIterator[None]:
        task = asyncio.create_task(housekeeping(life, store, cfg))
        yield
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    return ctx


def refused_reason(exc: BaseException | None) -> str:
    """What was wrong with a request aiohttp's parser refused, without the bytes its
    message quotes (they may be a header's value: a key)."""
    text = getattr(exc, "message", None) or (str(exc) if exc is not None else "")
    first = str(text).split(":", 1)[0].split("\n", 1)[0]
    return " ".join(first.split())[:200] or "malformed HTTP request"


class _JsonErrorHandler(web.RequestHandler):
    """aiohttp's connection handler, but a request its HTTP parser refuses (a header
    over 8 KB, a bad request line, Content-Length with Transfer-Encoding, TLS on the
    plain port...) gets the OpenAI error envelope, not aiohttp's text, and a record."""

    on_refused: Callable[[str, int], None] | None = None

    def handle_error(
        self,
        request: BaseRequest,
        status: int = 500,
        exc: BaseException | None = None,
        message: str | None = None,
    ) -> web.StreamResponse:
        super().handle_error(request, status, exc, message)  # logs; raises if a reply began
        if isinstance(exc, HttpProcessingError):  # refused before any handler of ours ran
            err: ProxyError = BadRequest(f"malformed HTTP request: {refused_reason(exc)}")
            err.status = status if 400 <= status < 500 else 400
            if self.on_refused is not None:
                self.on_refused(err.message, err.status)
        else:  # a handler of ours broke (it recorded the call before raising)
            err = ProxyError("proxy internal error")
            err.status = status
        err.close = True  # aiohttp closes the connection after an error it handled
        return err.response()


class _JsonErrorServer(web.Server):
    on_refused: Callable[[str, int], None] | None = None

    def __call__(self) -> web.RequestHandler:
        handler = _JsonErrorHandler(self, loop=self._loop, **self._kwargs)
        handler.on_refused = self.on_refused
        return handler


def answer_refused_requests(server: web.Server, on_refused: Callable[[str, int], None]) -> None:
    """Make `server` (aiohttp's, made by the runner) answer every request the OpenAI way,
    including those its parser refuses, each passed to `on_refused` to be recorded."""
    server.__class__ = _JsonErrorServer
    assert isinstance(server, _JsonErrorServer)
    server.on_refused = on_refused


class OneLineErrors(logging.LoggerAdapter):
    """aiohttp's server logger, minus the traceback a malformed request would write at
    ERROR (a client could flood the log): one structured warning line instead. Errors
    in our own handlers keep their traceback."""

    def __init__(self) -> None:
        super().__init__(logging.getLogger("aiohttp.server"), {})

    def exception(self, msg: object, *args: object, **kwargs: Any) -> None:
        if str(msg).startswith("Error handling request"):
            exc = kwargs.get("exc_info")
            reason = refused_reason(exc) if isinstance(exc, BaseException) else ""
            peer = args[0] if args else None
            log.warning(
                "malformed request", peer=str(peer), error=f"{type(exc).__name__}: {reason}"
            )
            return
        self.logger.exception(msg, *args, **kwargs)
