"""A hostile provider at scale: 10,000 calls at concurrency 64 through `cab proxy`, ~20% of
them faults of every kind (proxy/fake/faultload.py lists them: 5xx, 401 with the key
echoed, 429, context length, cut streams and bodies, HTML 200, gzip, no [DONE], hangs,
stalls, clients that leave, bad JSON, errors and empty answers inside a 200), streamed and
not, on the chat and the Responses API.

    python benchmarks/proxy_faults.py [--calls 10000] [--concurrency 64] [--fault-rate 0.2]

Starts `cab fake-upstream` and `cab proxy` (governor off: this measures the record, not
pacing) on 127.0.0.1, drives the load, then checks calls.jsonl: every call has exactly
one record whose outcome and status equal what the upstream did and the client saw.
Exits 1 on any lost, duplicated or wrong record. Loopback only; bounded in time.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from proxy.fake.faultload import FAULTS, check, drive, plan  # noqa: E402
from proxy.records import ModelCall  # noqa: E402


def start(args: list[str]) -> tuple[subprocess.Popen, str]:
    proc = subprocess.Popen([sys.executable, "-m", "cab", "--log-level", "ERROR", *args],
                            stdout=subprocess.PIPE, text=True, cwd=ROOT)  # fmt: skip
    for _ in range(20):
        line = proc.stdout.readline() if proc.stdout else ""
        m = re.search(r"listening on (http://127\.0\.0\.1:\d+)", line)
        if m:
            return proc, m.group(1)
    proc.kill()
    raise SystemExit(f"cab {args[0]} did not start")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--calls", type=int, default=10_000)
    ap.add_argument("--concurrency", type=int, default=64)
    ap.add_argument("--fault-rate", type=float, default=0.2)
    ap.add_argument("--seed", type=int, default=11)
    args = ap.parse_args()
    record_dir = Path(tempfile.mkdtemp(prefix="cab-faults-"))
    fake, fake_url = start(["fake-upstream", "--port", "0", "--hang-s", "30"])
    proxy, proxy_url = start(["proxy", "--port", "0", "--upstream", fake_url + "/v1",
                              "--record-dir", str(record_dir), "--timeout", "3",
                              "--no-governor", "--no-transcripts"])  # fmt: skip
    kinds = plan(args.calls, args.seed, args.fault_rate)
    try:
        t0 = time.perf_counter()
        seen = asyncio.run(drive(proxy_url, kinds, args.concurrency))
        elapsed = time.perf_counter() - t0
        time.sleep(1.0)  # the last records (clients that left) settle
    finally:
        for p in (proxy, fake):
            p.send_signal(signal.SIGTERM)
            p.wait(timeout=30)
    lines = (record_dir / "calls.jsonl").read_text().splitlines()
    report = check(kinds, seen, map(ModelCall.model_validate_json, lines))
    faults = sum(1 for k in kinds if k.outcome != "ok" or k.model != "echo")
    print(f"# fault load: {report.calls} calls ({faults} with an injected fault or hostile"
          f" reply), concurrency {args.concurrency}, {elapsed:.1f} s, nproc={os.cpu_count()}")  # fmt: skip
    print(f"records: {report.records}; lost: {len(report.lost)}; duplicated:"
          f" {len(report.duplicated)}; outcome/status differing from upstream+client:"
          f" {len(report.wrong)}")  # fmt: skip
    print("by outcome: " + ", ".join(f"{k} {v}" for k, v in sorted(report.by_outcome.items())))
    apis = Counter(k.api for k in kinds)
    print(f"by API: chat {apis['chat']}, responses {apis['responses']};"
          f" {len(set(FAULTS))} kinds of fault")  # fmt: skip
    for line in report.wrong[:20]:
        print("  " + line)
    return 0 if report.clean else 1


if __name__ == "__main__":
    sys.exit(main())
