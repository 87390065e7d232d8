"""What the proxy keeps of a cell's conversation, and replaying a recorded one.

A cell's proxy session writes its wire transcript into the cell folder
(`transcript.jsonl.gz`, see proxy/transcripts.py) unless the caller turned transcripts
off. A replay answers the session from a recorded cell's transcript instead of the
model (proxy/replay.py); the fields the agent's CLI changes from run to run are the
adapter's `replay_normalise` (fields) and `replay_rewrite` (per-run text inside messages,
as regex -> replacement) (docs/transcripts.md, "Replay").
"""

from __future__ import annotations

from pathlib import Path

from proxy.capture import TranscriptWriter
from proxy.records import ModelCall
from proxy.replay import ReplayBook
from proxy.sessions import Session
from proxy.transcripts import TRANSCRIPT_FILE, read_transcript
from runner.adapters import Adapter
from runner.errors import RunnerError
from runner.pipeline.options import CellOptions, ReplayOptions


class ReplayError(RunnerError):
    """The recorded cell cannot be replayed (no transcript, nothing to serve)."""


def attach_recording(session: Session, opts: CellOptions, cell_dir: Path, adapter: Adapter) -> None:
    if opts.transcripts:
        (cell_dir / TRANSCRIPT_FILE).unlink(missing_ok=True)  # a rerun starts its own
        session.transcript = TranscriptWriter(cell_dir)
    if opts.replay is not None:
        session.replay = replay_book(
            opts.replay,
            getattr(adapter, "replay_normalise", ()),
            getattr(adapter, "replay_rewrite", ()),
        )


def replay_book(
    replay: ReplayOptions,
    normalise: tuple[str, ...] = (),
    rewrite: tuple[tuple[str, str], ...] = (),
) -> ReplayBook:
    calls = read_transcript(replay.source)
    if not calls:
        raise ReplayError(
            f"{replay.source / TRANSCRIPT_FILE}: no wire transcript to replay (was the cell "
            "recorded with transcripts off, or before they existed?)"
        )
    latencies = {c.seq: c.latency_ms for c in recorded_calls(replay.source)}
    return ReplayBook.from_transcript(
        calls,
        normalise=normalise,
        real_time=replay.real_time,
        latencies_ms=latencies,
        rewrite=rewrite,
    )


def recorded_calls(cell_dir: Path) -> list[ModelCall]:
    path = cell_dir / "calls.jsonl"
    if not path.is_file():
        return []
    lines = path.read_text(encoding="utf-8").splitlines()
    return [ModelCall.model_validate_json(line) for line in lines if line.strip()]
