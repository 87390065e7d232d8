"""Bytes a wire transcript takes per cell: as plain JSON, deduplicated, and as stored.

    python benchmarks/transcript_bytes.py CELL_DIR [CELL_DIR ...]

For each cell folder holding transcript.jsonl.gz it prints the calls kept and three sizes:
`plain` is every call's request body (whole history) and reply as JSON, one copy per call
(what a naive log would keep); `dedup` stores each message once (our format, uncompressed);
`stored` is the file on disk (deduplicated and gzip-compressed).
"""

from __future__ import annotations

import gzip
import sys
from pathlib import Path

from orjson import dumps

from proxy.transcripts import TRANSCRIPT_FILE, read_transcript


def sizes(cell: Path) -> tuple[int, int, int, int]:
    calls = read_transcript(cell)
    plain = 0
    for call in calls:
        body = {**call.request, "messages": call.messages}
        plain += len(dumps(body)) + len(call.raw.body if call.raw else "")
    path = cell / TRANSCRIPT_FILE
    dedup = len(gzip.decompress(path.read_bytes()))
    return len(calls), plain, dedup, path.stat().st_size


def main(cells: list[str]) -> None:
    print(f"{'cell':60} {'calls':>5} {'plain':>10} {'dedup':>10} {'stored':>10}")
    for name in cells:
        n, plain, dedup, stored = sizes(Path(name))
        print(f"{name[-60:]:60} {n:5} {plain:10,} {dedup:10,} {stored:10,}")


if __name__ == "__main__":
    main(sys.argv[1:])
