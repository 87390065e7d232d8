"""`cab demo`: the README's first command. No key, no network.

Runs config/sweeps/demo.toml — the reference agent × {scripted, scripted-throttled} × the
starter tasks — in Docker when an engine answers, else in the local sandbox (not
isolated, said loudly). In the local sandbox it first says which tasks can run on this
host (their toolchain is here) and runs only those, unless --all. Prints one line per
cell, the leaderboard and the path of the report site; details and tracebacks go to a
log file whose path is printed once. `cab doctor demo` says what the Docker demo needs.
Rerunning resumes: finished cells are kept (delete runs/demo to start over).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from rich.console import Console
from rich.markup import escape

from runner.errors import RunnerError, SandboxError
from runner.sweep_config import SweepConfig

DOCKER_HINT = (
    "For the full demo in Docker (every task, isolated): `cab doctor demo` lists what is "
    "missing and how to get it, then `cab demo --sandbox docker`."
)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "demo",
        help="Run the demo sweep (no key, no network) and write its report",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--sandbox",
        choices=["auto", "docker", "local"],
        default="auto",
        help="docker, local, or auto: docker when an engine answers (default)",
    )
    p.add_argument(
        "--all",
        action="store_true",
        help="in the local sandbox, also run the tasks whose toolchain this host lacks",
    )
    p.add_argument("--out", type=Path, default=Path("runs"), help="root of the run records")
    p.add_argument("--sweep-id", default="demo", help="another id keeps two demos apart")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from cab.demo_console import DemoProgress, print_local_plan, use_log_file
    from runner.sweep import SweepRunner
    from runner.sweep_config import SWEEPS_DIR, load_sweep

    progress = DemoProgress()
    console = progress.console
    try:
        cfg = load_sweep(SWEEPS_DIR / "demo.toml").model_copy(update={"sweep_id": args.sweep_id})
        log_path = use_log_file(args, args.out / cfg.sweep_id / "cab.log")
        progress.log_path = log_path
        kind = pick_sandbox(args.sandbox, console)
        if kind == "local":
            cfg = print_local_plan(cfg, args.all, console)
            if not cfg.tasks:
                console.print(DOCKER_HINT)
                return 1
        runner = SweepRunner(cfg, args.out, kind, listener=progress)
        console.print(
            f"cab demo: {len(runner.plans)} cells — reference × scripted, scripted-throttled "
            "× the starter tasks; the throttled model's cells are infra by design"
        )
        console.print(f"log: {log_path}  (every detail, tracebacks included)")
        with progress:
            summary = runner.run()
    except RunnerError as exc:
        print(f"cab demo: {exc}\n(`cab doctor demo` checks what the demo needs)", file=sys.stderr)
        return 2
    finish(summary.sweep_dir, cfg, console)
    if kind == "local":
        console.print(DOCKER_HINT)
    return 1 if summary.errors else 0


def pick_sandbox(asked: str, console: Console) -> str:
    """docker or local: `auto` asks the engine, and says so when it does not answer;
    `docker` with no engine is refused in one sentence (RunnerError)."""
    if asked == "local":
        return asked
    from runner.doctor.engine import short_error
    from runner.sandbox.select import docker_answers

    problem = docker_answers()
    if problem is None:
        return "docker"
    if asked == "docker":
        raise SandboxError(f"--sandbox docker: no Docker engine answered ({short_error(problem)})")
    console.print(
        f"[yellow]no Docker engine answered ({escape(short_error(problem))}): running in the "
        "local sandbox, not isolated (the agent runs as you, on this host)[/]",
        soft_wrap=True,
    )
    return "local"


def finish(sweep_dir: Path, cfg: SweepConfig, console: Console) -> None:
    """The leaderboard, where the results are, and the report site."""
    from runner.store import ResultsStore
    from runner.store.export import render

    with ResultsStore.for_sweep(sweep_dir) as store:
        render(store.leaderboard(), cfg.sweep_id, console)
        sandbox = store.meta("sandbox")
    if sandbox == "local":
        console.print("[yellow]ran in the local sandbox: not isolated[/]")
    index = write_site(sweep_dir)
    console.print(f"results: {sweep_dir / 'results.db'}  (cab results {sweep_dir})")
    if index is not None:
        print(f"report: {index.resolve()}")


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
