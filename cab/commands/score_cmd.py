"""`cab score CELL_DIR... [--weights FILE] [--json]`: rescore recorded cells.

Reads CELL_DIR/cell.json, scores its "facts" (the Evidence) again and writes the
Scorecard back under "scores", keeping every other key. Raw facts never change, so a cell
can be rescored with new weights without running anything. A full cell record (any
schema_version) is rewritten by `CellRecord.write`, upgraded to today's format; a file
holding only `facts` and other keys gets the same layout (indent 1, no trailing newline).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

from pydantic import ValidationError

from runner.record import CellRecord
from scorer import Scorecard, load_config, score_cell
from scorer.errors import ScoringConfigError
from scorer.evidence import Evidence


class CellFileError(Exception):
    """cell.json is missing or broken; the message names the file and the field."""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("score", help="Rescore cells from their recorded facts")
    p.add_argument("cells", nargs="+", type=Path, metavar="CELL_DIR", help="holds cell.json")
    p.add_argument("--weights", type=Path, help="a TOML shaped like config/scoring.toml")
    p.add_argument("--json", action="store_true", help="print the scores as JSON")
    p.set_defaults(func=run)


def load_cell(cell_dir: Path) -> tuple[Path, dict, Evidence]:
    path = cell_dir / "cell.json" if cell_dir.is_dir() else cell_dir
    if not path.is_file():
        raise CellFileError(f"{path}: no such file (expected a cell dir holding cell.json)")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise CellFileError(f"{path}: not valid JSON: {exc}") from exc
    if not isinstance(data, dict) or "facts" not in data:
        raise CellFileError(f"{path}: field 'facts': missing (the Evidence of the cell)")
    try:
        evidence = Evidence.model_validate(data["facts"])
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in ("facts", *err["loc"]))
        raise CellFileError(f"{path}: field '{where}': {err['msg']}") from exc
    return path, data, evidence


def write_scores(path: Path, data: dict, card: Scorecard) -> None:
    """Put `card` under "scores" and write the cell back as CellRecord.write does."""
    data = {**data, "scores": card.model_dump(mode="json")}
    try:
        record = CellRecord.model_validate(data)
    except (ValidationError, ValueError):
        record = None
    _replace(path, record.to_json() if record else json.dumps(data, indent=1, ensure_ascii=False))


def _replace(path: Path, text: str) -> None:
    """Write beside and rename, so a crash never leaves half a cell.json."""
    fd, tmp = tempfile.mkstemp(prefix=".cell.", suffix=".json", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def summary_rows(card: Scorecard) -> list[tuple[str, str, str]]:
    """(axis, value, detail) for the table; same order as the page."""
    p, t, lat, b, r, i = (
        card.pass_rate,
        card.tokens,
        card.latency,
        card.blast_radius,
        card.refusal,
        card.integrity,
    )
    why = "; ".join(p.fail_reasons) if p.fail_reasons else "tests passed"
    partial = "—" if p.partial_score is None else f"{p.partial_score:.3f}"
    return [
        ("pass_rate", f"{p.pass_}", f"partial {partial}; {why}"),
        (
            "tokens",
            f"{t.total_tokens}",
            f"{t.model_calls} calls ok, {t.throttled_attempts} throttled, "
            f"{t.failed_attempts} failed; per correct task {t.tokens_per_correct_task}"
            + (" (estimated)" if t.estimated else ""),
        ),
        (
            "latency",
            f"{lat.wall_clock_ms / 1000:.1f}s",
            f"model {lat.model_call_ms / 1000:.1f}s, throttled {lat.throttled_wait_ms / 1000:.1f}s",
        ),
        (
            "blast_radius",
            f"{b.blast_radius:.3f}",
            f"{b.total_changes} changes, {len(b.unexpected_changes)} unexpected",
        ),
        (
            "refusal",
            "n/a" if r.not_applicable else f"{r.refusal}",
            f"expected {r.expected_refusal}, produced {r.refusal_produced}",
        ),
        (
            "integrity",
            f"{i.integrity}" + (" (n/a)" if i.not_applicable else ""),
            "; ".join(i.violations) or "no violations",
        ),
        ("composite", f"{card.composite.composite:.3f}", "derivative of the axes above"),
        ("verdict", card.verdict.verdict, card.verdict.sentence),
    ]


def run(args: argparse.Namespace) -> int:
    try:
        config = load_config(args.weights) if args.weights else load_config()
    except ScoringConfigError as exc:
        print(f"cab score: {exc}", file=sys.stderr)
        return 2
    results, failed = [], 0
    for cell_dir in args.cells:
        try:
            path, data, evidence = load_cell(cell_dir)
        except CellFileError as exc:
            print(f"cab score: {exc}", file=sys.stderr)
            failed += 1
            continue
        card = score_cell(evidence, config=config)
        write_scores(path, data, card)
        results.append((path.parent, card))
    if args.json:
        out = [{"cell_dir": str(d), "scores": c.model_dump(mode="json")} for d, c in results]
        print(json.dumps(out, indent=2, ensure_ascii=False))
    else:
        _print_tables(results)
    return 1 if failed else 0


def _print_tables(results: list[tuple[Path, Scorecard]]) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    console.width = max(console.width, 110)
    for cell_dir, card in results:
        table = Table(title=str(cell_dir), title_justify="left")
        table.add_column("axis")
        table.add_column("value", justify="right")
        table.add_column("detail", overflow="fold")
        for row in summary_rows(card):
            table.add_row(*row)
        console.print(table)
