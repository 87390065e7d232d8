"""Reading a sweep directory: its cells and, when present, the store's normalised composites.

Kept to these two functions so the report can move to the results store (runner/store.py)
later without touching the pages. The store is read as data with sqlite3: report/ may not
import runner code other than its data models.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path

from runner.record import CellRecord


class SweepReadError(Exception):
    """A sweep directory or one of its cell.json files cannot be read."""


@dataclass(frozen=True)
class LoadedCell:
    record: CellRecord
    rel: str  # the cell dir relative to the sweep dir, posix: tui/model/category/task[/rN]


def load_cells(sweep_dir: Path) -> list[LoadedCell]:
    """Every cell.json under sweep_dir, skipping retried attempts kept under `attempts/`."""
    if not sweep_dir.is_dir():
        raise SweepReadError(f"{sweep_dir}: not a directory (expected runs/<sweep_id>/)")
    cells = []
    for path in sorted(sweep_dir.rglob("cell.json")):
        rel = path.parent.relative_to(sweep_dir)
        if "attempts" in rel.parts:
            continue
        try:
            record = CellRecord.read(path)
        except Exception as exc:
            raise SweepReadError(f"{path}: not a valid cell record: {exc}") from exc
        cells.append(LoadedCell(record=record, rel=rel.as_posix()))
    if not cells:
        raise SweepReadError(f"{sweep_dir}: no cell.json found (is this a sweep directory?)")
    return cells


def store_composites(sweep_dir: Path) -> dict[str, float]:
    """cell_id -> sweep-normalised composite from results.db, or {} without a usable store.

    The store's schema is the sweep engineer's; we look for any table with `cell_id` and a
    normalised composite column and read nothing else.
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
            for col in ("composite_normalised", "normalised_composite", "sweep_composite"):
                if "cell_id" in cols and col in cols:
                    rows = con.execute(f'SELECT cell_id, "{col}" FROM "{table}"').fetchall()
                    return {cid: float(v) for cid, v in rows if v is not None}
    except sqlite3.Error:
        return {}
    finally:
        con.close()
    return {}
