"""calls.jsonl when the disk refuses a write: nothing lost while it can be kept, nothing
dropped silently. A real file whose size limit (RLIMIT_FSIZE, in a child process: it
holds for the whole process) makes writes fail as a full disk does, then is lifted."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

SCRIPT = r"""
import asyncio, json, resource, signal, sys
from datetime import UTC, datetime
from pathlib import Path

import proxy.sink
from proxy.records import ModelCall
from proxy.sink import RecordSink

signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails (EFBIG)
_, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
now = datetime(2026, 11, 30, tzinfo=UTC)


def rec(seq):
    return ModelCall(seq=seq, started_at=now, ended_at=now, outcome="ok", latency_ms=1.0,
                     response_text="x" * 500)


def limit(size):
    resource.setrlimit(resource.RLIMIT_FSIZE, (size, hard))


folder = Path(sys.argv[1])
sink = RecordSink(folder / "recovers")
sink.write(rec(1))
size = sink.path.stat().st_size
limit(size + 100)  # the next line is cut after 100 bytes, then nothing more fits
for seq in (2, 3, 4):
    sink.write(rec(seq))
stuck = sink.path.stat().st_size
limit(hard)  # space again
sink.write(rec(5))
sink.close()

async def no_more_calls():  # in a serving proxy: the kept record goes out on its own
    proxy.sink.RETRY_S = 0.05
    idle = RecordSink(folder / "idle")
    limit(0)
    idle.write(rec(1))
    await asyncio.sleep(0.01)  # its flush, at the end of the loop's turn, is refused
    stuck = idle.path.read_text()
    limit(hard)
    await asyncio.sleep(0.5)  # no write, no flush: only the retry can write it
    written = idle.path.read_text()
    idle.close()
    return stuck, written


idle_stuck, idle_written = asyncio.run(no_more_calls())

proxy.sink.BACKLOG_BYTES = 3000  # room for ~2 lines while the disk is full
full = RecordSink(folder / "bounded")
limit(0)
for seq in range(1, 11):
    full.write(rec(seq))
dropped = full.dropped
full.close()
limit(hard)
print(json.dumps({"size": size, "stuck": stuck, "dropped": dropped, "idle": [len(idle_stuck), len(idle_written.splitlines())]}))
"""


def test_a_refused_write_is_kept_and_written_when_the_disk_has_room_again(tmp_path: Path):
    out = subprocess.run([sys.executable, "-c", SCRIPT, str(tmp_path)],
                         capture_output=True, text=True, timeout=60)  # fmt: skip
    assert out.returncode == 0, out.stderr
    facts = json.loads(out.stdout.strip().splitlines()[-1])
    assert facts["stuck"] == facts["size"] + 100  # the write was refused part-way
    lines = (tmp_path / "recovers" / "calls.jsonl").read_text().splitlines()
    assert [json.loads(line)["seq"] for line in lines] == [1, 2, 3, 4, 5]  # whole, in order
    log = out.stdout + out.stderr
    # told once when it starts and once when it is over (the bounded sink: never over)
    assert log.count("calls.jsonl not written") == 3 and log.count("calls.jsonl written again") == 2
    assert facts["idle"] == [0, 1]  # refused, then written by the retry with no call after
    # while the disk stays full, what is kept is bounded; what is dropped is counted and told
    assert facts["dropped"] == 8
    assert (tmp_path / "bounded" / "calls.jsonl").read_text() == ""
    assert "records lost at close" in log and "dropped_records=8" in log
