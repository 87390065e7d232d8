"""Appends each finished call to DIR/calls.jsonl.

One file handle kept open in append mode. A record is queued as its call ends and the
queue is written and flushed as one `write` at the end of the current event-loop turn,
so a busy proxy pays one syscall per batch instead of one per call, and a reader never
sees half a line. `close()` flushes what is left.
"""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

from proxy.records import ModelCall


class RecordSink:
    def __init__(self, record_dir: Path | None) -> None:
        self.path = Path(record_dir) / "calls.jsonl" if record_dir else None
        self._fh = None
        self._pending: list[str] = []
        self._lock = threading.Lock()
        if self.path:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._fh = self.path.open("a", encoding="utf-8")

    def write(self, call: ModelCall) -> None:
        if self._fh is None:
            return
        line = call.model_dump_json() + "\n"
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
                self._fh.write("".join(lines))
                self._fh.flush()

    def close(self) -> None:
        self.flush()
        with self._lock:
            if self._fh is not None:
                self._fh.close()
                self._fh = None
