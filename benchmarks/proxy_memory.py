"""Does a long-running `cab proxy` stay flat in memory? RSS after 10k and after 60k calls.

    python benchmarks/proxy_memory.py [--calls 60000] [--checkpoint 10000] [--per-session 100]

Starts `cab fake-upstream` and a standalone `cab proxy --record-dir` (defaults otherwise:
governor and transcripts on) on 127.0.0.1 and sends calls at concurrency 32, a new
session key (`cab-m<n>`) every `--per-session` calls, every prompt different, one call in
four streamed. Prints the proxy's RSS (VmRSS) at the checkpoint and at the end; the
target is < 15 MB apart.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
import tempfile
from pathlib import Path

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent))
from proxy_overhead import start


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


async def load(url: str, first: int, last: int, per_session: int) -> None:
    todo = iter(range(first, last))
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as http:

        async def worker() -> None:
            for i in todo:
                body = {"model": "echo", "stream": i % 4 == 0,
                        "messages": [{"role": "user", "content": f"prompt number {i}"}]}  # fmt: skip
                auth = {"Authorization": f"Bearer cab-m{i // per_session}"}
                async with http.post(url + "/v1/chat/completions", json=body, headers=auth) as r:
                    await r.read()

        await asyncio.gather(*(worker() for _ in range(32)))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--calls", type=int, default=60_000)
    ap.add_argument("--checkpoint", type=int, default=10_000)
    ap.add_argument("--per-session", type=int, default=100)
    ap.add_argument("--proxy-flag", action="append", default=[], metavar="FLAG",
                    help="extra cab proxy flag, e.g. --proxy-flag=--no-transcripts")  # fmt: skip
    args = ap.parse_args()
    record_dir = tempfile.mkdtemp(prefix="cab-mem-")
    fake, fake_url = start(["fake-upstream", "--port", "0"], None)
    proxy, proxy_url = start(
        ["proxy", "--port", "0", "--upstream", fake_url + "/v1", "--record-dir", record_dir,
         *args.proxy_flag],
        None,
    )  # fmt: skip
    try:
        asyncio.run(load(proxy_url, 0, args.checkpoint, args.per_session))
        at_checkpoint = rss_mb(proxy.pid)
        asyncio.run(load(proxy_url, args.checkpoint, args.calls, args.per_session))
        at_end = rss_mb(proxy.pid)
    finally:
        for p in (proxy, fake):
            p.send_signal(signal.SIGTERM)
            p.wait(timeout=30)
    lines = (Path(record_dir) / "calls.jsonl").read_bytes().count(b"\n")
    print(f"# proxy memory: {args.calls} calls, a new session key every {args.per_session}"
          f" ({args.calls // args.per_session} sessions), {lines} records written")  # fmt: skip
    print(f"RSS after {args.checkpoint}: {at_checkpoint:.1f} MB; after {args.calls}:"
          f" {at_end:.1f} MB; difference {at_end - at_checkpoint:+.1f} MB (target < 15 MB)")  # fmt: skip
    return 0 if at_end - at_checkpoint < 15 else 1


if __name__ == "__main__":
    sys.exit(main())
