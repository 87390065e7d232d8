"""`cab diagnose CELL_DIR | calls.jsonl [--json]`: why was this cell throttled, what to do.

A cell dir gives its calls and its full verdict (from cell.json's facts); a calls.jsonl
(one ModelCall per line, as the proxy writes) gives the calls alone, and the verdict is
judged from them only.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from pydantic import ValidationError

from cab.commands.score_cmd import CellFileError, load_cell
from proxy.records import ModelCall
from proxy.transcripts import last_words, read_transcript
from scorer import score_cell
from scorer.diagnosis import Context, Diagnosis, diagnose
from scorer.evidence import Evidence, TaskFacts
from scorer.verdict import judge


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("diagnose", help="Diagnose throttling of a cell (or a calls.jsonl)")
    p.add_argument("target", type=Path, metavar="CELL_DIR|calls.jsonl")
    p.add_argument("--json", action="store_true", help="print the diagnosis as JSON")
    p.set_defaults(func=run)


def load_calls(path: Path) -> list[ModelCall]:
    calls = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            calls.append(ModelCall.model_validate_json(line))
        except ValidationError as exc:
            err = exc.errors()[0]
            field = ".".join(str(p) for p in err["loc"]) or "<line>"
            raise CellFileError(f"{path}: line {n}: field '{field}': {err['msg']}") from exc
    return calls


def build(target: Path) -> Diagnosis:
    if (target.is_dir() and (target / "cell.json").is_file()) or target.name == "cell.json":
        path, data, evidence = load_cell(target)
        card = score_cell(evidence)
        return diagnose(evidence.calls, card.verdict, _context(path, data, evidence))
    if target.is_dir():
        target = target / "calls.jsonl"
    if not target.is_file():
        raise CellFileError(f"{target}: no such file (give a cell dir or a calls.jsonl)")
    calls = load_calls(target)
    facts = Evidence(task=TaskFacts(task_id="unknown", category="unknown"), calls=calls)
    return diagnose(calls, judge(facts))


def _context(path: Path, data: dict, evidence: Evidence) -> Context:
    """The agent's facts, its CLI's retry knob, and the sweep's concurrency when the cell
    lives in a sweep folder (<sweep>/<tui>/<model>/<category>/<task>/cell.json)."""
    from runner.adapters import ADAPTERS, get_adapter

    tui = data.get("tui")
    hint = get_adapter(tui).retry_hint if isinstance(tui, str) and tui in ADAPTERS else None
    concurrency = None
    for parent in path.parents:
        meta_db = parent / "results.db"
        if meta_db.is_file():
            from runner.store import ResultsStore

            with ResultsStore(meta_db) as store:
                concurrency = (store.meta("sweep") or {}).get("concurrency")
            break
    return Context(agent=evidence.agent, tui=tui, retry_hint=hint, sweep_concurrency=concurrency)


def run(args: argparse.Namespace) -> int:
    try:
        diag = build(args.target)
    except CellFileError as exc:
        print(f"cab diagnose: {exc}", file=sys.stderr)
        return 2
    said, saw = _last_words(args.target, diag)
    if args.json:
        out = diag.model_dump(mode="json")
        out["last_words"] = {"assistant": said, "tool_result": saw}
        print(json.dumps(out, indent=2, ensure_ascii=False))
    else:
        _print(diag)
        if said or saw:
            print(f"last assistant message: {said or '—'}")
            print(f"last tool result before the end: {saw or '—'}")
    return 0


def _last_words(target: Path, diag: Diagnosis) -> tuple[str | None, str | None]:
    """For a failed cell: what the model last said and the last tool result it saw."""
    cell = target if target.is_dir() else target.parent
    passed = diag.verdict is not None and diag.verdict.verdict == "capability" and _passed(cell)
    if passed:
        return None, None
    return last_words(read_transcript(cell), limit=600)


def _passed(cell: Path) -> bool:
    try:
        _, _, evidence = load_cell(cell)
    except CellFileError:
        return False
    card = score_cell(evidence)
    return card.pass_rate.pass_ == 1


def _fmt(x: float | None, unit: str = "") -> str:
    return "—" if x is None else f"{x:g}{unit}"


def _print(d: Diagnosis) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    console.width = max(console.width, 110)
    table = Table(title="Model calls", title_justify="left")
    for col in ("#", "t", "status", "outcome", "retry-after", "waited", "honoured", "rem req/tok"):
        table.add_column(col)
    for r in d.timeline:
        table.add_row(
            str(r.seq),
            f"{r.t_ms / 1000:.2f}s",
            _fmt(r.status_code),
            r.outcome,
            _fmt(r.retry_after_s, "s"),
            "—" if r.waited_ms is None else f"{r.waited_ms / 1000:.2f}s",
            {True: "yes", False: "NO", None: "—"}[r.honoured],
            f"{r.remaining_requests or '—'}/{r.remaining_tokens or '—'}",
        )
    console.print(table)
    console.print(
        f"attempts {d.attempts}, completed {d.completed}, throttled {d.throttled} "
        f"({d.time_lost_ms / 1000:.1f}s lost), peak concurrency {d.peak_concurrency}"
        + (", timed out" if d.timed_out else "")
    )
    console.print(
        f"Retry-After: {d.retry_after.summary} ({d.retry_after.honoured}/{d.retry_after.asked})"
    )
    if d.gave_up:
        g = d.gave_up
        console.print(
            f"gave up at call {g.seq} ({g.t_ms / 1000:.1f}s in) after {g.failing_attempts} "
            f"failed attempt(s), last status {g.last_status}"
        )
    if d.story:
        console.print(d.story)
    if d.verdict:
        console.print(f"verdict: [bold]{d.verdict.verdict}[/bold] — {d.verdict.sentence}")
    for line in d.advice:
        console.print(f"• {line}")
