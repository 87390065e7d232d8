"""Run the proxy (or the fake upstream) from synchronous code, e.g. the runner.

Each server runs its aiohttp app on its own event loop in a daemon thread, so the
caller stays synchronous: `start()` returns once the socket listens (port 0 picks a
free port), `stop()` closes it and waits for the thread.
"""

from __future__ import annotations

import asyncio
import gc
import threading
from pathlib import Path

from aiohttp import web

from proxy.app import record_refused
from proxy.config import DEFAULT_KEY_ENV, ProxyConfig
from proxy.fake.app import FAKE, FakeConfig, FakeState, create_fake_app
from proxy.fake.quota import QuotaConfig
from proxy.governor import Policy
from proxy.governor_lane import LaneStats
from proxy.keys import APP_CONFIG, APP_GATE, APP_LIFECYCLE, APP_RECORDER
from proxy.lifecycle import OneLineErrors, answer_refused_requests
from proxy.records import ModelCall
from proxy.sessions import Session, SessionStore

#: How long a stopping server waits for requests still in flight.
SHUTDOWN_TIMEOUT_S = 2.0


def new_loop() -> asyncio.AbstractEventLoop:
    """uvloop's loop when installed (it roughly halves the proxy's CPU per call), else
    asyncio's. Behaviour is the same either way."""
    try:
        import uvloop
    except ImportError:
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()


#: allocations between two young-generation collections in a serving proxy process
#: (CPython's default is 700; a call allocates a few hundred objects, most freed at once)
GC_YOUNG_THRESHOLD = 10_000


def settle_heap() -> None:
    """For a process that is about to serve and nothing else (`cab proxy`): collect
    once, move everything alive now (modules, classes, config) out of the collector's
    sight (`gc.freeze`), and collect the young generation less often. The cyclic
    collector then scans only what serving allocates; with CPython's defaults it
    rescans the whole start-up heap over and over, a fifth of the proxy's CPU per call
    (docs/proxy.md, "Cost per call"). Reference counting still frees most objects the
    moment they are done with; cycles are still collected."""
    gc.collect()
    gc.freeze()
    _, older, oldest = gc.get_threshold()
    gc.set_threshold(GC_YOUNG_THRESHOLD, older, oldest)


def run(coro) -> None:
    """asyncio.run on `new_loop()`: how the CLI serves in the foreground."""
    with asyncio.Runner(loop_factory=new_loop) as runner:
        runner.run(coro)


def make_runner(app: web.Application) -> web.AppRunner:
    """The runner settings both servers use: no access log (hot path), and a handler
    that is cancelled when its client disconnects (so upstream work stops too). The
    proxy's app also brings its keep-alive timeout, drain grace and one-line logging of
    malformed requests."""
    cfg = app.get(APP_CONFIG)
    if cfg is None:  # the fake upstream
        return web.AppRunner(
            app, access_log=None, handler_cancellation=True, shutdown_timeout=SHUTDOWN_TIMEOUT_S
        )
    return web.AppRunner(
        app,
        access_log=None,
        handler_cancellation=True,
        shutdown_timeout=cfg.shutdown_grace_s,
        keepalive_timeout=cfg.keepalive_timeout_s,
        logger=OneLineErrors(),
        # a compressed request body is decoded by the handler, bounded by --max-body-bytes
        # (aiohttp's own decoding held ~5x that for a 100 KB gzip bomb)
        auto_decompress=False,
    )


async def start_runner(app: web.Application) -> web.AppRunner:
    runner = make_runner(app)
    await runner.setup()
    life = app.get(APP_LIFECYCLE)
    if life is not None:
        assert runner.server is not None
        life.server = runner.server
        answer_refused_requests(runner.server, lambda why, status: record_refused(app, why, status))
    return runner


async def serve_unix(runner: web.AppRunner, path: Path) -> None:
    """Also serve the runner's app on a Unix socket at `path`: the isolation sidecar
    connects there and serves it on an agent container's own loopback (docs/isolation.md).

    The socket is world-connectable (0666) because the sidecar runs as nobody; what guards
    it is the folder it lives in and the session key every request must carry, exactly as
    for the TCP port on 127.0.0.1. A stale socket left by a crashed run is replaced."""
    path = Path(path)
    if path.is_socket():
        path.unlink()
    await web.UnixSite(runner, str(path)).start()
    path.chmod(0o666)


class BackgroundServer:
    """An aiohttp app served on 127.0.0.1 from a background thread (and, when `unix_path`
    is set, on that Unix socket too)."""

    def __init__(self, host: str, port: int, unix_path: Path | None = None) -> None:
        self.host, self.port = host, port
        self.unix_path = unix_path
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None

    def _make_app(self) -> web.Application:
        raise NotImplementedError

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self):
        if self._thread is not None:
            raise RuntimeError(f"{type(self).__name__} already started")
        app = self._make_app()
        ready = threading.Event()
        failure: list[BaseException] = []
        loop = self._loop = new_loop()

        def run() -> None:
            asyncio.set_event_loop(loop)
            try:
                loop.run_until_complete(self._serve(app))
            except BaseException as exc:
                failure.append(exc)
                ready.set()
                loop.close()
                return
            ready.set()
            try:
                loop.run_forever()
            finally:
                if self._runner is not None:
                    loop.run_until_complete(self._runner.cleanup())
                loop.close()

        self._thread = threading.Thread(target=run, name=type(self).__name__, daemon=True)
        self._thread.start()
        ready.wait()
        if failure:
            self._thread.join()
            self._thread = None
            raise failure[0]
        return self

    async def _serve(self, app: web.Application) -> None:
        self._runner = await start_runner(app)
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        self.port = self._runner.addresses[0][1]
        if self.unix_path is not None:
            await serve_unix(self._runner, self.unix_path)

    def stop(self) -> None:
        if self._thread is None or self._loop is None:
            return
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=SHUTDOWN_TIMEOUT_S + 60)
        self._thread = None

    def __enter__(self):
        return self.start() if self._thread is None else self

    def __exit__(self, *exc: object) -> None:
        self.stop()


class ProxyServer(BackgroundServer):
    """The recording proxy, in-process. Sessions are created and read from any thread."""

    def __init__(
        self,
        upstream: str,
        upstream_key_env: str = DEFAULT_KEY_ENV,
        record_dir: Path | None = None,
        require_session: bool = True,
        host: str = "127.0.0.1",
        port: int = 0,
        timeout: float = 600.0,
        max_body_bytes: int = 32 * 1024 * 1024,
        max_reply_bytes: int = 256 * 1024 * 1024,
        unix_path: Path | None = None,
        governor: bool = True,
        policy: Policy | None = None,
        stream_usage: bool = True,
        shutdown_grace_s: float = SHUTDOWN_TIMEOUT_S,
        header_timeout_s: float = 10.0,
        keepalive_timeout_s: float = 15.0,
        body_timeout_s: float = 60.0,
    ) -> None:
        super().__init__(host, port, unix_path)
        self.config = ProxyConfig(
            upstream=upstream,
            upstream_key_env=upstream_key_env,
            host=host,
            port=port,
            record_dir=Path(record_dir) if record_dir else None,
            require_session=require_session,
            timeout=timeout,
            max_body_bytes=max_body_bytes,
            max_reply_bytes=max_reply_bytes,
            governor=governor,
            policy=policy or Policy(),
            stream_usage=stream_usage,
            shutdown_grace_s=shutdown_grace_s,
            header_timeout_s=header_timeout_s,
            keepalive_timeout_s=keepalive_timeout_s,
            body_timeout_s=body_timeout_s,
        )
        self.store = SessionStore()
        self._app: web.Application | None = None

    def _make_app(self) -> web.Application:
        from proxy.app import create_app

        self._app = create_app(self.config, self.store)
        return self._app

    def create_session(
        self,
        cell_id: str | None = None,
        upstream: str | None = None,
        upstream_key_env: str | None = None,
        model_override: str | None = None,
        session_id: str | None = None,
        upstream_timeout_s: float | None = None,
        policy: Policy | None = None,
    ) -> Session:
        return self.store.create(
            cell_id=cell_id,
            upstream=upstream,
            upstream_key_env=upstream_key_env,
            model_override=model_override,
            session_id=session_id,
            upstream_timeout_s=upstream_timeout_s,
            policy=policy,
        )

    def governor_stats(self) -> dict[str, LaneStats]:
        """Per lane (upstream + key): calls admitted, held back and for how long, 429s."""
        governor = self._app[APP_GATE].governor if self._app is not None else None
        return governor.stats() if governor is not None else {}

    def calls(self, session_id: str, settle_s: float = 5.0) -> list[ModelCall]:
        """The session's calls in order; waits up to settle_s for calls still in flight.
        calls.jsonl holds them too when this returns."""
        calls = self.store.calls(session_id, settle_s)
        if self._app is not None:
            self._app[APP_RECORDER].sink.flush()
        return calls

    def close_session(self, session_id: str) -> list[ModelCall]:
        """Forget the session (its key stops working); returns its calls."""
        sess = self.store.close(session_id)
        return list(sess.calls) if sess else []


class FakeUpstreamServer(BackgroundServer):
    """The fake provider, in-process. `base_url + "/v1"` is its OpenAI base URL."""

    def __init__(
        self,
        scripts_dir: Path = Path("config/scripts"),
        retry_after_s: float = 1.0,
        chunk_delay_s: float = 0.0,
        hang_s: float = 3600.0,
        host: str = "127.0.0.1",
        port: int = 0,
        quota: QuotaConfig | None = None,
    ) -> None:
        super().__init__(host, port)
        self.config = FakeConfig(
            scripts_dir=Path(scripts_dir),
            retry_after_s=retry_after_s,
            chunk_delay_s=chunk_delay_s,
            hang_s=hang_s,
            quota=quota,
        )
        self._app: web.Application | None = None

    def _make_app(self) -> web.Application:
        self._app = create_fake_app(self.config)
        return self._app

    @property
    def state(self) -> FakeState:
        """What the fake saw (authorizations, request and disconnect counts); for tests."""
        if self._app is None:
            raise RuntimeError("FakeUpstreamServer not started")
        return self._app[FAKE]


async def serve_until_signal(
    app: web.Application, host: str, port: int, name: str, unix_path: Path | None = None
) -> None:
    """Serve in the foreground (the CLI) until SIGINT/SIGTERM; prints the URL it bound
    (and serves the Unix socket at `unix_path` too, for isolated agents)."""
    import signal

    runner = await start_runner(app)
    await web.TCPSite(runner, host, port).start()
    bound = runner.addresses[0][1]
    print(
        f"{name} listening on http://{host}:{bound} (OpenAI base URL: http://{host}:{bound}/v1)",
        flush=True,
    )
    if unix_path is not None:
        await serve_unix(runner, unix_path)
        print(f"{name} listening on {unix_path} too (the isolation sidecar's door)", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        await runner.cleanup()
