"""How much does the proxy add? Direct-to-upstream vs through-the-proxy, in one run.

    python benchmarks/proxy_overhead.py [--requests-c1 400] [--requests-c32 3000]

Starts `cab fake-upstream`, `cab proxy` and, as the peer, a bare aiohttp pass-through
(benchmarks/bare_passthrough.py: the floor for any aiohttp-based proxy, recording nothing)
as subprocesses on 127.0.0.1. On a machine with 2+ cores the load generator (this
process) and the upstream share core 0 and the proxy (or the peer) gets core 1, so its
cost shows as added latency and lost throughput rather than as contention. Every loop is
bounded in count and time. Prints p50/p99 latency, time to first chunk, requests/s and
the overhead per case, ours beside the peer's.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import aiohttp

PROMPT = " ".join(f"word{i}" for i in range(40))  # echo replies in 16 stream chunks
BODY = {"model": "echo", "messages": [{"role": "user", "content": PROMPT}]}
MAX_SECONDS_PER_CASE = 60.0


BARE = Path(__file__).resolve().parent / "bare_passthrough.py"


def start(args: list[str], cpu: int | None) -> tuple[subprocess.Popen, str]:
    """`cab <args>`, or the bare pass-through when args[0] is its path."""
    pre = ["taskset", "-c", str(cpu)] if cpu is not None else []
    cmd = args if args[0] == str(BARE) else ["-m", "cab", "--log-level", "WARNING", *args]
    proc = subprocess.Popen(
        [*pre, sys.executable, *cmd],
        stdout=subprocess.PIPE,
        text=True,
    )
    line = proc.stdout.readline()
    m = re.search(r"listening on (http://127\.0\.0\.1:\d+)", line)
    if not m:
        proc.kill()
        raise SystemExit(f"{args[0]} did not start: {line!r}")
    return proc, m.group(1)


def cpu_s(pid: int) -> float:
    """User + system CPU seconds a process has used (from /proc): the proxy's own cost,
    which, unlike latency, other load on the machine barely moves."""
    stat = Path(f"/proc/{pid}/stat").read_text(encoding="ascii")
    fields = stat.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


async def one(
    session: aiohttp.ClientSession, url: str, body: dict, stream: bool
) -> tuple[float, float]:
    t0 = time.perf_counter()
    async with session.post(url, json={**body, "stream": stream}, headers=HEADERS) as resp:
        first = await resp.content.readany()
        t_first = time.perf_counter()
        assert resp.status == 200 and first, resp.status
        while await resp.content.readany():
            pass
    t_end = time.perf_counter()
    return (t_end - t0) * 1000, (t_first - t0) * 1000


HEADERS = {"Authorization": "Bearer cab-bench"}


async def run_case(base: str, stream: bool, concurrency: int, total: int) -> dict:
    url = base + "/v1/chat/completions"
    latencies: list[float] = []
    firsts: list[float] = []
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as session:
        for _ in range(min(50, total)):  # warm up connections and code paths
            await one(session, url, BODY, stream)
        remaining = total
        deadline = time.monotonic() + MAX_SECONDS_PER_CASE

        async def worker() -> None:
            nonlocal remaining
            while remaining > 0 and time.monotonic() < deadline:
                remaining -= 1
                lat, first = await one(session, url, BODY, stream)
                latencies.append(lat)
                firsts.append(first)

        t0 = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - t0
    return {
        "n": len(latencies),
        "p50": statistics.median(latencies),
        "p99": pct(latencies, 0.99),
        "first_p50": statistics.median(firsts),
        "rps": len(latencies) / elapsed,
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--requests-c1", type=int, default=400)
    ap.add_argument("--requests-c32", type=int, default=3000)
    args = ap.parse_args()
    ncpu = os.cpu_count() or 1
    pin = ncpu >= 2 and not os.environ.get("CAB_BENCH_NO_PIN")
    if pin:
        os.sched_setaffinity(0, {0})
    record_dir = tempfile.mkdtemp(prefix="cab-bench-")
    fake, fake_url = start(["fake-upstream", "--port", "0"], 0 if pin else None)
    proxy, proxy_url = start(
        ["proxy", "--port", "0", "--upstream", fake_url + "/v1", "--record-dir", record_dir],
        1 if pin else None,
    )
    bare, bare_url = start([str(BARE), "--upstream", fake_url + "/v1"], 1 if pin else None)
    rows = []
    try:
        for stream in (False, True):
            for conc, n in ((1, args.requests_c1), (32, args.requests_c32)):
                direct = asyncio.run(run_case(fake_url, stream, conc, n))
                before = cpu_s(proxy.pid)
                proxied = asyncio.run(run_case(proxy_url, stream, conc, n))
                proxied["cpu_us"] = (cpu_s(proxy.pid) - before) / (proxied["n"] + min(50, n)) * 1e6
                before = cpu_s(bare.pid)
                peer = asyncio.run(run_case(bare_url, stream, conc, n))
                peer["cpu_us"] = (cpu_s(bare.pid) - before) / (peer["n"] + min(50, n)) * 1e6
                rows.append((stream, conc, direct, proxied, peer))
    finally:
        for p in (proxy, bare, fake):
            p.send_signal(signal.SIGTERM)
            p.wait(timeout=20)
    cpu = _cpu_model()
    print(f"# proxy overhead — {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, nproc={ncpu}, CPU: {cpu},"
          f" python {platform.python_version()}, pinned={'yes' if pin else 'no'},"
          f" load average {os.getloadavg()[0]:.2f}")  # fmt: skip
    head = ("mode", "conc", "n", "direct p50", "proxy p50", "added p50", "peer added p50",
            "direct p99", "proxy p99", "direct 1st", "proxy 1st", "direct rps", "proxy rps",
            "rps ratio", "peer rps ratio", "proxy CPU/req", "peer CPU/req")  # fmt: skip
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    for stream, conc, d, p, b in rows:
        cells = ("stream" if stream else "non-stream", conc, p["n"], f"{d['p50']:.2f} ms", f"{p['p50']:.2f} ms",
                 f"{p['p50'] - d['p50']:+.2f} ms", f"{b['p50'] - d['p50']:+.2f} ms",
                 f"{d['p99']:.2f} ms", f"{p['p99']:.2f} ms",
                 f"{d['first_p50']:.2f} ms", f"{p['first_p50']:.2f} ms", f"{d['rps']:.0f}", f"{p['rps']:.0f}",
                 f"{p['rps'] / d['rps']:.0%}", f"{b['rps'] / d['rps']:.0%}",
                 f"{p['cpu_us']:.0f} µs", f"{b['cpu_us']:.0f} µs")  # fmt: skip
        print("| " + " | ".join(str(c) for c in cells) + " |")
    print(
        "peer = a bare aiohttp pass-through that records nothing (benchmarks/bare_passthrough.py)"
    )
    return 0


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


if __name__ == "__main__":
    sys.exit(main())
