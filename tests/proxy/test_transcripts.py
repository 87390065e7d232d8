"""Wire transcripts: assembling replies, deduplicated compressed storage, caps, redaction."""

from __future__ import annotations

import gzip
import io
import json

import openai
import pytest

from proxy.assemble import assemble
from proxy.capture import CapturedCall, TranscriptWriter, _json
from proxy.transcripts import TRANSCRIPT_FILE, conversation, inflate, read_transcript

KEY = "sk-real-provider-key-0123456789"


def sse(*events: dict | str) -> bytes:
    out = []
    for e in events:
        out.append(f"data: {e if isinstance(e, str) else json.dumps(e)}\n\n")
    return "".join(out).encode()


def chat_chunk(delta: dict, finish: str | None = None, usage: dict | None = None) -> dict:
    chunk: dict = {"choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
    if usage:
        chunk = {"choices": [], "usage": usage}
    return chunk


def test_a_streamed_chat_reply_with_tool_calls_is_assembled_whole():
    body = sse(
        chat_chunk({"role": "assistant", "content": "Let me "}),
        chat_chunk({"content": "look."}),
        chat_chunk({"tool_calls": [{"index": 0, "id": "c1", "function": {"name": "bash"}}]}),
        chat_chunk({"tool_calls": [{"index": 0, "function": {"arguments": '{"cmd": '}}]}),
        chat_chunk({"tool_calls": [{"index": 0, "function": {"arguments": '"ls"}'}}]}),
        chat_chunk({}, finish="tool_calls"),
        chat_chunk({}, usage={"prompt_tokens": 120, "completion_tokens": 9,
                              "prompt_tokens_details": {"cached_tokens": 64}}),
        "[DONE]",
    )  # fmt: skip
    reply = assemble("chat", body, stream=True)
    assert reply.content == "Let me look."
    assert [(t.id, t.name, t.arguments) for t in reply.tool_calls] == [
        ("c1", "bash", '{"cmd": "ls"}')
    ]
    assert (reply.finish_reason, reply.prompt_tokens, reply.completion_tokens) == (
        "tool_calls",
        120,
        9,
    )
    assert reply.cached_tokens == 64


def test_a_responses_reply_is_read_from_its_final_event():
    response = {
        "status": "completed",
        "output": [
            {"type": "reasoning", "summary": [{"type": "summary_text", "text": "think"}]},
            {"type": "message", "content": [{"type": "output_text", "text": "Done."}]},
            {"type": "function_call", "call_id": "f1", "name": "shell", "arguments": "{}"},
        ],
        "usage": {"input_tokens": 50, "output_tokens": 7},
    }
    body = sse(
        {"type": "response.output_text.delta", "delta": "Done."},
        {"type": "response.completed", "response": response},
    )
    reply = assemble("responses", body, stream=True)
    assert (reply.content, reply.reasoning) == ("Done.", "think")
    assert reply.tool_calls[0].name == "shell"
    assert (reply.prompt_tokens, reply.completion_tokens) == (50, 7)
    assert assemble("responses", json.dumps(response).encode(), stream=False) == reply


def test_a_non_json_reply_is_said_not_raised():
    assert assemble("chat", b"<html>", stream=False).error == "reply is not JSON"


def _call(seq: int, messages: list[dict], reply: str, **kw) -> CapturedCall:
    body = {"model": "m", "messages": messages, "temperature": 0}
    resp = {"choices": [{"message": {"role": "assistant", "content": reply}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 10 * seq, "completion_tokens": 2}}  # fmt: skip
    return CapturedCall(
        seq=seq, request_hash=f"sha256:{seq}", api="chat", stream=False, body=body, status=200,
        content_type="application/json", response=json.dumps(resp).encode(), **kw,
    )  # fmt: skip


def test_history_is_stored_once_and_read_back_whole(tmp_path):
    writer = TranscriptWriter(tmp_path)
    system = {"role": "system", "content": "You are a coding agent. " * 200}
    history = [system, {"role": "user", "content": "fix the bug"}]
    for seq in range(1, 6):
        writer.write(_call(seq, list(history), f"step {seq}"))
        history += [
            {"role": "assistant", "content": f"step {seq}"},
            {"role": "user", "content": f"output {seq}"},
        ]
    calls = read_transcript(tmp_path)
    assert [c.seq for c in calls] == [1, 2, 3, 4, 5]
    assert len(calls[4].messages) == 10 and calls[4].messages[0] == system
    assert calls[2].reply is not None and calls[2].reply.content == "step 3"
    assert calls[0].request == {"model": "m", "temperature": 0}
    with io.StringIO(inflate((tmp_path / TRANSCRIPT_FILE).read_bytes()).decode()) as fh:
        stored_messages = [json.loads(line) for line in fh if '"t":"m"' in line]
    assert len(stored_messages) == 2 + 2 * 4  # each message once
    assert writer.stats.stored_bytes < writer.stats.logical_bytes / 3
    roles = [m.role for m in conversation(calls[1])]
    assert roles == ["system", "user", "assistant", "user"]


def test_messages_of_any_shape_are_kept_for_replay_and_read_back(tmp_path):
    """An agent's body is untrusted too: items that are not objects and fields of the
    wrong type are stored as sent (replay needs them) and read back without failing."""
    writer = TranscriptWriter(tmp_path)
    odd = [5, "x", None,
           {"role": "assistant", "content": {"x": 1},
            "tool_calls": [{"id": 5, "function": {"name": 9, "arguments": {"a": 1}}}, "junk"]},
           {"role": "tool", "tool_call_id": 7, "name": 1, "content": "ok"},
           {"type": "function_call", "call_id": 4, "name": 3, "arguments": "{}"},
           {"type": "function_call_output", "call_id": 6, "output": "done"}]  # fmt: skip
    writer.write(_call(1, odd, "fine"))
    [call] = read_transcript(tmp_path)
    assert call.messages == odd
    said = conversation(call)
    assert [m.content for m in said[:3]] == ["5", "x", None]
    assert said[3].tool_calls[0].model_dump() == {"id": None, "name": None, "arguments": "{'a': 1}"}
    assert (said[4].tool_call_id, said[4].name) == (None, None)
    assert said[5].tool_calls[0].model_dump() == {"id": None, "name": None, "arguments": "{}"}
    assert (said[6].role, said[6].tool_call_id, said[6].content) == ("tool", None, "done")


def test_a_long_running_writer_remembers_few_hashes_and_still_stores_resent_ones_once(tmp_path):
    """A standalone proxy writes one transcript for every session: the hashes it keeps
    for dedup stay bounded (two small generations), what every call resends (the system
    prompt, the request's settings) is still stored once, and every call reads back."""
    writer = TranscriptWriter(tmp_path, seen_limit=4)
    system = {"role": "system", "content": "You are a coding agent."}
    held = []
    for seq in range(1, 41):
        writer.write(_call(seq, [system, {"role": "user", "content": f"task {seq}"}], "ok"))
        held.append(writer._seen.held())
    assert max(held) <= 8
    calls = read_transcript(tmp_path)
    assert [c.seq for c in calls] == list(range(1, 41))
    assert all(c.messages == [system, {"role": "user", "content": f"task {c.seq}"}] for c in calls)
    with io.StringIO(inflate((tmp_path / TRANSCRIPT_FILE).read_bytes()).decode()) as fh:
        lines = [json.loads(line) for line in fh]
    assert sum(1 for line in lines if line.get("m") == system) == 1
    assert sum(1 for line in lines if line["t"] == "r") == 1


def test_a_stored_message_line_is_what_json_with_sorted_keys_writes(tmp_path):
    """Messages are written to JSON once and their stored line is put together around
    that text: it must be byte for byte the sorted-keys JSON of the line."""
    writer = TranscriptWriter(tmp_path)
    message = {"role": "user", "content": [{"type": "text", "text": "naïve → ünïcode"}], "b": 1}
    call = _call(1, [message], "ok")
    call.body = {**(call.body or {}), "tools": [{"z": 1, "a": {"y": 2, "b": 3}}]}
    writer.write(call)
    with io.StringIO(inflate((tmp_path / TRANSCRIPT_FILE).read_bytes()).decode()) as fh:
        stored = {json.loads(line)["t"]: line.rstrip("\n") for line in fh}
    for kind in ("m", "r"):
        value = json.loads(stored[kind])
        assert stored[kind] == _json({"t": kind, "h": value["h"], kind: value[kind]})
    assert json.loads(stored["m"])["m"] == message
    (read,) = read_transcript(tmp_path)
    assert read.messages == [message] and read.request["tools"] == call.body["tools"]


def test_tools_resent_every_turn_are_stored_once_and_old_inline_files_still_read(tmp_path):
    """A request's settings (tools, instructions) are kept by hash like messages; a file
    written before that, with each call's request inline, reads the same."""
    writer = TranscriptWriter(tmp_path / "new")
    tools = [
        {"type": "function", "function": {"name": f"t{i}", "parameters": {}}} for i in range(50)
    ]
    for seq in (1, 2, 3):
        call = _call(seq, [{"role": "user", "content": f"turn {seq}"}], "ok")
        call.body = {**(call.body or {}), "tools": tools}
        writer.write(call)
    calls = read_transcript(tmp_path / "new")
    assert [c.request["tools"] for c in calls] == [tools] * 3
    with io.StringIO(inflate((tmp_path / "new" / TRANSCRIPT_FILE).read_bytes()).decode()) as fh:
        lines = [json.loads(line) for line in fh]
    assert sum(1 for line in lines if line["t"] == "r") == 1
    old = tmp_path / "old"
    old.mkdir()
    inline = [
        {"t": "m", "h": "a", "m": {"role": "user", "content": "hi"}},
        {"t": "c", "seq": 1, "messages": ["a"], "request": {"model": "m", "tools": tools}},
    ]
    (old / TRANSCRIPT_FILE).write_bytes(
        gzip.compress("".join(json.dumps(x) + "\n" for x in inline).encode())
    )
    (only,) = read_transcript(old)
    assert only.request == {"model": "m", "tools": tools} and only.messages[0]["content"] == "hi"


def test_keys_are_redacted_before_anything_is_written(tmp_path):
    writer = TranscriptWriter(tmp_path, redact=lambda s: s.replace(KEY, "[REDACTED]"))
    writer.write(_call(1, [{"role": "user", "content": f"my key is {KEY}"}], f"echo {KEY}"))
    raw = inflate((tmp_path / TRANSCRIPT_FILE).read_bytes()).decode()
    assert KEY not in raw and "[REDACTED]" in raw


def test_caps_keep_a_marker_instead_of_the_bodies(tmp_path):
    writer = TranscriptWriter(tmp_path, call_cap=2000, cell_cap=10**9)
    writer.write(_call(1, [{"role": "user", "content": "x" * 5000}], "ok"))
    writer.write(_call(2, [{"role": "user", "content": "small"}], "ok"))
    first, second = read_transcript(tmp_path)
    assert first.truncated and "per-call cap of 2000" in first.truncated
    assert first.messages == [] and first.raw is None
    assert second.truncated is None and second.messages[0]["content"] == "small"
    small = TranscriptWriter(tmp_path / "b", cell_cap=1)
    small.write(_call(1, [{"role": "user", "content": "a"}], "ok"))
    small.write(_call(2, [{"role": "user", "content": "b"}], "ok"))
    later = read_transcript(tmp_path / "b")[1]
    assert later.truncated and "per-cell cap" in later.truncated and later.messages == []


def test_a_file_cut_by_a_crash_still_yields_the_calls_before_the_cut(tmp_path):
    writer = TranscriptWriter(tmp_path)
    for seq in (1, 2):
        writer.write(_call(seq, [{"role": "user", "content": f"q{seq}"}], "a"))
    path = tmp_path / TRANSCRIPT_FILE
    path.write_bytes(path.read_bytes()[:-15])
    assert [c.seq for c in read_transcript(tmp_path)] == [1]


def test_raw_replies_are_kept_byte_for_byte_for_replay(tmp_path):
    writer = TranscriptWriter(tmp_path)
    body = sse(chat_chunk({"content": "héllo"}), chat_chunk({}, finish="stop"), "[DONE]")
    writer.write(
        CapturedCall(
            seq=1, request_hash="h", api="chat", stream=True, body={"model": "m", "messages": []},
            status=200, content_type="text/event-stream", response=body,
        )
    )  # fmt: skip
    (call,) = read_transcript(tmp_path)
    assert call.raw is not None and call.raw.data() == body
    assert call.reply is not None and call.reply.content == "héllo"


def test_the_proxy_keeps_what_each_call_sent_and_got(proxy, client, session, record_dir, tmp_path):
    """Through the real proxy: a session with its own transcript folder gets every call,
    streamed or not, with the provider's usage even when the client never saw it."""
    session.transcript = TranscriptWriter(tmp_path / "cell")
    history = [{"role": "system", "content": "be brief"}, {"role": "user", "content": "fix it"}]
    first = client.chat.completions.create(model="scripted/demo/fix-handler", messages=history)
    history.append(first.choices[0].message.model_dump(exclude_none=True))
    history.append({"role": "tool", "tool_call_id": "t1", "content": "package main"})
    with client.chat.completions.create(
        model="scripted/demo/fix-handler", messages=history, stream=True
    ) as stream:
        streamed = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
    calls = proxy.calls(session.id)
    kept = read_transcript(tmp_path / "cell")
    assert [k.seq for k in kept] == [c.seq for c in calls] == [1, 2]
    assert [k.request_hash for k in kept] == [c.request_hash for c in calls]
    assert kept[1].stream and len(kept[1].messages) == 4
    assert kept[0].reply is not None and kept[0].reply.tool_calls[0].name == "bash"
    assert kept[1].reply is not None and (kept[1].reply.content or "") == streamed
    assert kept[1].reply.prompt_tokens == calls[1].prompt_tokens is not None
    assert kept[1].raw is not None and b"data:" in kept[1].raw.data()
    assert not (record_dir / TRANSCRIPT_FILE).exists()  # the session's own folder took them


def test_no_key_is_stored_in_a_transcript(proxy, client, session, tmp_path, upstream_key):
    """The provider key and the session key, planted in a prompt, never reach the disk."""
    session.transcript = TranscriptWriter(tmp_path / "cell")
    planted = f"the key is {upstream_key} and mine is {session.key}"
    client.chat.completions.create(
        model="scripted/demo/fix-handler", messages=[{"role": "user", "content": planted}]
    )
    proxy.calls(session.id)
    stored = inflate((tmp_path / "cell" / TRANSCRIPT_FILE).read_bytes()).decode()
    assert upstream_key not in stored and session.key not in stored
    assert "the key is" in stored  # the message itself was kept


def test_no_key_is_stored_when_the_provider_echoes_it(
    proxy, client, session, tmp_path, upstream_key
):
    """The provider quotes the key back: in a 401's message and header, and split across
    two chunks of a streamed reply. The transcript keeps the calls, never the key."""
    session.transcript = TranscriptWriter(tmp_path / "cell")
    messages = [{"role": "user", "content": "hi"}]
    with pytest.raises(openai.AuthenticationError):
        client.chat.completions.create(model="fault/401-echo-key", messages=messages)
    chunks = client.chat.completions.create(model="fault/echo-key", messages=messages, stream=True)
    assert "[redacted]" in "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert len(proxy.calls(session.id)) == 2
    stored = inflate((tmp_path / "cell" / TRANSCRIPT_FILE).read_bytes()).decode()
    assert upstream_key not in stored and session.key not in stored
    calls = read_transcript(tmp_path / "cell")
    assert [c.raw.status for c in calls if c.raw] == [401, 200]
    assert "[redacted]" in (calls[0].raw.body if calls[0].raw else "")
    assert "[redacted]" in ((calls[1].reply.content if calls[1].reply else None) or "")
