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
    p.add_argument(
        "--no-preflight",
        action="store_true",
        help="skip checking each model's endpoint, key and id before the first cell",
    )
    p.add_argument(
        "--proxy",
        metavar="URL",
        help="use this running `cab proxy` (http://127.0.0.1:PORT) instead of starting one, "
        "so sweeps on one key share its governor; its admin token in $CAB_PROXY_ADMIN_TOKEN",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from runner.store import ResultsStore
    from runner.store.export import render
    from runner.sweep import SweepRunner
    from runner.sweep_config import load_sweep
    from runner.sweep_progress import SweepProgress

    quiet_logs(args)
    try:
        cfg = load_sweep(args.file)
        progress = SweepProgress()
        shared = {"proxy_url": args.proxy} if args.proxy else None
        runner = SweepRunner(cfg, args.out, args.sandbox, listener=progress, harness_options=shared)
        if args.dry_run:
            return dry_run(runner)
        if not args.no_preflight and not preflight(runner, progress.console):
            return 2
        with progress:
            summary = runner.run()
    except RunnerError as exc:
        print(f"cab sweep: {exc}", file=sys.stderr)
        return 2
    with ResultsStore.for_sweep(summary.sweep_dir) as store:
        render(store.leaderboard(), cfg.sweep_id, progress.console)
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


def preflight(runner, console) -> bool:
    """`cab doctor sweep`'s endpoint checks, before any cell runs: an unreachable endpoint,
    an unset key or an id the provider does not list would otherwise cost every cell its
    retries. Prints the lines when there is something to say; False stops the sweep."""
    from cab.commands.doctor_cmd import render
    from runner.doctor import sweep_preflight

    report = sweep_preflight(runner.cfg, runner.plans)
    if report.checks:
        render(report, console, "cab sweep: before the first cell, each model's endpoint:")
    if not report.ok:
        print(
            "cab sweep: no cell was run; fix the lines above (or --no-preflight)", file=sys.stderr
        )
    return report.ok


def quiet_logs(args: argparse.Namespace) -> None:
    """The progress display prints a line per cell; the proxy's per-call log lines would
    bury it, so the default level becomes WARNING (`--log-level DEBUG` shows them all)."""
    from runner.logs import configure

    if not getattr(args, "log_json", False) and getattr(args, "log_level", "INFO") == "INFO":
        configure(level="WARNING")
