"""Reading a sweep directory: its cells and, when present, the store's normalised composites.

Kept to these two functions so the report can move to the results store (runner/store.py)
later without touching the pages. The store is read as data with sqlite3: report/ may not
import runner code other than its data models.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError

from runner.record import CellRecord


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


def store_composites(sweep_dir: Path) -> dict[str, float]:
    """Cell dir (relative, as LoadedCell.rel) -> sweep-normalised composite from results.db,
    or {} without a usable store.

    The store's schema is the sweep engineer's (runner/store/db.py: table `cells`, columns
    `cell_dir` and `sweep_composite`); we read those two columns and nothing else.
    """
    db = sweep_dir / "results.db"
    if not db.is_file():
        return {}
    try:
        con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    except sqlite3.Error:
        return {}
    try:
        tables = [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        for table in tables:
            cols = [r[1] for r in con.execute(f'PRAGMA table_info("{table}")')]
            if "cell_dir" in cols and "sweep_composite" in cols:
                rows = con.execute(f'SELECT cell_dir, sweep_composite FROM "{table}"').fetchall()
                return {Path(d).as_posix(): float(v) for d, v in rows if v is not None}
    except sqlite3.Error:
        return {}
    finally:
        con.close()
    return {}
