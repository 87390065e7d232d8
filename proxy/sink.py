"""Appends each finished call to DIR/calls.jsonl.

One file handle kept open in append mode; each record is one `write` of one line
followed by a flush, so a reader (or a crash) never sees half a record and the event
loop spends microseconds, not a file open, per call.
"""

from __future__ import annotations

import threading
from pathlib import Path

from proxy.records import ModelCall


class RecordSink:
    def __init__(self, record_dir: Path | None) -> None:
        self.path = Path(record_dir) / "calls.jsonl" if record_dir else None
        self._fh = None
        self._lock = threading.Lock()
        if self.path:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._fh = self.path.open("a", encoding="utf-8")

    def write(self, call: ModelCall) -> None:
        if self._fh is None:
            return
        line = call.model_dump_json() + "\n"
        with self._lock:
            self._fh.write(line)
            self._fh.flush()

    def close(self) -> None:
        with self._lock:
            if self._fh is not None:
                self._fh.close()
                self._fh = None
