"""`cab replay`: a recorded cell rerun with the proxy answering from its transcript."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from proxy.capture import CapturedCall, TranscriptWriter
from proxy.transcripts import TRANSCRIPT_FILE, read_transcript
from runner.cell import CellOptions, run_cell
from runner.harness import Harness
from runner.models import resolve_model
from runner.pipeline.options import Plugin
from runner.record import CellRecord
from runner.tasks import get_task

TASK = "polyglot/go-http-handler-fix"


def record_cell(out: Path, **options) -> Path:
    opts = CellOptions(sweep_id="rec", out_root=out, sandbox="local", **options)
    with Harness() as harness:
        rec = run_cell("reference", resolve_model("scripted"), get_task(TASK), opts, harness)
    assert rec.verdict == "capability" and rec.scores and rec.scores.pass_rate.pass_ == 1
    return out / "rec" / "reference" / "scripted" / "polyglot" / "go-http-handler-fix"


def replay(cell: Path, out: Path) -> subprocess.CompletedProcess:
    cmd = [
        sys.executable,
        "-m",
        "cab",
        "replay",
        str(cell),
        "--sandbox",
        "local",
        "--out",
        str(out),
    ]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=300)


def replayed_record(out: Path) -> CellRecord:
    return CellRecord.read(
        out / "replay" / "reference" / "scripted" / "polyglot" / "go-http-handler-fix"
    )


def test_a_replay_repeats_the_recorded_pass_without_the_model(tmp_path):
    cell = record_cell(tmp_path / "runs")
    original = CellRecord.read(cell)
    assert (cell / TRANSCRIPT_FILE).is_file() and original.artifacts[
        "transcript"
    ] == TRANSCRIPT_FILE
    proc = replay(cell, tmp_path / "replays")
    assert proc.returncode == 0, proc.stderr
    again = replayed_record(tmp_path / "replays")
    assert again.identity.replay_of == original.cell_id
    assert again.verdict == "capability" and again.scores and again.scores.pass_rate.pass_ == 1
    assert len(again.calls) == len(original.calls)
    assert [c.replayed_seq for c in again.calls] == [c.seq for c in original.calls]
    assert [c.request_hash for c in again.calls] == [c.request_hash for c in original.calls]
    replay_dir = tmp_path / "replays" / "replay" / "reference" / "scripted" / "polyglot"
    diff = (replay_dir / "go-http-handler-fix" / "diff.patch").read_text()
    assert diff == (cell / "diff.patch").read_text() and diff


def test_a_replay_keeps_the_recordings_budget_and_says_its_plugins_are_not_reapplied(tmp_path):
    """Before, a replay ran with the task's default budget (a cell recorded with another
    timed out at a different point, or not at all) and said nothing of the plugins."""
    plugin = Plugin(name="quiet-env", env={"CAB_TEST_PLUGIN": "1"})
    cell = record_cell(tmp_path / "runs", timeout_s=97.0, plugins=[plugin])
    proc = replay(cell, tmp_path / "replays")
    assert proc.returncode == 0, proc.stderr
    again = replayed_record(tmp_path / "replays")
    assert again.facts.agent.budget_s == 97.0
    assert again.verdict == "capability"
    assert "plugins (quiet-env)" in proc.stderr and "does not" in proc.stderr


def test_a_replay_whose_requests_differ_is_a_replay_miss_not_a_pass(tmp_path):
    cell = record_cell(tmp_path / "runs")
    calls = read_transcript(cell)
    (cell / TRANSCRIPT_FILE).unlink()
    writer = TranscriptWriter(cell)
    for call in calls:  # the recording's first prompt no longer matches what the agent sends
        messages = [dict(m) for m in call.messages]
        messages[-1 if call.seq == 1 else 0]["content"] = "a different prompt"
        assert call.raw is not None
        writer.write(
            CapturedCall(
                seq=call.seq, request_hash=call.request_hash, api=call.api, stream=call.stream,
                body={**call.request, "messages": messages}, status=call.raw.status,
                content_type=call.raw.content_type, response=call.raw.data(),
            )
        )  # fmt: skip
    proc = replay(cell, tmp_path / "replays")
    assert proc.returncode == 0, proc.stderr
    again = replayed_record(tmp_path / "replays")
    assert again.calls[0].outcome == "replay_miss"
    assert "differs at messages" in (again.calls[0].error or "")
    assert again.verdict == "infra:harness"
    assert again.scores and "diverged from its recording at call 1" in again.scores.verdict.sentence


def test_a_cell_without_a_transcript_is_refused_before_anything_runs(tmp_path):
    fixture = Path(__file__).parent / "fixtures" / "schema_v2" / "reference" / "scripted"
    cell = tmp_path / "old"
    shutil.copytree(fixture / "polyglot" / "go-http-handler-fix", cell)
    proc = replay(cell, tmp_path / "replays")
    assert proc.returncode == 2
    assert "no wire transcript to replay" in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "replays").exists()
