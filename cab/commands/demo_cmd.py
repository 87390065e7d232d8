"""`cab demo`: the README's first command. No key, no network, no flags.

Runs config/sweeps/demo.toml — the reference agent × {scripted, scripted-throttled} × the
starter tasks — in Docker when an engine answers (local sandbox otherwise, said loudly),
prints the leaderboard, then writes the static site and prints the path of its index.
Rerunning resumes: finished cells are kept (delete runs/demo to start over).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from runner.errors import RunnerError

OUT = Path("runs")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "demo",
        help="Run the demo sweep (no key, no network) and write its report",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from cab.commands.sweep_cmd import quiet_logs
    from runner.store import ResultsStore
    from runner.store.export import render
    from runner.sweep import SweepRunner
    from runner.sweep_config import SWEEPS_DIR, load_sweep
    from runner.sweep_progress import SweepProgress

    quiet_logs(args)
    progress = SweepProgress()
    console = progress.console
    try:
        cfg = load_sweep(SWEEPS_DIR / "demo.toml")
        runner = SweepRunner(cfg, OUT, "auto", listener=progress)
        console.print(
            f"cab demo: {len(runner.plans)} cells — reference × scripted, scripted-throttled "
            "× the starter tasks; the throttled model's cells are infra by design"
        )
        with progress:
            summary = runner.run()
    except RunnerError as exc:
        print(f"cab demo: {exc}", file=sys.stderr)
        return 2
    with ResultsStore.for_sweep(summary.sweep_dir) as store:
        render(store.leaderboard(), cfg.sweep_id, console)
        sandbox = store.meta("sandbox")
    if sandbox == "local":
        console.print("[yellow]ran in the local sandbox (no Docker engine): not isolated[/]")
    index = write_site(summary.sweep_dir)
    console.print(f"results: {summary.sweep_dir / 'results.db'}  (cab results {summary.sweep_dir})")
    if index is not None:
        print(f"report: {index.resolve()}")
    return 1 if summary.errors else 0


def write_site(sweep_dir: Path) -> Path | None:
    """The static site via the report's own function, when the report is installed."""
    try:
        from report.site import build_site
    except ImportError:
        print("report: not available in this build (cab report is missing)", file=sys.stderr)
        return None
    try:
        return build_site(sweep_dir, sweep_dir / "site")
    except Exception as exc:  # the run's results stand without their report
        print(f"report: could not be written: {type(exc).__name__}: {exc}", file=sys.stderr)
        return None
