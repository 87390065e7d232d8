"""ATIF v1.7 from wire transcripts: steps, observations, the provider's tokens, validation."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from proxy.capture import CapturedCall, TranscriptWriter
from proxy.records import ModelCall
from proxy.transcripts import read_transcript
from runner.atif import trajectory, validate

T0 = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)


def record(seq: int, outcome: str = "ok", prompt: int | None = None, done: int | None = None):
    return ModelCall(
        seq=seq, started_at=T0 + timedelta(seconds=seq), ended_at=T0 + timedelta(seconds=seq + 0.5),
        outcome=outcome, status_code=200 if outcome == "ok" else 429, latency_ms=500,
        prompt_tokens=prompt, completion_tokens=done, cached_tokens=0 if prompt else None,
        tokens_source="usage" if prompt else None, model="gpt-test", request_hash=f"h{seq}",
    )  # fmt: skip


def chat_reply(content: str | None, tool: tuple[str, str, str] | None = None) -> bytes:
    message: dict = {"role": "assistant", "content": content}
    if tool:
        message["tool_calls"] = [
            {"id": tool[0], "type": "function", "function": {"name": tool[1], "arguments": tool[2]}}
        ]
    return json.dumps({"choices": [{"message": message, "finish_reason": "stop"}]}).encode()


def write(writer: TranscriptWriter, seq: int, messages: list, reply: bytes, status: int = 200):
    writer.write(
        CapturedCall(
            seq=seq, request_hash=f"h{seq}", api="chat", stream=False,
            body={"model": "gpt-test", "messages": list(messages)}, status=status,
            content_type="application/json", response=reply,
        )
    )  # fmt: skip


def test_a_tool_calling_run_becomes_agent_steps_with_observations(tmp_path):
    writer = TranscriptWriter(tmp_path)
    history = [{"role": "system", "content": "sys"}, {"role": "user", "content": "fix it"}]
    write(writer, 1, history, chat_reply("look", ("c1", "bash", '{"cmd": "ls"}')))
    write(writer, 2, history, b'{"error": {"message": "slow down"}}', status=429)
    history += [
        {"role": "assistant", "content": "look", "tool_calls": [
            {"id": "c1", "type": "function", "function": {"name": "bash", "arguments": "{}"}}]},
        {"role": "tool", "tool_call_id": "c1", "content": "main.go"},
    ]  # fmt: skip
    write(writer, 3, history, chat_reply("done"))
    records = [
        record(1, prompt=100, done=10),
        record(2, "rate_limited"),
        record(3, prompt=150, done=5),
    ]
    doc = trajectory(
        read_transcript(tmp_path), records, agent_name="aider", agent_version="0.86.2",
        session_id="s/aider/m/polyglot/t",
    )  # fmt: skip
    assert validate(doc) == []
    steps = doc["steps"]
    assert [s["source"] for s in steps] == ["system", "user", "agent", "agent"]
    assert [s["step_id"] for s in steps] == [1, 2, 3, 4]
    first, second = steps[2], steps[3]
    assert first["tool_calls"] == [
        {"tool_call_id": "c1", "function_name": "bash", "arguments": {"cmd": "ls"}}
    ]
    assert first["observation"] == {"results": [{"source_call_id": "c1", "content": "main.go"}]}
    assert (first["metrics"]["prompt_tokens"], first["metrics"]["completion_tokens"]) == (100, 10)
    assert second["llm_call_count"] == 2  # the 429 before it
    assert second["extra"]["failed_attempts"][0]["outcome"] == "rate_limited"
    assert doc["final_metrics"]["total_prompt_tokens"] == 250
    assert doc["final_metrics"]["total_completion_tokens"] == 15
    assert doc["final_metrics"]["total_steps"] == 4


def test_text_action_agents_get_their_command_output_as_observation(tmp_path):
    writer = TranscriptWriter(tmp_path)
    history = [{"role": "system", "content": "sys"}, {"role": "user", "content": "task"}]
    write(writer, 1, history, chat_reply("```bash\nls\n```"))
    history += [
        {"role": "assistant", "content": "```bash\nls\n```"},
        {"role": "user", "content": "<output>main.go</output>"},
    ]
    write(writer, 2, history, chat_reply("COMPLETE_TASK"))
    doc = trajectory(
        read_transcript(tmp_path), [record(1, prompt=5, done=1), record(2, prompt=9, done=1)],
        agent_name="mini-swe-agent", agent_version="2.4.6", session_id="x",
    )  # fmt: skip
    assert validate(doc) == []
    assert doc["steps"][2]["observation"] == {"results": [{"content": "<output>main.go</output>"}]}
    assert "observation" not in doc["steps"][3]


def test_validation_names_what_is_wrong():
    assert validate([]) == ["the document is not a JSON object"]
    problems = validate(
        {"schema_version": "ATIF-v1.6", "agent": {"name": "x"}, "steps": [{"step_id": 2}]}
    )
    assert "schema_version must be 'ATIF-v1.7'" in problems
    assert "agent.version is required (a string)" in problems
    assert "steps[0].step_id must be 1 (1-based, in order)" in problems
    assert any("steps[0].source" in p for p in problems)
    assert any("steps[0].message" in p for p in problems)
