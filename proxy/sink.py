"""Appends each finished call to DIR/calls.jsonl.

One unbuffered file handle kept open in append mode. A record is queued as its call ends
and the queue is written as one `write` at the end of the current event-loop turn,
so a busy proxy pays one syscall per batch instead of one per call, and a reader never
sees half a line (unless a write failed half-way, below). `close()` flushes what is left.

A write that fails (a full disk, a volume gone) loses nothing: the bytes not written
are kept, in order, and written at the next flush, or a second later if no call comes.
One log line says so when it starts and one when it is over. What is kept is bounded
(`BACKLOG_BYTES`); past that, lines are dropped and counted, never silently.

Lines are written by orjson from the record's fields, byte for byte what pydantic's
`model_dump_json()` writes for these field types (tests/proxy/test_cost.py checks it)
at a third of the cost; a field orjson cannot write falls back to pydantic.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from pathlib import Path
from typing import BinaryIO

import orjson
import structlog

from proxy.records import ModelCall

log = structlog.get_logger("proxy")


def json_line(call: ModelCall) -> bytes:
    try:
        return orjson.dumps(call.__dict__, option=orjson.OPT_UTC_Z | orjson.OPT_APPEND_NEWLINE)
    except TypeError:
        return call.model_dump_json().encode() + b"\n"


def _write_all(fh: BinaryIO, data: bytes) -> tuple[int, OSError | None]:
    """One write() (a regular file takes it all); a short write goes on from where it
    stopped. Returns how much was written and the error that stopped it, if any (a write
    that takes nothing is one, never a loop)."""
    view, done = memoryview(data), 0
    try:
        while done < len(data):
            n = fh.write(view[done:])
            if not n:
                raise OSError(f"write took {n!r} of {len(data) - done} bytes")
            done += n
    except OSError as exc:
        return done, exc
    return done, None


#: bytes kept for a later write while calls.jsonl cannot be written (then lines are dropped)
BACKLOG_BYTES = 64 * 1024 * 1024
RETRY_S = 1.0


class RecordSink:
    def __init__(self, record_dir: Path | None) -> None:
        self.path = Path(record_dir) / "calls.jsonl" if record_dir else None
        self._fh: BinaryIO | None = None
        self._pending: list[bytes] = []
        self._lock = threading.Lock()
        #: bytes a failed write left (the rest of a line first, then whole lines)
        self._backlog = b""
        #: lines dropped because the backlog was full
        self.dropped = 0
        self._retry: asyncio.TimerHandle | None = None
        if self.path:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._fh = self.path.open("ab", buffering=0)  # one write() per batch, no copy

    def write(self, call: ModelCall) -> None:
        if self._fh is None:
            return
        line = json_line(call)
        with self._lock:
            self._pending.append(line)
            first = len(self._pending) == 1
        if not first:
            return  # a flush is already scheduled
        try:
            asyncio.get_running_loop().call_soon(self.flush)
        except RuntimeError:  # no loop (called from plain code): write now
            self.flush()

    def flush(self) -> None:
        with self._lock:
            lines, self._pending = self._pending, []
            if self._fh is None or not (lines or self._backlog):
                return
            failing = bool(self._backlog)  # a failed write always leaves bytes behind
            if failing:
                lines = self._keep_within_bound(lines)
            data = b"".join([self._backlog, *lines]) if failing or len(lines) > 1 else lines[0]
            done, error = _write_all(self._fh, data)
            self._backlog = data[done:] if error is not None else b""
            self._note(error, failing)

    def _keep_within_bound(self, lines: list[bytes]) -> list[bytes]:
        room = BACKLOG_BYTES - len(self._backlog)
        kept: list[bytes] = []
        for line in lines:
            room -= len(line)
            if room < 0:
                self.dropped += 1
            else:
                kept.append(line)
        return kept

    def _note(self, error: OSError | None, was_failing: bool) -> None:
        """Log the start and the end of a failure, once each; retry while it lasts."""
        if error is not None:
            if not was_failing:
                log.warning("calls.jsonl not written; records kept to write later",
                            path=str(self.path), error=str(error)[:300])  # fmt: skip
            self._schedule_retry()
        elif was_failing:
            log.warning("calls.jsonl written again", path=str(self.path),
                        dropped_records=self.dropped)  # fmt: skip

    def _schedule_retry(self) -> None:
        if self._retry is not None:  # one is due already
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # no loop: the next write or flush retries
            return
        self._retry = loop.call_later(RETRY_S, self._retried)

    def _retried(self) -> None:
        self._retry = None
        self.flush()

    def close(self) -> None:
        self.flush()
        with self._lock:
            if self._retry is not None:
                self._retry.cancel()
            if self._backlog or self.dropped:
                log.error("calls.jsonl: records lost at close", path=str(self.path),
                          unwritten_bytes=len(self._backlog), dropped_records=self.dropped)  # fmt: skip
            if self._fh is not None:
                with contextlib.suppress(OSError):
                    self._fh.close()
                self._fh = None
