"""Bytes a wire transcript takes per cell, with and without deduplication.

    python benchmarks/transcript_bytes.py CELL_DIR [CELL_DIR ...]

For each cell folder holding transcript.jsonl.gz it prints the calls kept and four sizes:

- `plain`: every call's line with its whole message list inline, one copy per call (what
  the same format would keep without deduplication), uncompressed;
- `plain.gz`: the same through one gzip stream flushed per call, as capture writes
  (capture without deduplication);
- `dedup`: our format, each message stored once, uncompressed;
- `stored`: the file on disk (deduplicated, one gzip stream flushed per call).
"""

from __future__ import annotations

import sys
import zlib
from pathlib import Path

from orjson import OPT_SORT_KEYS, dumps

from proxy.transcripts import TRANSCRIPT_FILE, inflate, read_transcript


def sizes(cell: Path) -> tuple[int, int, int, int, int]:
    calls = read_transcript(cell)
    plain = plain_gz = 0
    z = zlib.compressobj(6, zlib.DEFLATED, 31)
    for call in calls:
        line = dumps({"t": "c", **call.model_dump(mode="json")}, option=OPT_SORT_KEYS) + b"\n"
        plain += len(line)
        plain_gz += len(z.compress(line) + z.flush(zlib.Z_SYNC_FLUSH))
    plain_gz += len(z.flush())
    path = cell / TRANSCRIPT_FILE
    dedup = len(inflate(path.read_bytes()))
    return len(calls), plain, plain_gz, dedup, path.stat().st_size


def main(cells: list[str]) -> None:
    print(f"{'cell':56} {'calls':>5} {'plain':>9} {'plain.gz':>9} {'dedup':>9} {'stored':>9}")
    for name in cells:
        n, plain, plain_gz, dedup, stored = sizes(Path(name))
        label = "/".join(Path(name).parts[-4:])  # <tui>/<model>/<category>/<task>
        print(f"{label[-56:]:56} {n:5} {plain:9,} {plain_gz:9,} {dedup:9,} {stored:9,}")


if __name__ == "__main__":
    main(sys.argv[1:])
