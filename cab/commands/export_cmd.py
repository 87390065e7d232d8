"""`cab export atif PATH [--out FILE]`: a cell's trajectory in ATIF v1.7, from the wire.

PATH is a cell folder (holding cell.json and the proxy's transcript.jsonl.gz): one JSON
document, to stdout or FILE. PATH is a sweep folder: every cell under it, one document
per line (JSON Lines), in cell_id order. See runner/atif.py for how steps are built.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from proxy.transcripts import read_transcript
from runner.atif import trajectory
from runner.record import CellRecord


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("export", help="Export cells in other formats (ATIF trajectories)")
    p.add_argument("format", choices=["atif"], help="atif: Agent Trajectory Interchange Format")
    p.add_argument("path", type=Path, metavar="CELL_DIR|SWEEP_DIR")
    p.add_argument("--out", type=Path, help="write here instead of stdout")
    p.set_defaults(func=run)


def cell_trajectory(cell_dir: Path) -> dict[str, Any]:
    record = CellRecord.read(cell_dir)
    return trajectory(
        read_transcript(cell_dir),
        record.calls,
        agent_name=record.tui,
        agent_version=record.identity.tui_version or "unknown",
        session_id=record.cell_id,
        model_name=record.model,
        extra={
            "cell_id": record.cell_id,
            "task_id": record.task_id,
            "verdict": record.verdict,
            "container_image": record.identity.container_image,
            "source": "cab proxy wire transcript",
        },
    )


def run(args: argparse.Namespace) -> int:
    path: Path = args.path
    try:
        if (path / "cell.json").is_file():
            text = json.dumps(cell_trajectory(path), indent=1) + "\n"
        elif path.is_dir():
            cells = sorted(
                p.parent
                for p in path.rglob("cell.json")
                if not any(
                    part == "attempts" or part.startswith(".") for part in p.relative_to(path).parts
                )
            )
            if not cells:
                print(f"cab export: no cell.json under {path}", file=sys.stderr)
                return 2
            text = "".join(json.dumps(cell_trajectory(c)) + "\n" for c in cells)
        else:
            print(f"cab export: {path} is not a cell or sweep folder", file=sys.stderr)
            return 2
    except (OSError, ValueError, ValidationError) as exc:
        print(f"cab export: {path}: {exc}", file=sys.stderr)
        return 2
    if args.out:
        args.out.write_text(text)
        print(f"wrote {args.out}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0
