"""Assemble what the model answered from the bytes the client received.

Pure functions over a whole reply: a streamed one (SSE, chat `choices[].delta` chunks
or Responses `response.*` events) or a JSON body. The result is one `AssembledReply`:
text, reasoning, tool calls with their arguments, finish reason and the provider's usage.
Used off the hot path, once per call, when a transcript is kept.
"""

from __future__ import annotations

from typing import Any

from orjson import loads

from proxy.transcripts import AssembledReply, ToolCall, text_or_none


def assemble(api: str, body: bytes, *, stream: bool) -> AssembledReply:
    """The reply carried by `body` (SSE when `stream`, else JSON). Never raises: a
    provider's JSON is untrusted, and a value of the wrong type only leaves `error` set."""
    try:
        return _assemble(api, body, stream)
    except (AttributeError, TypeError, KeyError) as exc:
        return AssembledReply(error=f"reply of an unexpected shape ({type(exc).__name__}: {exc})")


def _assemble(api: str, body: bytes, stream: bool) -> AssembledReply:
    if stream:
        events = list(_sse_events(body))
        if api == "responses":
            return _responses_stream(events)
        return _chat_stream(events)
    try:
        data = loads(body) if body else None
    except ValueError:
        return AssembledReply(error="reply is not JSON")
    if not isinstance(data, dict):
        return AssembledReply(error="reply is not a JSON object")
    if api == "responses":
        return _responses_object(data)
    return _chat_object(data)


def _sse_events(body: bytes) -> Any:
    for block in body.replace(b"\r\n", b"\n").replace(b"\r", b"\n").split(b"\n\n"):
        data = b"".join(
            line[5:].lstrip() for line in block.split(b"\n") if line.startswith(b"data:")
        )
        if not data or data == b"[DONE]":
            continue
        try:
            event = loads(data)
        except ValueError:
            continue
        if isinstance(event, dict):
            yield event


def _usage(reply: AssembledReply, usage: Any) -> None:
    if not isinstance(usage, dict):
        return
    reply.prompt_tokens = _int(usage, "prompt_tokens", "input_tokens")
    reply.completion_tokens = _int(usage, "completion_tokens", "output_tokens")
    details_in = usage.get("prompt_tokens_details") or usage.get("input_tokens_details") or {}
    details_out = usage.get("completion_tokens_details") or usage.get("output_tokens_details")
    reply.cached_tokens = (
        _int(details_in, "cached_tokens") if isinstance(details_in, dict) else None
    )
    if isinstance(details_out, dict):
        reply.reasoning_tokens = _int(details_out, "reasoning_tokens")


def _int(d: dict[str, Any], *names: str) -> int | None:
    for name in names:
        value = d.get(name)
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    return None


def _chat_stream(events: list[dict[str, Any]]) -> AssembledReply:
    reply = AssembledReply()
    text: list[str] = []
    reasoning: list[str] = []
    calls: dict[int, dict[str, Any]] = {}
    for event in events:
        if "error" in event and not event.get("choices"):
            reply.error = str(event["error"])[:500]
        _usage(reply, event.get("usage"))
        for choice in event.get("choices") or []:
            delta = choice.get("delta") or {}
            if isinstance(delta.get("content"), str):
                text.append(delta["content"])
            for key in ("reasoning_content", "reasoning"):
                if isinstance(delta.get(key), str):
                    reasoning.append(delta[key])
            for tc in delta.get("tool_calls") or []:
                slot = calls.setdefault(tc.get("index", len(calls)), {"arguments": ""})
                if text_or_none(tc.get("id")):
                    slot["id"] = tc["id"]
                fn = tc.get("function") or {}
                if text_or_none(fn.get("name")):
                    slot["name"] = fn["name"]
                if isinstance(fn.get("arguments"), str):
                    slot["arguments"] += fn["arguments"]
            if text_or_none(choice.get("finish_reason")):
                reply.finish_reason = choice["finish_reason"]
    reply.content = "".join(text) or None
    reply.reasoning = "".join(reasoning) or None
    reply.tool_calls = [ToolCall(**calls[i]) for i in sorted(calls)]
    return reply


def _chat_object(data: dict[str, Any]) -> AssembledReply:
    reply = AssembledReply()
    if "error" in data and not data.get("choices"):
        reply.error = str(data["error"])[:500]
    _usage(reply, data.get("usage"))
    choices = data.get("choices") or []
    if choices and isinstance(choices[0], dict):
        choice = choices[0]
        message = choice.get("message") or {}
        reply.finish_reason = text_or_none(choice.get("finish_reason"))
        reply.content = text_or_none(message.get("content"))
        reply.reasoning = text_or_none(message.get("reasoning_content") or message.get("reasoning"))
        for tc in message.get("tool_calls") or []:
            fn = tc.get("function") or {}
            reply.tool_calls.append(
                ToolCall.untrusted(tc.get("id"), fn.get("name"), fn.get("arguments"))
            )
    return reply


def _responses_stream(events: list[dict[str, Any]]) -> AssembledReply:
    """The terminal event carries the whole response; without one, the deltas."""
    terminal = ("response.completed", "response.incomplete", "response.failed")
    for event in reversed(events):
        if event.get("type") in terminal and isinstance(event.get("response"), dict):
            return _responses_object(event["response"])
    reply = AssembledReply()
    text = [e.get("delta", "") for e in events if e.get("type") == "response.output_text.delta"]
    reply.content = "".join(t for t in text if isinstance(t, str)) or None
    reply.error = "stream ended without a final response event"
    return reply


def _responses_object(data: dict[str, Any]) -> AssembledReply:
    reply = AssembledReply()
    _usage(reply, data.get("usage"))
    if data.get("error"):
        reply.error = str(data["error"])[:500]
    text: list[str] = []
    reasoning: list[str] = []
    for item in data.get("output") or []:
        kind = item.get("type")
        if kind == "message":
            for part in item.get("content") or []:
                if isinstance(part.get("text"), str):
                    text.append(part["text"])
        elif kind == "function_call":
            call_id = item.get("call_id") or item.get("id")
            reply.tool_calls.append(
                ToolCall.untrusted(call_id, item.get("name"), item.get("arguments"))
            )
        elif kind == "reasoning":
            for part in item.get("summary") or item.get("content") or []:
                if isinstance(part.get("text"), str):
                    reasoning.append(part["text"])
    reply.content = "".join(text) or None
    reply.reasoning = "\n".join(reasoning) or None
    reply.finish_reason = "tool_calls" if reply.tool_calls else text_or_none(data.get("status"))
    return reply
