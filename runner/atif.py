"""ATIF v1.7 (Agent Trajectory Interchange Format) from what the proxy saw on the wire.

Harbor builds trajectories from each agent's own logs; we build them from the wire
transcript (proxy.transcripts) and the call records, so they exist for every CLI and
carry the provider's own token counts:

- the first completed call's system and user messages become `system` / `user` steps;
- each completed model call becomes one `agent` step: its reply text, reasoning and
  tool calls, its metrics from the call's record, `llm_call_count` 1 plus the failed
  attempts (429s, 5xx…) since the previous completed call, listed in `extra`;
- a step's `observation` holds what the next request sent back after the reply: tool
  results matched by `source_call_id`, and (for agents that act through plain text, as
  mini-swe-agent does) the new user messages, with no call id;
- `final_metrics` sums the agent steps.
"""

from __future__ import annotations

from typing import Any

from orjson import loads

from proxy.records import ModelCall
from proxy.transcripts import Message, TranscriptCall, conversation

SCHEMA_VERSION = "ATIF-v1.7"
_SOURCES = ("system", "user", "agent")


def trajectory(
    transcript: list[TranscriptCall],
    records: list[ModelCall],
    *,
    agent_name: str,
    agent_version: str,
    session_id: str,
    model_name: str | None = None,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    by_seq = {r.seq: r for r in records}
    done = [t for t in transcript if _completed(by_seq.get(t.seq)) and t.reply is not None]
    steps: list[dict[str, Any]] = []
    if done:
        for message in conversation(done[0]):
            if message.role in ("system", "developer", "user"):
                source = "user" if message.role == "user" else "system"
                steps.append({"source": source, "message": message.content or ""})
    previous = 0
    for i, call in enumerate(done):
        rec = by_seq[call.seq]
        failed = [r for r in records if previous < r.seq < call.seq and not _completed(r)]
        following = done[i + 1] if i + 1 < len(done) else None
        steps.append(_agent_step(call, rec, failed, following))
        previous = call.seq
    for n, step in enumerate(steps, start=1):
        step["step_id"] = n
    doc: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "session_id": session_id,
        "trajectory_id": session_id,
        "agent": {"name": agent_name, "version": agent_version, "model_name": model_name},
        "steps": [_ordered(s) for s in steps],
        "final_metrics": _final_metrics(steps, records),
    }
    if extra:
        doc["extra"] = extra
    return doc


def _completed(rec: ModelCall | None) -> bool:
    return rec is not None and rec.outcome == "ok"


def _agent_step(
    call: TranscriptCall, rec: ModelCall, failed: list[ModelCall], following: TranscriptCall | None
) -> dict[str, Any]:
    reply = call.reply
    assert reply is not None
    step: dict[str, Any] = {
        "timestamp": rec.ended_at.isoformat(),
        "source": "agent",
        "model_name": rec.model,
        "message": reply.content or "",
        "llm_call_count": 1 + len(failed),
        "metrics": {
            "prompt_tokens": rec.prompt_tokens,
            "completion_tokens": rec.completion_tokens,
            "cached_tokens": rec.cached_tokens,
            "extra": {"tokens_source": rec.tokens_source, "latency_ms": rec.latency_ms},
        },
        "extra": {
            "seq": rec.seq,
            "request_hash": rec.request_hash,
            "failed_attempts": [
                {"seq": f.seq, "status_code": f.status_code, "outcome": f.outcome} for f in failed
            ],
        },
    }
    if reply.reasoning:
        step["reasoning_content"] = reply.reasoning
    if reply.tool_calls:
        step["tool_calls"] = [
            {"tool_call_id": tc.id, "function_name": tc.name, "arguments": _arguments(tc.arguments)}
            for tc in reply.tool_calls
        ]
    results = _observation(following, {tc.id for tc in reply.tool_calls if tc.id})
    if results:
        step["observation"] = {"results": results}
    return step


def _observation(following: TranscriptCall | None, call_ids: set[str]) -> list[dict[str, Any]]:
    """What the next request carried after this step's reply."""
    if following is None:
        return []
    messages = conversation(following)
    last_assistant = max((i for i, m in enumerate(messages) if m.role == "assistant"), default=-1)
    new: list[Message] = messages[last_assistant + 1 :]
    results = []
    for m in new:
        if m.role == "tool" and (not call_ids or m.tool_call_id in call_ids):
            results.append({"source_call_id": m.tool_call_id, "content": m.content or ""})
        elif m.role == "user":
            results.append({"content": m.content or ""})
    return results


def _arguments(text: str) -> dict[str, Any]:
    """Tool arguments as an object (ATIF's type); text that is not a JSON object is kept."""
    try:
        value = loads(text) if text else {}
    except ValueError:
        return {"raw": text}
    return value if isinstance(value, dict) else {"value": value}


def _final_metrics(steps: list[dict[str, Any]], records: list[ModelCall]) -> dict[str, Any]:
    agent = [s["metrics"] for s in steps if s["source"] == "agent"]
    return {
        "total_prompt_tokens": sum(m["prompt_tokens"] or 0 for m in agent),
        "total_completion_tokens": sum(m["completion_tokens"] or 0 for m in agent),
        "total_cached_tokens": sum(m["cached_tokens"] or 0 for m in agent),
        "total_steps": len(steps),
        "extra": {
            "model_calls": len(records),
            "failed_calls": sum(1 for r in records if r.outcome != "ok"),
        },
    }


def _ordered(step: dict[str, Any]) -> dict[str, Any]:
    first = ("step_id", "timestamp", "source", "model_name", "message")
    return {k: step[k] for k in first if k in step} | {
        k: v for k, v in step.items() if k not in first
    }


def validate(doc: Any) -> list[str]:
    """What an ATIF v1.7 document lacks or gets wrong, against the spec's required fields
    and types; [] when it is valid."""
    problems: list[str] = []
    if not isinstance(doc, dict):
        return ["the document is not a JSON object"]
    if doc.get("schema_version") != SCHEMA_VERSION:
        problems.append(f"schema_version must be {SCHEMA_VERSION!r}")
    agent = doc.get("agent")
    if not isinstance(agent, dict):
        problems.append("agent is required (an object)")
    else:
        for name in ("name", "version"):
            if not isinstance(agent.get(name), str) or not agent.get(name):
                problems.append(f"agent.{name} is required (a string)")
    steps = doc.get("steps")
    if not isinstance(steps, list):
        return [*problems, "steps is required (a list)"]
    for n, step in enumerate(steps, start=1):
        problems.extend(_step_problems(n, step))
    return problems


def _step_problems(n: int, step: Any) -> list[str]:
    where = f"steps[{n - 1}]"
    if not isinstance(step, dict):
        return [f"{where} is not an object"]
    problems = []
    if step.get("step_id") != n:
        problems.append(f"{where}.step_id must be {n} (1-based, in order)")
    if step.get("source") not in _SOURCES:
        problems.append(f"{where}.source must be one of {_SOURCES}")
    if not isinstance(step.get("message"), str):
        problems.append(f"{where}.message is required (a string, may be empty)")
    for tc in step.get("tool_calls") or []:
        if not isinstance(tc.get("function_name"), str) or not isinstance(
            tc.get("arguments"), dict
        ):
            problems.append(f"{where}.tool_calls need function_name (string), arguments (object)")
    observation = step.get("observation")
    if observation is not None and not isinstance(observation.get("results"), list):
        problems.append(f"{where}.observation.results must be a list")
    metrics = step.get("metrics") or {}
    for key in ("prompt_tokens", "completion_tokens", "cached_tokens"):
        value = metrics.get(key)
        if value is not None and (not isinstance(value, int) or value < 0):
            problems.append(f"{where}.metrics.{key} must be a non-negative integer")
    return problems
