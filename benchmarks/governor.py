"""Benchmark: a sweep against a tight provider quota, three ways in one go.

The embedded fake provider gets a quota of 60 requests and 40k tokens per window (a
scaled-down minute, `--window` seconds, enforced as a provider does: buckets holding a
tenth of the window's limit); 16 scripted cells (the reference agent on the four
polyglot tasks, 4 repeats) run at concurrency 8 on the local sandbox:

1. no governor: every call goes straight to the provider (the agent retries 429s itself,
   twice, honouring Retry-After);
2. governor: the proxy admits calls inside the model's configured rpm/tpm;
3. governor + absorb: the same, and the proxy retries any 429 itself.

For each it prints the infra cells, the 429s that reached agents, the upstream attempts
the provider refused, and the wall time against the quota-bound minimum
max(total tokens ÷ TPM, total requests ÷ RPM) over the sweep's completed calls. Targets
with the governor: 0 infra cells, 0 429s to agents, wall ≤ 1.2 × the minimum.

    python benchmarks/governor.py [--window 30] [--repeats 4] [--out DIR]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from proxy.fake.quota import QuotaConfig
from runner.logs import configure
from runner.store import ResultsStore
from runner.sweep import SweepRunner
from runner.sweep_config import parse_sweep

RPM, TPM, CONCURRENCY = 60, 40_000, 8
MODES = {"no governor": (False, False), "governor": (True, False), "governor+absorb": (True, True)}


def sweep(mode: str, window: float, repeats: int, out: Path) -> dict:
    governed, absorb = MODES[mode]
    model = {
        "name": "scripted-quota",
        "endpoint": "embedded",
        "model_id": "scripted/{task_id}",
        "build_id": "scripted-v1",
        "rpm": RPM,
        "tpm": TPM,
        "quota_window_s": window,
        "absorb": absorb,
    }
    cfg = parse_sweep(
        {
            "sweep_id": f"govbench-{mode.replace(' ', '-').replace('+', '-')}-{os.getpid()}",
            "tuis": ["reference"],
            "models": [model],
            "tasks": ["polyglot"],
            "repeats": repeats,
            "concurrency": CONCURRENCY,
            "sandbox": "local",
            "retry": {"attempts": 1},
            "plugins": [{"name": "retries", "args": ["--retries", "2", "--max-wait", "8"]}],
        }
    )
    quota = QuotaConfig(rpm=RPM, tpm=TPM, window_s=window, burst=0.1)
    runner = SweepRunner(
        cfg, out_root=out, sandbox="local", harness_options={"quota": quota, "governor": governed}
    )
    t0 = time.perf_counter()
    summary = runner.run()
    wall = time.perf_counter() - t0
    return {"mode": mode, "wall_s": wall, "cells": summary.ran, **_count(out / cfg.sweep_id)}


def _count(sweep_dir: Path) -> dict:
    with ResultsStore.for_sweep(sweep_dir) as store:
        records = [record for _, record, _ in store.finished()]
    calls = [c for r in records for c in r.calls]
    ok = [c for c in calls if c.completed]
    return {
        "infra": sum(r.infra for r in records),
        "passed": sum(1 for r in records if r.scores and r.scores.pass_rate.pass_ == 1),
        "to_agents": sum(c.status_code == 429 and not c.absorbed for c in calls),
        "refused": sum(c.upstream_status == 429 for c in calls),
        "absorbed": sum(c.absorbed for c in calls),
        "requests": len(ok),
        "tokens": sum(c.total_tokens or 0 for c in ok),
        "queued_s": sum(c.queued_ms or 0 for c in calls) / 1000,
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--window", type=float, default=30.0, help="the quota's 'minute', seconds")
    ap.add_argument("--repeats", type=int, default=4, help="repeats of the 4 polyglot tasks")
    ap.add_argument("--out", type=Path, help="keep the sweeps here (default: a temp dir)")
    args = ap.parse_args()
    configure(level="WARNING")  # one line per mode, not one per cell
    out = args.out or Path(tempfile.mkdtemp(prefix="cab-govbench-"))
    print(
        f"quota {RPM} RPM / {TPM} TPM per {args.window:g} s window (burst 10%), "
        f"{4 * args.repeats} cells at concurrency {CONCURRENCY}; sweeps in {out}",
        flush=True,
    )
    head = (
        f"{'mode':<16} {'cells':>5} {'pass':>4} {'infra':>5} {'429→agents':>10} "
        f"{'refused':>7} {'absorbed':>8} {'requests':>8} {'tokens':>7} {'queued':>7} "
        f"{'wall':>7} {'minimum':>7} {'ratio':>5}"
    )
    print(head)
    for mode in MODES:
        r = sweep(mode, args.window, args.repeats, out)
        minimum = max(r["tokens"] / TPM, r["requests"] / RPM) * args.window
        print(
            f"{r['mode']:<16} {r['cells']:>5} {r['passed']:>4} {r['infra']:>5} "
            f"{r['to_agents']:>10} {r['refused']:>7} {r['absorbed']:>8} {r['requests']:>8} "
            f"{r['tokens']:>7} {r['queued_s']:>6.0f}s {r['wall_s']:>6.1f}s {minimum:>6.1f}s "
            f"{r['wall_s'] / minimum:>5.2f}",
            flush=True,
        )
    print("targets with the governor: 0 infra, 0 429s to agents, wall ≤ 1.2 × minimum")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
