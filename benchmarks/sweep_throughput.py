"""Sweep throughput: cells per minute at concurrency 1, 2 and 4 for short scripted cells,
and the harness's own overhead per cell apart from the agent's time.

    python benchmarks/sweep_throughput.py [--levels 1,2,4] [--repeats 1] [--sandbox docker]

The agent's time is the engine's own container_active_ms (State.StartedAt..FinishedAt);
everything else from the cell's start to its row being committed is the harness's:
  setup      task_setup span (copy the workspace, snapshot it)
  container  the container span minus the agent's time (create, start, wait, logs, remove)
  tests      the hidden_tests span (a second container over a fresh copy)
  cleanup    the cleanup span (scratch removal, label sweep, proxy session close)
  score+store  from the record's cell_ended_at to the store's finished_at (scoring,
             cell.json, calls.jsonl, the SQLite commit, the hop back to the event loop)
  other      the rest (diff, adapter prepare, session open)
Target: under 2 s of harness overhead per cell with Docker.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import uuid
from datetime import datetime
from pathlib import Path

from runner.logs import configure
from runner.record import CellRecord
from runner.store import ResultsStore
from runner.sweep import SweepRunner
from runner.sweep_config import parse_sweep

TASKS = [
    "polyglot/go-http-handler-fix",
    "partial/py-text-utils",
    "multifile/py-invoice-tax-rounding",
    "polyglot/js-querystring-parse",
]
PARTS = ["setup", "container", "tests", "cleanup", "score+store", "other"]


def ms(a: datetime, b: datetime) -> float:
    return (b - a).total_seconds() * 1000


def overhead(record: CellRecord, finished_at: str) -> dict[str, float]:
    spans = {(s.kind, s.name.split(":")[0]): s.duration_ms for s in record.spans}
    agent = record.facts.timing.container_active_ms or 0.0
    total = ms(record.timing.cell_started_at, datetime.fromisoformat(finished_at))
    parts = {
        "agent": agent,
        "setup": spans.get(("task_setup", "prepare"), 0.0),
        "container": spans.get(("container", f"{record.tui}"), 0.0) - agent,
        "tests": spans.get(("scoring", "hidden_tests"), 0.0),
        "cleanup": spans.get(("cleanup", "cleanup"), 0.0),
        "score+store": ms(record.timing.cell_ended_at, datetime.fromisoformat(finished_at)),
    }
    parts["other"] = total - sum(parts.values())
    parts["overhead"] = total - agent
    parts["total"] = total
    return parts


def run_level(out: Path, concurrency: int, repeats: int, sandbox: str) -> dict:
    cfg = parse_sweep(
        {
            "sweep_id": f"bench-c{concurrency}-{uuid.uuid4().hex[:6]}",
            "tuis": ["reference"],
            "models": ["scripted"],
            "tasks": TASKS,
            "repeats": repeats,
            "concurrency": concurrency,
            "sandbox": sandbox,
        }
    )
    runner = SweepRunner(cfg, out)
    t0 = time.monotonic()
    summary = runner.run()
    wall = time.monotonic() - t0
    with ResultsStore.for_sweep(summary.sweep_dir) as store:
        rows = store.query("SELECT cell_id, finished_at FROM cells")
        cells = []
        for r in rows:
            record = store.record(r["cell_id"])
            cells.append({**overhead(record, r["finished_at"]), "task": record.task_id})
    return {
        "concurrency": concurrency,
        "cells": summary.ran,
        "passed": summary.passed,
        "wall_s": wall,
        "cells_per_min": summary.ran / wall * 60,
        "median": {k: statistics.median(c[k] for c in cells) for k in cells[0] if k != "task"},
        "tests_by_task": {
            t: statistics.median(c["tests"] for c in cells if c["task"] == t) for t in TASKS
        },
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--levels", default="1,2,4")
    p.add_argument("--repeats", type=int, default=1)
    p.add_argument("--sandbox", default="docker", choices=["docker", "local", "auto"])
    args = p.parse_args(argv)
    configure(level="WARNING")
    results = []
    with tempfile.TemporaryDirectory(prefix="cab-bench-sweep-") as tmp:
        for level in (int(x) for x in args.levels.split(",")):
            results.append(run_level(Path(tmp), level, args.repeats, args.sandbox))
            r = results[-1]
            print(f"concurrency {level}: {r['cells']} cells in {r['wall_s']:.1f}s", file=sys.stderr)
    print(f"\nscripted cells ({len(TASKS)} tasks × {args.repeats} repeats), sandbox {args.sandbox}")
    print(f"{'conc':>4} {'cells':>5} {'pass':>4} {'wall s':>7} {'cells/min':>9}")
    for r in results:
        print(
            f"{r['concurrency']:>4} {r['cells']:>5} {r['passed']:>4} {r['wall_s']:>7.1f} "
            f"{r['cells_per_min']:>9.1f}"
        )
    print("\nper-cell medians in ms (agent = the container's own active time)")
    cols = ["agent", *PARTS, "overhead", "total"]
    print(f"{'conc':>4} " + " ".join(f"{c:>11}" for c in cols))
    for r in results:
        print(f"{r['concurrency']:>4} " + " ".join(f"{r['median'][c]:>11.0f}" for c in cols))
    print("\nhidden-tests span by task, ms (a container start/stop + the suite's own run)")
    for task in TASKS:
        by = " ".join(f"{r['tests_by_task'][task]:>7.0f}" for r in results)
        print(f"{task:<36} {by}")
    worst = max(r["median"]["overhead"] for r in results if r["concurrency"] == 1) / 1000
    print(f"\nharness overhead per cell at concurrency 1: {worst:.2f} s (target < 2 s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
