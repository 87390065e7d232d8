"""Appends each finished call to DIR/calls.jsonl.

One unbuffered file handle kept open in append mode. A record is queued as its call ends
and the queue is written as one `write` at the end of the current event-loop turn,
so a busy proxy pays one syscall per batch instead of one per call, and a reader never
sees half a line. `close()` flushes what is left.

Lines are written by orjson from the record's fields, byte for byte what pydantic's
`model_dump_json()` writes for these field types (tests/proxy/test_cost.py checks it)
at a third of the cost; a field orjson cannot write falls back to pydantic.
"""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from typing import BinaryIO

import orjson

from proxy.records import ModelCall


def json_line(call: ModelCall) -> bytes:
    try:
        return orjson.dumps(call.__dict__, option=orjson.OPT_UTC_Z | orjson.OPT_APPEND_NEWLINE)
    except TypeError:
        return call.model_dump_json().encode() + b"\n"


def _write_all(fh: BinaryIO, data: bytes) -> None:
    """One write() (a regular file takes it all); a short write goes on from where it
    stopped, and a write that takes nothing is an error, never a loop."""
    view = memoryview(data)
    while view:
        n = fh.write(view)
        if not n:
            raise OSError(f"calls.jsonl: write took {n!r} of {len(view)} bytes")
        view = view[n:]


class RecordSink:
    def __init__(self, record_dir: Path | None) -> None:
        self.path = Path(record_dir) / "calls.jsonl" if record_dir else None
        self._fh: BinaryIO | None = None
        self._pending: list[bytes] = []
        self._lock = threading.Lock()
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
            if lines and self._fh is not None:
                _write_all(self._fh, lines[0] if len(lines) == 1 else b"".join(lines))

    def close(self) -> None:
        self.flush()
        with self._lock:
            if self._fh is not None:
                self._fh.close()
                self._fh = None
