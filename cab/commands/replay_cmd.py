"""`cab replay CELL_DIR`: rerun a recorded cell with the proxy answering from its recording.

The same agent CLI, task and model run again in their sandbox, but every model call is
served from CELL_DIR's wire transcript (strict: same request, same stream flag; see
proxy/replay.py), so a replay costs nothing and needs no key or network. A request the
recording has no answer for is a `replay_miss` and the replayed cell ends
`infra:harness`, naming the call where the run diverged. Recorded waits are served at
once unless --real-time. The recording's time budget and memory limit are kept; its
plugins are not reapplied (the record has their names only: a warning says so). Uses:
rescoring and debugging at no cost, regression tests of the harness and adapters,
checking a CLI's determinism (docs/transcripts.md, "Replay").
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from pydantic import ValidationError

from cab.commands.tasks_cmd import add_sources_option, sources_of
from proxy.transcripts import TRANSCRIPT_FILE
from runner.errors import RunnerError
from runner.record import CellRecord


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("replay", help="Rerun a recorded cell, answered from its wire transcript")
    p.add_argument("cell", type=Path, metavar="CELL_DIR", help="the recorded cell's folder")
    p.add_argument("--out", type=Path, default=Path("runs"), help="root of the replay's record")
    p.add_argument("--sweep-id", default="replay", help="the replay's sweep id (default replay)")
    p.add_argument("--sandbox", choices=["auto", "docker", "local"], default="auto")
    p.add_argument("--real-time", action="store_true", help="wait each call's recorded latency")
    p.add_argument("--json", action="store_true", help="print the replay's record as JSON")
    add_sources_option(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from cab.commands.run_cell_cmd import print_cell
    from runner.cell import CellOptions, cell_dir_for, run_cell
    from runner.harness import Harness
    from runner.models import resolve_model
    from runner.pipeline.options import ReplayOptions
    from runner.tasks import get_task

    try:
        original = CellRecord.read(args.cell)
    except (OSError, ValueError, ValidationError) as exc:
        print(f"cab replay: {args.cell}: not a recorded cell ({exc})", file=sys.stderr)
        return 2
    if not (args.cell / TRANSCRIPT_FILE).is_file():
        print(
            f"cab replay: {args.cell / TRANSCRIPT_FILE}: no wire transcript to replay (the cell"
            " was recorded before transcripts existed, or with them off)",
            file=sys.stderr,
        )
        return 2
    endpoint = None if original.identity.endpoint == "embedded" else original.identity.endpoint
    try:
        model = resolve_model(original.model, endpoint, "CAB_REPLAY_NEEDS_NO_KEY")
        visible = args.visible_tests or original.task_id.startswith("aider-polyglot-visible/")
        task = get_task(original.task_id, sources_of(args), visible_tests=visible)
        agent = original.facts.agent
        opts = CellOptions(
            sweep_id=args.sweep_id,
            out_root=args.out,
            sandbox=args.sandbox,
            timeout_s=agent.budget_s,  # the recording's budget and memory, not the task's
            mem_limit=agent.mem_limit,
            replay=ReplayOptions(
                source=args.cell.resolve(), cell_id=original.cell_id, real_time=args.real_time
            ),
        )
        with Harness() as harness:
            record = run_cell(original.tui, model, task, opts, harness)
    except RunnerError as exc:
        print(f"cab replay: {exc}", file=sys.stderr)
        return 2
    for warning in drift(original, record):
        print(f"cab replay: warning: {warning}", file=sys.stderr)
    print_cell(record, cell_dir_for(opts, original.tui, model.name, task), as_json=args.json)
    return 0


def drift(original: CellRecord, replay: CellRecord) -> list[str]:
    """What differs between the recording's set-up and the replay's."""
    a, b = original.identity, replay.identity
    out = []
    if a.image_digest and b.image_digest and a.image_digest != b.image_digest:
        out.append(
            f"image digest differs from the recording ({a.image_digest} -> {b.image_digest})"
        )
    if a.tui_version != b.tui_version:
        out.append(f"{original.tui} version differs ({a.tui_version} -> {b.tui_version})")
    plugins = _plugin_stack(original)
    if plugins:
        out.append(
            f"the recording ran with plugins ({', '.join(plugins)}), which a replay does not"
            " apply (the record keeps their names, not their env and args): if they changed"
            " what the agent asks, the replay ends in a replay miss"
        )
    return out


def _plugin_stack(record: CellRecord) -> list[str]:
    for span in record.spans:
        if span.kind == "adapter_run":
            return [str(p) for p in span.attrs.get("plugin_stack") or ()]
    return []
