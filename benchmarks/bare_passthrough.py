"""A bare pass-through, the floor for any aiohttp-based proxy: aiohttp server, aiohttp
client, bodies and streams forwarded as they come, nothing parsed or recorded.

    python benchmarks/bare_passthrough.py --upstream http://127.0.0.1:PORT/v1 [--port 0]
                                          [--settle-heap]

Used by proxy_overhead.py as the peer our proxy is compared with; prints
"listening on http://127.0.0.1:PORT" once bound, stops on SIGTERM. With --settle-heap it
tunes CPython's collector as `cab proxy` does before serving (proxy.server.settle_heap),
so the two can also be compared with that lever taken out.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from pathlib import Path

import aiohttp
from aiohttp import web

SKIP = {"host", "content-length", "transfer-encoding", "connection"}


def create_app(upstream: str) -> web.Application:
    app = web.Application()

    async def client_ctx(app: web.Application):
        app["client"] = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=0), auto_decompress=False
        )
        yield
        await app["client"].close()

    async def forward(request: web.Request) -> web.StreamResponse:
        body = await request.read()
        headers = {k: v for k, v in request.headers.items() if k.lower() not in SKIP}
        url = f"{upstream}/{request.match_info['tail']}"
        async with app["client"].request(request.method, url, data=body, headers=headers) as up:
            out_headers = {k: v for k, v in up.headers.items() if k.lower() not in SKIP}
            if "event-stream" not in up.headers.get("Content-Type", ""):
                return web.Response(status=up.status, body=await up.read(), headers=out_headers)
            out = web.StreamResponse(status=up.status, headers=out_headers)
            await out.prepare(request)
            async for chunk in up.content.iter_any():
                await out.write(chunk)
            await out.write_eof()
            return out

    app.cleanup_ctx.append(client_ctx)
    app.router.add_route("*", "/v1/{tail:.*}", forward)
    return app


async def serve(upstream: str, port: int) -> None:
    runner = web.AppRunner(create_app(upstream.rstrip("/")), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    bound = site._server.sockets[0].getsockname()[1]
    print(f"bare pass-through listening on http://127.0.0.1:{bound}", flush=True)
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        asyncio.get_running_loop().add_signal_handler(sig, stop.set)
    await stop.wait()
    await runner.cleanup()


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--upstream", required=True)
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--settle-heap", action="store_true", help="gc as cab proxy sets it")
    args = ap.parse_args()
    if args.settle_heap:
        sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
        from proxy.server import settle_heap

        settle_heap()
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    asyncio.run(serve(args.upstream, args.port))
