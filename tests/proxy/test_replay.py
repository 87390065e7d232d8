"""Replay: a session answered from a recorded transcript, strictly, with misses said loudly."""

from __future__ import annotations

from typing import Any

import openai
import pytest

from proxy.capture import CapturedCall, TranscriptWriter
from proxy.replay import ReplayBook, ReplayMiss
from proxy.server import ProxyServer
from proxy.transcripts import RawResponse, TranscriptCall, read_transcript
from runner.adapters import get_adapter

#: nothing listens here: a replay that reached the upstream would fail as connection_error
CLOSED = "http://127.0.0.1:9/v1"
SYSTEM = {"role": "system", "content": "be brief"}


def _run(client: openai.OpenAI, question: str) -> list[str]:
    """One throttled call retried by hand, then a streamed scripted call."""
    seen = []
    messages: list[Any] = [SYSTEM, {"role": "user", "content": question}]
    for _ in range(2):
        try:
            r = client.chat.completions.create(model="fault/429-first-1", messages=messages)
            seen.append(r.choices[0].message.content or "")
        except openai.RateLimitError:
            seen.append("429")
    with client.chat.completions.create(
        model="scripted/demo/fix-handler", messages=messages, stream=True
    ) as stream:
        seen.append("".join(c.choices[0].delta.content or "" for c in stream if c.choices))
    return seen


@pytest.fixture
def recorded(proxy, session, client, tmp_path):
    session.transcript = TranscriptWriter(tmp_path / "cell")
    seen = _run(client, "fix the handler")
    calls = proxy.calls(session.id)
    book = ReplayBook.from_transcript(
        read_transcript(tmp_path / "cell"), latencies_ms={c.seq: c.latency_ms for c in calls}
    )
    return seen, calls, book


@pytest.fixture
def replayer():
    with ProxyServer(upstream=CLOSED, require_session=True, timeout=2) as server:
        yield server


def test_a_replay_serves_the_recording_in_order_without_the_provider(recorded, replayer):
    seen, calls, book = recorded
    assert seen[0] == "429" and seen[1] != "429"
    sess = replayer.create_session(cell_id="replay")
    sess.replay = book
    with openai.OpenAI(base_url=replayer.base_url + "/v1", api_key=sess.key, max_retries=0) as c:
        assert _run(c, "fix the handler") == seen
    replayed = replayer.calls(sess.id)
    assert [r.replayed_seq for r in replayed] == [c.seq for c in calls]
    assert [r.outcome for r in replayed] == [c.outcome for c in calls]
    assert [r.request_hash for r in replayed] == [c.request_hash for c in calls]
    assert [r.completion_tokens for r in replayed] == [c.completion_tokens for c in calls]


def test_an_altered_request_is_a_loud_replay_miss(recorded, replayer):
    _, _, book = recorded
    sess = replayer.create_session(cell_id="replay-miss")
    sess.replay = book
    base = replayer.base_url + "/v1"
    with (
        openai.OpenAI(base_url=base, api_key=sess.key, max_retries=0) as c,
        pytest.raises(openai.BadRequestError) as info,
    ):
        _run(c, "fix the handler, differently")
    message = str(info.value)
    assert "replay_miss" in message and "messages[1]" in message
    assert "fix the handler, differently" in message
    (miss,) = replayer.calls(sess.id)
    assert miss.outcome == "replay_miss" and miss.status_code == 400


def test_normalised_fields_are_left_out_of_the_comparison(recorded, tmp_path):
    _, _, book = recorded
    cell = tmp_path / "cell"
    entry = book.calls[-1]
    body = {**entry.body, "prompt_cache_key": "run-2"}
    with pytest.raises(ReplayMiss, match=f"call #{entry.seq} differs in 'prompt_cache_key'"):
        book.take(body)
    calls = read_transcript(cell)
    loose = ReplayBook.from_transcript(calls, normalise=("prompt_cache_key",))
    assert loose.take(body).seq == entry.seq


def test_a_wildcard_normalises_a_field_of_every_item_and_leaves_the_body_as_sent():
    """Codex gives every input item a fresh `id` (msg_<uuid>) each run: `input.*.id`."""
    from proxy.replay import _without

    sent: dict[str, Any] = {
        "model": "m",
        "client_metadata": {"session_id": "a", "keep": 1},
        "input": [{"id": "msg_1", "role": "user", "content": "hi"}, {"type": "reasoning"}],
    }
    kept = _without(sent, ("input.*.id", "client_metadata.session_id", "absent.x", "model.*"))
    assert kept["input"] == [{"role": "user", "content": "hi"}, {"type": "reasoning"}]
    assert kept["client_metadata"] == {"keep": 1} and kept["model"] == "m"
    assert sent["input"][0]["id"] == "msg_1" and sent["client_metadata"]["session_id"] == "a"


def test_a_miss_names_the_recorded_turn_it_departs_from_not_a_later_one(tmp_path):
    """The recording's first prompt differs from what the agent sends; the agent's request
    is a prefix of the recorded second turn, but the miss must point at call #1."""
    writer = TranscriptWriter(tmp_path)
    reply = b'{"choices": [{"message": {"role": "assistant", "content": "ok"}}]}'
    turns = [
        [SYSTEM, {"role": "user", "content": "recorded prompt"}],
        [SYSTEM, {"role": "user", "content": "sent prompt"}, {"role": "assistant", "content": "ok"},
         {"role": "user", "content": "go on"}],
    ]  # fmt: skip
    for seq, messages in enumerate(turns, start=1):
        writer.write(
            CapturedCall(
                seq=seq, request_hash=f"h{seq}", api="chat", stream=False,
                body={"model": "m", "messages": messages}, status=200,
                content_type="application/json", response=reply,
            )
        )  # fmt: skip
    book = ReplayBook.from_transcript(read_transcript(tmp_path))
    sent = {"model": "m", "messages": [SYSTEM, {"role": "user", "content": "sent prompt"}]}
    with pytest.raises(ReplayMiss, match=r"call #1 differs at messages\[1\]"):
        book.take(sent)


def test_per_run_text_inside_messages_is_compared_through_the_adapters_rewrite():
    """codex sends its exec tool's output back with a random chunk id and the wall time:
    strict replay compares that text through the adapter's (regex, replacement) pairs."""
    recorded = TranscriptCall(
        seq=1, api="responses", request={"model": "m"},
        messages=[{"type": "function_call_output", "call_id": "c1",
                   "output": "Chunk ID: 7c5a5c\nWall time: 0.0001 seconds\nok"}],
        raw=RawResponse(status=200, content_type="application/json", body="{}"),
    )  # fmt: skip
    rerun = {"model": "m", "input": [dict(recorded.messages[0])]}
    rerun["input"][0]["output"] = "Chunk ID: 93d1c3\nWall time: 2.4207 seconds\nok"
    with pytest.raises(ReplayMiss, match="Chunk ID: 7c5a5c"):
        ReplayBook.from_transcript([recorded]).take(rerun)
    rewrite = get_adapter("codex").replay_rewrite
    assert ReplayBook.from_transcript([recorded], rewrite=rewrite).take(rerun).seq == 1
    rerun["input"][0]["output"] = "Chunk ID: 93d1c3\nWall time: 2.4207 seconds\nFAIL"
    with pytest.raises(ReplayMiss, match="FAIL"):  # what the command printed still counts
        ReplayBook.from_transcript([recorded], rewrite=rewrite).take(rerun)
