"""The results store: one SQLite file per sweep (`runs/<sweep_id>/results.db`, WAL mode).

Why SQLite: a sweep is killed, resumed and read while it runs; a row committed in WAL
mode survives kill -9, and "finished" means exactly "its row in `cells` is committed".
Artifacts (cell.json, logs, diffs) stay on disk beside the database; rows point at them.

Tables (full schema in docs/results.md):
- `cells`: one row per finished cell (its last attempt), the leaderboard's input.
- `attempts`: one row per attempt, infra retries included; `cells.attempts` counts them.
- `calls`, `spans`: one row per model call / trace span of every attempt, keyed by
  (cell_id, attempt) so they join to both tables.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from runner.record import CellRecord
from runner.store.facts import cell_facts
from scorer.ranking import CellResult, LeaderRow, leaderboard

SCHEMA_VERSION = 1
DB_NAME = "results.db"

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS cells (
    cell_id TEXT PRIMARY KEY,
    base_cell_id TEXT NOT NULL,
    sweep_id TEXT NOT NULL,
    tui TEXT NOT NULL,
    model TEXT NOT NULL,
    task_id TEXT NOT NULL,
    category TEXT NOT NULL,
    repeat INTEGER NOT NULL DEFAULT 1,
    attempts INTEGER NOT NULL DEFAULT 1,
    verdict TEXT,
    infra INTEGER NOT NULL DEFAULT 0,
    reason TEXT,
    pass REAL,
    composite REAL,
    sweep_composite REAL,
    sweep_cost_efficiency REAL,
    sweep_latency_efficiency REAL,
    prompt_tokens INTEGER,
    completion_tokens INTEGER,
    total_tokens INTEGER,
    model_calls INTEGER,
    wall_clock_ms REAL,
    exit_code INTEGER,
    sandbox TEXT,
    container_image TEXT,
    image_digest TEXT,
    model_build_id TEXT,
    started_at TEXT,
    ended_at TEXT,
    cell_dir TEXT NOT NULL,
    finished_at TEXT NOT NULL,
    record TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS attempts (
    cell_id TEXT NOT NULL,
    attempt INTEGER NOT NULL,
    verdict TEXT,
    infra INTEGER NOT NULL DEFAULT 0,
    reason TEXT,
    pass REAL,
    wall_clock_ms REAL,
    started_at TEXT,
    ended_at TEXT,
    cell_dir TEXT NOT NULL,
    record TEXT NOT NULL,
    PRIMARY KEY (cell_id, attempt)
);
CREATE TABLE IF NOT EXISTS calls (
    cell_id TEXT NOT NULL,
    attempt INTEGER NOT NULL,
    seq INTEGER NOT NULL,
    session TEXT,
    started_at TEXT,
    ended_at TEXT,
    request_hash TEXT,
    model TEXT,
    stream INTEGER,
    status_code INTEGER,
    outcome TEXT,
    prompt_tokens INTEGER,
    completion_tokens INTEGER,
    total_tokens INTEGER,
    tokens_source TEXT,
    latency_ms REAL,
    ttft_ms REAL,
    finish_reason TEXT,
    retry_after_s REAL,
    error TEXT,
    PRIMARY KEY (cell_id, attempt, seq)
);
CREATE TABLE IF NOT EXISTS spans (
    cell_id TEXT NOT NULL,
    attempt INTEGER NOT NULL,
    span_id TEXT NOT NULL,
    trace_id TEXT NOT NULL,
    parent_id TEXT,
    kind TEXT NOT NULL,
    name TEXT NOT NULL,
    start TEXT NOT NULL,
    "end" TEXT NOT NULL,
    duration_ms REAL,
    attrs TEXT,
    error TEXT,
    PRIMARY KEY (cell_id, attempt, span_id)
);
CREATE INDEX IF NOT EXISTS cells_group ON cells (tui, model);
CREATE INDEX IF NOT EXISTS cells_task ON cells (task_id);
"""

CELL_COLUMNS = [
    "cell_id",
    "base_cell_id",
    "sweep_id",
    "tui",
    "model",
    "task_id",
    "category",
    "repeat",
    "attempts",
    "verdict",
    "infra",
    "reason",
    "pass",
    "composite",
    "prompt_tokens",
    "completion_tokens",
    "total_tokens",
    "model_calls",
    "wall_clock_ms",
    "exit_code",
    "sandbox",
    "container_image",
    "image_digest",
    "model_build_id",
    "started_at",
    "ended_at",
    "cell_dir",
    "finished_at",
    "record",
]


#: computed columns of `cells()`, read from the stored scorecard.
_FROM_RECORD = [
    "COALESCE(json_extract(record, '$.scores.throttle.injected'), '{}') != '{}' AS injected",
    "json_extract(record, '$.scores.throttle.attempts') AS attempted_calls",
    "json_extract(record, '$.scores.throttle.throttled') AS throttled_calls",
    "COALESCE(json_extract(record, '$.scores.throttle.absorbed'), 0) AS absorbed_calls",
    "COALESCE(json_extract(record, '$.scores.latency.queued_ms'), 0) AS queued_ms",
]


def _now() -> str:
    return datetime.now(UTC).isoformat()


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


class ResultsStore:
    """One sweep's database. Use from one thread (the sweep's event loop thread)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(path, isolation_level=None)
        self.db.row_factory = sqlite3.Row
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.execute("PRAGMA busy_timeout=10000")
        self.db.executescript(SCHEMA)
        with self.tx():
            self.db.execute(
                "INSERT OR IGNORE INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),)
            )

    @classmethod
    def for_sweep(cls, sweep_dir: Path) -> ResultsStore:
        return cls(sweep_dir / DB_NAME)

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> ResultsStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def tx(self) -> Iterator[sqlite3.Connection]:
        """One transaction: all of it is committed, or none of it."""
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield self.db
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    # -- meta -------------------------------------------------------------------------

    def set_meta(self, key: str, value: Any) -> None:
        with self.tx():
            self.db.execute(
                "INSERT INTO meta VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value=excluded.value",
                (key, json.dumps(value)),
            )

    def meta(self, key: str, default: Any = None) -> Any:
        row = self.db.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return json.loads(row[0]) if row else default

    def sweep_id(self) -> str:
        """The sweep's id, from its stored config (the folder's name if none was stored)."""
        sweep = self.meta("sweep")
        if isinstance(sweep, dict) and isinstance(sweep.get("sweep_id"), str):
            return sweep["sweep_id"]
        return self.path.parent.name

    # -- writing ----------------------------------------------------------------------

    def record_attempt(
        self,
        record: CellRecord,
        *,
        attempt: int,
        cell_dir: str,
        final: bool,
        base_cell_id: str | None = None,
        repeat: int = 1,
    ) -> None:
        """Store one attempt (its row, calls and spans); with `final`, also the cell's row,
        which is what makes the cell count as finished. Idempotent: storing the same
        attempt again replaces it."""
        f = cell_facts(record)
        blob = record.model_dump_json()
        with self.tx() as db:
            db.execute(
                "INSERT OR REPLACE INTO attempts VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                (
                    record.cell_id,
                    attempt,
                    f["verdict"],
                    int(f["infra"]),
                    f["reason"],
                    f["pass"],
                    f["wall_clock_ms"],
                    _iso(record.timing.started_at),
                    _iso(record.timing.ended_at),
                    cell_dir,
                    blob,
                ),
            )
            self._replace_calls_spans(db, record, attempt)
            if final:
                row = {
                    **f,
                    "cell_id": record.cell_id,
                    "base_cell_id": base_cell_id or record.cell_id,
                    "sweep_id": record.sweep_id,
                    "tui": record.tui,
                    "model": record.model,
                    "task_id": record.task_id,
                    "category": record.category,
                    "repeat": repeat,
                    "attempts": attempt,
                    "infra": int(f["infra"]),
                    "exit_code": record.identity.exit_code,
                    "sandbox": record.identity.sandbox,
                    "container_image": record.identity.container_image,
                    "image_digest": record.identity.image_digest,
                    "model_build_id": record.identity.model_build_id,
                    "started_at": _iso(record.timing.started_at),
                    "ended_at": _iso(record.timing.ended_at),
                    "cell_dir": cell_dir,
                    "finished_at": _now(),
                    "record": blob,
                }
                cols = ", ".join(CELL_COLUMNS)
                marks = ", ".join("?" for _ in CELL_COLUMNS)
                updates = ", ".join(f"{c}=excluded.{c}" for c in CELL_COLUMNS if c != "cell_id")
                db.execute(
                    f"INSERT INTO cells ({cols}) VALUES ({marks}) "
                    f"ON CONFLICT(cell_id) DO UPDATE SET {updates}, sweep_composite=NULL, "
                    "sweep_cost_efficiency=NULL, sweep_latency_efficiency=NULL",
                    [row[c] for c in CELL_COLUMNS],
                )

    def _replace_calls_spans(self, db: sqlite3.Connection, rec: CellRecord, attempt: int) -> None:
        key = (rec.cell_id, attempt)
        db.execute("DELETE FROM calls WHERE cell_id=? AND attempt=?", key)
        db.execute("DELETE FROM spans WHERE cell_id=? AND attempt=?", key)
        db.executemany(
            "INSERT INTO calls VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            [
                (
                    *key,
                    c.seq,
                    c.session,
                    _iso(c.started_at),
                    _iso(c.ended_at),
                    c.request_hash,
                    c.model,
                    int(c.stream),
                    c.status_code,
                    c.outcome,
                    c.prompt_tokens,
                    c.completion_tokens,
                    c.total_tokens,
                    c.tokens_source,
                    c.latency_ms,
                    c.ttft_ms,
                    c.finish_reason,
                    c.retry_after_s,
                    c.error,
                )
                for c in rec.calls
            ],
        )
        db.executemany(
            "INSERT OR REPLACE INTO spans VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
            [
                (
                    *key,
                    s.span_id,
                    s.trace_id,
                    s.parent_id,
                    s.kind,
                    s.name,
                    _iso(s.start),
                    _iso(s.end),
                    s.duration_ms,
                    json.dumps(s.attrs, default=str),
                    s.error,
                )
                for s in rec.spans
            ],
        )

    def move_attempt(self, cell_id: str, attempt: int, cell_dir: str) -> None:
        """An earlier attempt's folder moved (to <cell_dir>/attempts/<n>/)."""
        with self.tx() as db:
            db.execute(
                "UPDATE attempts SET cell_dir=? WHERE cell_id=? AND attempt=?",
                (cell_dir, cell_id, attempt),
            )

    def reopen(self, cell_id: str) -> None:
        """Make a finished cell unfinished again (its attempts are kept): resume runs it
        again as its next attempt."""
        with self.tx() as db:
            db.execute("DELETE FROM cells WHERE cell_id=?", (cell_id,))

    def forget_unfinished(self) -> int:
        """Drop attempts (with their calls and spans) of cells that never finished: resume
        runs those cells again from their first attempt. Returns how many were dropped."""
        unfinished = "cell_id NOT IN (SELECT cell_id FROM cells)"
        with self.tx() as db:
            n = db.execute(f"DELETE FROM attempts WHERE {unfinished}").rowcount
            db.execute(f"DELETE FROM calls WHERE {unfinished}")
            db.execute(f"DELETE FROM spans WHERE {unfinished}")
        return n

    def set_sweep_scores(self, rows: Iterable[tuple[str, float | None, float, float]]) -> None:
        """(cell_id, sweep_composite, sweep_cost_efficiency, sweep_latency_efficiency)."""
        with self.tx() as db:
            db.executemany(
                "UPDATE cells SET sweep_composite=?, sweep_cost_efficiency=?, "
                "sweep_latency_efficiency=? WHERE cell_id=?",
                [(c, ce, le, cid) for cid, c, ce, le in rows],
            )

    # -- reading ----------------------------------------------------------------------

    def finished_ids(self) -> set[str]:
        return {r[0] for r in self.db.execute("SELECT cell_id FROM cells")}

    def cells(self) -> list[dict[str, Any]]:
        """Every finished cell's row, without the record blob (a few of its numbers are
        read out of it: what the proxy's governor and fault injection did)."""
        cols = [c for c in CELL_COLUMNS if c != "record"] + [
            "sweep_composite",
            "sweep_cost_efficiency",
            "sweep_latency_efficiency",
            *_FROM_RECORD,
        ]
        rows = self.db.execute(f"SELECT {', '.join(cols)} FROM cells ORDER BY cell_id")
        return [dict(r) for r in rows]

    def finished(self) -> list[tuple[str, CellRecord, float | None]]:
        """(cell_dir, record, sweep_composite) of every finished cell, by cell_id."""
        rows = self.db.execute(
            "SELECT cell_dir, record, sweep_composite FROM cells ORDER BY cell_id"
        )
        return [(d, CellRecord.model_validate_json(rec), sc) for d, rec, sc in rows]

    def results(self) -> list[CellResult]:
        """The leaderboard's input: every finished cell with its sweep composite."""
        return [record.result(sc) for _, record, sc in self.finished()]

    def leaderboard(self) -> list[LeaderRow]:
        """The sweep's leaderboard, ranked by the scorer (the site shows the same rows); a
        robustness sweep (its file says so) ranks cells that met injected faults too."""
        robust = bool((self.meta("sweep") or {}).get("robustness"))
        return leaderboard(self.results(), robustness=robust)

    def record(self, cell_id: str, attempt: int | None = None) -> CellRecord:
        if attempt is None:
            row = self.db.execute("SELECT record FROM cells WHERE cell_id=?", (cell_id,))
        else:
            row = self.db.execute(
                "SELECT record FROM attempts WHERE cell_id=? AND attempt=?", (cell_id, attempt)
            )
        found = row.fetchone()
        if found is None:
            raise KeyError(f"no stored record for {cell_id!r} (attempt {attempt})")
        return CellRecord.model_validate_json(found[0])

    def query(self, sql: str, params: tuple = ()) -> list[dict[str, Any]]:
        return [dict(r) for r in self.db.execute(sql, params)]
