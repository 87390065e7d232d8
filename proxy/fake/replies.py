"""Reply bodies and SSE events in the OpenAI shapes: chat completions and Responses.

Pure functions from a `Turn` to bytes, so the app only decides *which* reply and when.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator
from typing import Any

from proxy.fake.scripts import Turn

CREATED = 1_700_000_000  # fixed: replies are deterministic


def estimate(chars: int) -> int:
    return max(1, math.ceil(chars / 4))


def usage_counts(prompt: Any, turn: Turn) -> tuple[int, int]:
    """Deterministic (prompt, completion) token counts: ~4 characters a token of the
    prompt's JSON (messages or input; not transport fields) and of the reply."""
    out = len(turn.content or "") + sum(len(n) + len(a) for n, a in turn.tool_calls)
    return estimate(len(json.dumps(prompt))), estimate(out)


def chat_usage(prompt: int, completion: int) -> dict[str, Any]:
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "prompt_tokens_details": {"cached_tokens": 0},
        "completion_tokens_details": {"reasoning_tokens": 0},
    }


def responses_usage(prompt: int, completion: int) -> dict[str, Any]:
    return {
        "input_tokens": prompt,
        "input_tokens_details": {"cached_tokens": 0},
        "output_tokens": completion,
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": prompt + completion,
    }


def call_id(turn_index: int, i: int) -> str:
    return f"call_{turn_index}_{i}"


def pieces(text: str, max_pieces: int = 16) -> list[str]:
    """Split text into word-ish stream deltas (at most max_pieces)."""
    words = re.findall(r"\S+\s*|\s+", text) or [text]
    size = max(1, math.ceil(len(words) / max_pieces))
    return ["".join(words[i : i + size]) for i in range(0, len(words), size)]


# -- chat completions ------------------------------------------------------------------


def chat_body(model: str, turn: Turn, t: int, usage: dict | None) -> bytes:
    message: dict[str, Any] = {"role": "assistant", "content": turn.content}
    if turn.tool_calls:
        message["tool_calls"] = [
            {"id": call_id(t, i), "type": "function", "function": {"name": n, "arguments": a}}
            for i, (n, a) in enumerate(turn.tool_calls)
        ]
    body: dict[str, Any] = {
        "id": f"chatcmpl-fake-{t}",
        "object": "chat.completion",
        "created": CREATED,
        "model": model,
        "choices": [
            {"index": 0, "message": message, "finish_reason": turn.finish_reason, "logprobs": None}
        ],
    }
    if usage is not None:
        body["usage"] = usage
    return json.dumps(body).encode()


def chat_events(
    model: str, turn: Turn, t: int, usage: dict | None, max_pieces: int = 16
) -> Iterator[bytes]:
    """`data: {chunk}` events, then the usage-only chunk if asked for, then [DONE]."""
    head = {
        "id": f"chatcmpl-fake-{t}",
        "object": "chat.completion.chunk",
        "created": CREATED,
        "model": model,
    }

    def chunk(delta: dict, finish: str | None = None) -> bytes:
        c = {**head, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
        return b"data: " + json.dumps(c).encode() + b"\n\n"

    yield chunk({"role": "assistant", "content": ""})
    for piece in pieces(turn.content, max_pieces) if turn.content else ():
        yield chunk({"content": piece})
    for i, (name, args) in enumerate(turn.tool_calls):
        fn = {"name": name, "arguments": ""}
        yield chunk(
            {"tool_calls": [{"index": i, "id": call_id(t, i), "type": "function", "function": fn}]}
        )
        yield chunk({"tool_calls": [{"index": i, "function": {"arguments": args}}]})
    yield chunk({}, turn.finish_reason)
    if usage is not None:
        yield b"data: " + json.dumps({**head, "choices": [], "usage": usage}).encode() + b"\n\n"
    yield b"data: [DONE]\n\n"


# -- Responses API ---------------------------------------------------------------------


def _output_items(turn: Turn, t: int) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    if turn.content is not None:
        items.append(
            {
                "id": f"msg_{t}",
                "type": "message",
                "status": "completed",
                "role": "assistant",
                "content": [{"type": "output_text", "text": turn.content, "annotations": []}],
            }
        )
    for i, (name, args) in enumerate(turn.tool_calls):
        items.append(
            {
                "id": f"fc_{t}_{i}",
                "type": "function_call",
                "status": "completed",
                "call_id": call_id(t, i),
                "name": name,
                "arguments": args,
            }
        )
    return items


def response_object(
    model: str, turn: Turn, t: int, usage: dict | None, status: str = "completed"
) -> dict:
    return {
        "id": f"resp_fake_{t}",
        "object": "response",
        "created_at": CREATED,
        "status": status,
        "model": model,
        "output": _output_items(turn, t) if status == "completed" else [],
        "incomplete_details": None,
        "error": None,
        "parallel_tool_calls": True,
        "tool_choice": "auto",
        "tools": [],
        "usage": usage,
    }


def responses_body(model: str, turn: Turn, t: int, usage: dict | None) -> bytes:
    return json.dumps(response_object(model, turn, t, usage)).encode()


def responses_events(model: str, turn: Turn, t: int, usage: dict | None) -> Iterator[bytes]:
    """Typed events: `event: response.output_text.delta` ... `event: response.completed`."""
    seq = 0

    def event(kind: str, **data: Any) -> bytes:
        nonlocal seq
        seq += 1
        payload = {"type": kind, "sequence_number": seq, **data}
        return f"event: {kind}\ndata: ".encode() + json.dumps(payload).encode() + b"\n\n"

    yield event("response.created", response=response_object(model, turn, t, None, "in_progress"))
    yield event(
        "response.in_progress", response=response_object(model, turn, t, None, "in_progress")
    )
    for idx, item in enumerate(_output_items(turn, t)):
        if item["type"] == "message":
            text = item["content"][0]["text"]
            yield event("response.output_item.added", output_index=idx,
                        item={**item, "status": "in_progress", "content": []})  # fmt: skip
            part = {"type": "output_text", "text": "", "annotations": []}
            ids = {"item_id": item["id"], "output_index": idx, "content_index": 0}
            yield event("response.content_part.added", **ids, part=part)
            for piece in pieces(text) if text else ():
                yield event("response.output_text.delta", **ids, delta=piece, logprobs=[])
            yield event("response.output_text.done", **ids, text=text, logprobs=[])
            yield event("response.content_part.done", **ids, part={**part, "text": text})
        else:
            yield event("response.output_item.added", output_index=idx,
                        item={**item, "status": "in_progress", "arguments": ""})  # fmt: skip
            ids = {"item_id": item["id"], "output_index": idx}
            yield event("response.function_call_arguments.delta", **ids, delta=item["arguments"])
            yield event("response.function_call_arguments.done", **ids,
                        arguments=item["arguments"], name=item["name"])  # fmt: skip
        yield event("response.output_item.done", output_index=idx, item=item)
    yield event("response.completed", response=response_object(model, turn, t, usage))
