"""Reading a sweep directory: its cells and, when present, the sweep's normalised composites.

Both are data models of the stages below: `CellRecord` (cell.json) and the scorer's
`SweepScores` (`sweep_scores.json`, written by the sweep when it normalises). The report
imports nothing else of them (import-linter checks it).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError

from runner.record import CellRecord
from scorer.normalisation import SWEEP_SCORES_FILE, SweepScores


class SweepReadError(Exception):
    """A sweep directory or one of its cell.json files cannot be read."""


@dataclass(frozen=True)
class LoadedCell:
    record: CellRecord
    rel: str  # the cell dir relative to the sweep dir, posix: tui/model/category/task[/rN]


def load_cells(sweep_dir: Path) -> list[LoadedCell]:
    """Every cell.json under sweep_dir, skipping retried attempts kept under `attempts/` and
    hidden folders (the sweep's `.attempts-in-flight` stash)."""
    if not sweep_dir.is_dir():
        raise SweepReadError(f"{sweep_dir}: not a directory (expected runs/<sweep_id>/)")
    cells = []
    for path in sorted(sweep_dir.rglob("cell.json")):
        rel = path.parent.relative_to(sweep_dir)
        if any(part == "attempts" or part.startswith(".") for part in rel.parts):
            continue
        try:
            record = CellRecord.read(path)
        except ValidationError as exc:
            raise SweepReadError(f"{path}: not a valid cell record: {_fields(exc)}") from exc
        except (OSError, ValueError) as exc:
            raise SweepReadError(f"{path}: not a valid cell record: {exc}") from exc
        cells.append(LoadedCell(record=record, rel=rel.as_posix()))
    if not cells:
        raise SweepReadError(f"{sweep_dir}: no cell.json found (is this a sweep directory?)")
    return cells


def _fields(exc: ValidationError, limit: int = 6) -> str:
    """'field.path: message' for the first few errors, so the reader sees what to fix."""
    errs = exc.errors()
    parts = [f"{'.'.join(str(x) for x in e['loc'])}: {e['msg']}" for e in errs[:limit]]
    more = f" (+{len(errs) - limit} more)" if len(errs) > limit else ""
    return "; ".join(parts) + more


def sweep_composites(sweep_dir: Path, cells: list[LoadedCell]) -> dict[str, float]:
    """Cell dir (relative, as LoadedCell.rel) -> sweep-normalised composite, from the
    sweep's `sweep_scores.json`; {} without one (a folder of lone cells). An entry scored
    from an earlier run of a cell (its started_at differs) is stale and left out, as the
    store clears it when a cell is written again."""
    path = sweep_dir / SWEEP_SCORES_FILE
    if not path.is_file():
        return {}
    try:
        scores = SweepScores.model_validate_json(path.read_text(encoding="utf-8"))
    except ValidationError as exc:
        raise SweepReadError(f"{path}: not valid sweep scores: {_fields(exc)}") from exc
    by_dir = scores.by_dir()
    out = {}
    for c in cells:
        s = by_dir.get(c.rel)
        if s is not None and s.started_at == c.record.timing.started_at:
            out[c.rel] = s.sweep_composite
    return out
