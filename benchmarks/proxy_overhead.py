"""How much does the proxy add? Direct-to-upstream vs through-the-proxy, in one run.

    python benchmarks/proxy_overhead.py [--requests-c1 400] [--requests-c32 3000] [--repeats 3]
                                        [--capture] [--settled-peer]

The workload of issue 11: a fake upstream that answers at once, streams of 20 content
chunks plus a usage chunk, a request of ~1 KB of messages, concurrency 1 and 32.

Starts `cab fake-upstream`, `cab proxy` and, as the peer, a bare aiohttp pass-through
(benchmarks/bare_passthrough.py: the floor for any aiohttp-based proxy, recording nothing)
as subprocesses on 127.0.0.1. On a machine with 2+ cores the load generator (this
process) and the upstream share core 0 and the proxy (or the peer) gets core 1, so its
cost shows as added latency and lost throughput rather than as contention. Every loop is
bounded in count and time. Prints p50/p99 latency, time to first chunk, requests/s and
the overhead per case, ours beside the peer's. With --capture, a second proxy keeping
wire transcripts (capture on) is measured in the same interleaved run, beside ours with
--no-transcripts (capture off). `cab proxy` settles its heap before serving (gc.freeze
and a larger young-generation threshold: proxy.server.settle_heap); the bare pass-through
runs with CPython's defaults. With --settled-peer a second bare pass-through with the same
settings is measured too, so the ratio is also shown with that lever taken out.
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

PROMPT = " ".join(f"w{i}" for i in range(39))  # "echo: " + 39 words: 20 content chunks
SYSTEM = "You are a careful coding agent. " * 30  # with the prompt, ~1 KB of messages
BODY = {
    "model": "echo/chunks-20",
    "messages": [{"role": "system", "content": SYSTEM}, {"role": "user", "content": PROMPT}],
}
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
    assert proc.stdout is not None
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
    payload = (
        {**body, "stream": True, "stream_options": {"include_usage": True}} if stream else body
    )
    async with session.post(url, json=payload, headers=HEADERS) as resp:
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


def measure(base: str, pid: int | None, stream: bool, conc: int, n: int) -> dict:
    """One case against one target; with `pid`, that process's CPU per call too."""
    before = cpu_s(pid) if pid else 0.0
    row = asyncio.run(run_case(base, stream, conc, n))
    if pid:
        row["cpu_us"] = (cpu_s(pid) - before) / (row["n"] + min(50, n)) * 1e6
    return row


def median_row(rows: list[dict]) -> dict:
    return {k: statistics.median(r[k] for r in rows) for k in rows[0]}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--requests-c1", type=int, default=400)
    ap.add_argument("--requests-c32", type=int, default=3000)
    ap.add_argument("--repeats", type=int, default=3, help="medians of this many runs")
    ap.add_argument(
        "--settled-peer",
        action="store_true",
        help="also measure the bare pass-through with cab proxy's gc settings (--settle-heap)",
    )
    ap.add_argument(
        "--capture",
        action="store_true",
        help="also measure a second proxy with wire transcripts on (capture on), side by side"
        " with ours (--no-transcripts: calls.jsonl, the record, only)",
    )
    args = ap.parse_args()
    ncpu = os.cpu_count() or 1
    pin = ncpu >= 2 and not os.environ.get("CAB_BENCH_NO_PIN")
    if pin:
        os.sched_setaffinity(0, {0})
    record_dir = tempfile.mkdtemp(prefix="cab-bench-")
    fake, fake_url = start(["fake-upstream", "--port", "0"], 0 if pin else None)
    proxy_args = ["proxy", "--port", "0", "--upstream", fake_url + "/v1", "--record-dir"]
    proxy, proxy_url = start([*proxy_args, record_dir, "--no-transcripts"], 1 if pin else None)
    bare, bare_url = start([str(BARE), "--upstream", fake_url + "/v1"], 1 if pin else None)
    targets = {"direct": (fake_url, None), "ours": (proxy_url, proxy.pid)}
    targets["bare"] = (bare_url, bare.pid)
    procs = [proxy, bare, fake]
    if args.settled_peer:  # the floor with the same collector settings as cab proxy
        settled, settled_url = start([str(BARE), "--upstream", fake_url + "/v1", "--settle-heap"],
                                     1 if pin else None)  # fmt: skip
        targets["settled"] = (settled_url, settled.pid)
        procs.insert(0, settled)
    if args.capture:  # the same proxy keeping transcript.jsonl.gz beside its calls.jsonl
        captured, captured_url = start([*proxy_args, record_dir + "/capture"], 1 if pin else None)
        targets["capture"] = (captured_url, captured.pid)
        procs.insert(0, captured)
    rows = []
    try:
        for stream in (False, True):
            for conc, n in ((1, args.requests_c1), (32, args.requests_c32)):
                runs: dict[str, list[dict]] = {k: [] for k in targets}
                for _ in range(args.repeats):  # interleaved, so drift hits all alike
                    for name, (url, pid) in targets.items():
                        runs[name].append(measure(url, pid, stream, conc, n))
                rows.append((stream, conc, {k: median_row(runs[k]) for k in runs}))
    finally:
        for p in procs:
            p.send_signal(signal.SIGTERM)
            p.wait(timeout=20)
    print_table(rows, ncpu, pin, args.repeats)
    if args.settled_peer:
        print_settled(rows)
    if args.capture:
        print_capture(rows)
    print_redaction_cost()
    return 0


def print_table(rows: list, ncpu: int, pin: bool, repeats: int) -> None:
    print(f"# proxy overhead — {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, nproc={ncpu},"
          f" CPU: {_cpu_model()}, python {platform.python_version()},"
          f" pinned={'yes' if pin else 'no'}, medians of {repeats},"
          f" load average {os.getloadavg()[0]:.2f}")  # fmt: skip
    head = ("mode", "conc", "n", "CPU/call ours", "CPU/call bare", "ours/bare",
            "rps direct", "rps % ours", "rps % bare", "added p50 ours", "added p50 bare",
            "p99 ours", "p99 bare")  # fmt: skip
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    for stream, conc, by in rows:
        d, p, b = by["direct"], by["ours"], by["bare"]
        cells = ("stream" if stream else "non-stream", conc, int(p["n"]),
                 f"{p['cpu_us']:.0f} µs", f"{b['cpu_us']:.0f} µs", f"{p['cpu_us'] / b['cpu_us']:.2f}×",
                 f"{d['rps']:.0f}", f"{p['rps'] / d['rps']:.0%}", f"{b['rps'] / d['rps']:.0%}",
                 f"{p['p50'] - d['p50']:+.2f} ms", f"{b['p50'] - d['p50']:+.2f} ms",
                 f"{p['p99']:.2f} ms", f"{b['p99']:.2f} ms")  # fmt: skip
        print("| " + " | ".join(str(c) for c in cells) + " |")
    print("bare = a pass-through that records nothing (benchmarks/bare_passthrough.py);"
          " CPU/call = the server process's user+system CPU over the case / calls;"
          " cab proxy settles its heap before serving (gc), bare keeps CPython's defaults")  # fmt: skip


def print_settled(rows: list) -> None:
    """Ours beside the bare pass-through run with cab proxy's gc settings too."""
    head = ("mode", "conc", "CPU/call ours", "CPU/call bare, heap settled", "ours/settled bare")
    print("\n| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    for stream, conc, by in rows:
        p, s = by["ours"], by["settled"]
        cells = ("stream" if stream else "non-stream", conc, f"{p['cpu_us']:.0f} µs",
                 f"{s['cpu_us']:.0f} µs", f"{p['cpu_us'] / s['cpu_us']:.2f}×")  # fmt: skip
        print("| " + " | ".join(str(c) for c in cells) + " |")


def print_capture(rows: list) -> None:
    """Capture on (transcripts kept) beside capture off (ours), from the same interleaved run."""
    head = ("mode", "conc", "CPU/call off", "CPU/call on", "rps % off", "rps % on",
            "added p50 off", "added p50 on", "p99 off", "p99 on")  # fmt: skip
    print("\n| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    for stream, conc, by in rows:
        d, p, c = by["direct"], by["ours"], by["capture"]
        cells = ("stream" if stream else "non-stream", conc,
                 f"{p['cpu_us']:.0f} µs", f"{c['cpu_us']:.0f} µs",
                 f"{p['rps'] / d['rps']:.0%}", f"{c['rps'] / d['rps']:.0%}",
                 f"{p['p50'] - d['p50']:+.2f} ms", f"{c['p50'] - d['p50']:+.2f} ms",
                 f"{p['p99']:.2f} ms", f"{c['p99']:.2f} ms")  # fmt: skip
        print("| " + " | ".join(str(x) for x in cells) + " |")
    print("capture off = --no-transcripts (calls.jsonl only); on = transcript.jsonl.gz too")


def print_redaction_cost() -> None:
    """Key redaction's share: the rolling window over one streamed reply of this workload."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from proxy.redact import Redactor, StreamRedactor

    event = b'data: {"id":"chatcmpl-fake-0","object":"chat.completion.chunk","choices":[' \
            b'{"index":0,"delta":{"content":"w12 "},"finish_reason":null}]}\n\n'  # fmt: skip
    red = Redactor(("sk-proj-" + "x" * 40, "cab-0123456789abcdef"))
    calls = 2000
    t0 = time.process_time()
    for _ in range(calls):
        window = StreamRedactor(red)
        for _ in range(22):
            window.feed(event)
        window.finish()
    per_call = (time.process_time() - t0) / calls * 1e6
    print(f"key redaction: {per_call:.1f} µs CPU per streamed call (22 chunks, 2 secrets)")


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
