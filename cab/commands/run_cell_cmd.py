"""`cab run-cell`: run one (agent CLI × model × task) cell and write its record."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from cab.commands.tasks_cmd import add_sources_option, sources_of
from runner.errors import RunnerError
from runner.record import CellRecord


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "run-cell",
        help="Run one cell: an agent CLI on a task with a model, in a sandbox, through the proxy",
    )
    p.add_argument("--tui", default="reference", help="agent CLI (adapter) name")
    p.add_argument("--model", default="scripted", help="model name (config/models.toml)")
    p.add_argument("--task", required=True, help="task id, e.g. polyglot/go-http-handler-fix")
    p.add_argument("--endpoint", help="your own OpenAI-compatible base URL (…/v1)")
    p.add_argument("--key-env", help="env var that holds the endpoint's key")
    p.add_argument("--sandbox", choices=["auto", "docker", "local"], default="auto")
    p.add_argument(
        "--network",
        choices=["isolated", "host"],
        default="isolated",
        help="isolated (default): the agent's container has only loopback and reaches the "
        "proxy there, nothing else; host: an explicit opt-in to the host's network",
    )
    p.add_argument(
        "--probe-port",
        type=int,
        action="append",
        default=[],
        metavar="PORT",
        help="a host 127.0.0.1 port the in-container check must find unreachable (repeatable)",
    )
    p.add_argument("--sweep-id", default="adhoc")
    p.add_argument("--out", type=Path, default=Path("runs"), help="root of the run records")
    p.add_argument("--timeout", type=float, help="agent timeout in seconds (task default)")
    p.add_argument(
        "--scripts", type=Path, help="folder of scripted-model scripts (default config/scripts)"
    )
    p.add_argument("--json", action="store_true", help="print the cell record as JSON")
    add_sources_option(p)
    p.set_defaults(func=run)


NOT_ISOLATED = """\
************************************************************************************
* cab run-cell --sandbox local: NOT ISOLATED. The agent runs as a process on this   *
* host, as this user: it can read and change your files, reach your network and     *
* bypass the proxy. Use it only with agents you trust; Docker isolates them.        *
************************************************************************************"""


def run(args: argparse.Namespace) -> int:
    from runner.cell import CellOptions, cell_dir_for, run_cell
    from runner.harness import SCRIPTS_DIR, Harness
    from runner.models import resolve_model
    from runner.tasks import get_task

    if args.endpoint and not args.key_env:
        print("--endpoint needs --key-env NAME (the env var holding its key)", file=sys.stderr)
        return 2
    try:
        model = resolve_model(args.model, args.endpoint, args.key_env)
        task = get_task(args.task, sources_of(args), visible_tests=args.visible_tests)
        opts = CellOptions(
            sweep_id=args.sweep_id,
            out_root=args.out,
            sandbox=args.sandbox,
            network_mode=args.network,
            probe_ports=args.probe_port,
            timeout_s=args.timeout,
        )
        if args.sandbox == "local":
            print(NOT_ISOLATED, file=sys.stderr)
        with Harness(scripts_dir=args.scripts or SCRIPTS_DIR) as harness:
            record = run_cell(args.tui, model, task, opts, harness)
    except RunnerError as exc:
        print(f"cab run-cell: {exc}", file=sys.stderr)
        return 2
    print_cell(record, cell_dir_for(opts, args.tui, model.name, task), as_json=args.json)
    return 0


def print_cell(record: CellRecord, cell_dir: Path, as_json: bool = False) -> None:
    """The few lines a person reads after a cell ran (or its whole record as JSON)."""
    if as_json:
        print(record.to_json())
        return
    card = record.scores
    print(f"cell      {record.cell_id}")
    if card is None:
        print("verdict   None  not scored")
    else:
        print(f"verdict   {card.verdict.verdict}  {card.verdict.sentence}")
    print(
        f"pass      {card.pass_rate.pass_ if card else None}  "
        f"(agent exit {record.identity.exit_code})"
    )
    calls = record.calls
    ok = sum(1 for c in calls if c.outcome == "ok")
    print(f"calls     {len(calls)} recorded, {ok} ok, {len(calls) - ok} not")
    print(f"composite {card.composite.composite if card else None}")
    print(f"record    {cell_dir / 'cell.json'}")
    print(f"wall      {record.facts.timing.wall_clock_ms / 1000:.2f} s")
