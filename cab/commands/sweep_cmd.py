"""`cab sweep FILE`: run a sweep file's agents × models × tasks matrix, resumably."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from runner.errors import RunnerError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "sweep",
        help="Run a sweep file (config/sweeps/*.toml); rerun it to resume",
        description="Runs what is not finished yet: rerunning the same file resumes it.",
    )
    p.add_argument("file", type=Path, help="sweep file, e.g. config/sweeps/demo.toml")
    p.add_argument("--dry-run", action="store_true", help="list the cells, run nothing")
    p.add_argument(
        "--sandbox", choices=["auto", "docker", "local"], help="overrides the file's sandbox"
    )
    p.add_argument("--out", type=Path, default=Path("runs"), help="root of the run records")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from runner.store import ResultsStore, leaderboard
    from runner.store.leaderboard import render
    from runner.sweep import SweepRunner
    from runner.sweep_config import load_sweep
    from runner.sweep_progress import SweepProgress

    quiet_logs(args)
    try:
        cfg = load_sweep(args.file)
        progress = SweepProgress()
        runner = SweepRunner(cfg, args.out, args.sandbox, listener=progress)
        if args.dry_run:
            return dry_run(runner)
        with progress:
            summary = runner.run()
    except RunnerError as exc:
        print(f"cab sweep: {exc}", file=sys.stderr)
        return 2
    with ResultsStore.for_sweep(summary.sweep_dir) as store:
        board = leaderboard(store.cells(), robustness=cfg.robustness)
        render(board, cfg.sweep_id, progress.console)
    print(
        f"{summary.ran} cells run, {summary.skipped} already finished, "
        f"{summary.errors} harness errors; results in {summary.sweep_dir / 'results.db'}"
    )
    return 1 if summary.errors else 0


def dry_run(runner) -> int:
    pending = {p.cell_id for p in runner.pending()}
    for plan in runner.plans:
        state = "todo" if plan.cell_id in pending else "done"
        print(f"{state}\t{plan.cell_id}\t{runner.sweep_dir / plan.rel_dir}")
    print(f"{len(runner.plans)} cells, {len(pending)} to run", file=sys.stderr)
    return 0


def quiet_logs(args: argparse.Namespace) -> None:
    """The progress display prints a line per cell; the proxy's per-call log lines would
    bury it, so the default level becomes WARNING (`--log-level DEBUG` shows them all)."""
    from runner.logs import configure

    if not getattr(args, "log_json", False) and getattr(args, "log_level", "INFO") == "INFO":
        configure(level="WARNING")
