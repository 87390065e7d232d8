"""The conversation view's data: what each model call sent and got, from the wire transcript.

For each call kept in the cell's `transcript.jsonl.gz`: its messages in order (system,
user, assistant, tool calls with their arguments, tool results), which of them are new
since the previous call (agents resend the whole history, so the new ones are what
changed), and the reply. The page renders this with autoescaping only: agent output is
untrusted text.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from orjson import OPT_SORT_KEYS, dumps

from proxy.transcripts import Message, TranscriptCall, conversation, read_transcript

#: characters of one message shown on the page (the transcript keeps them all)
SHOW_CHARS = 20_000


def conversation_view(cell_dir: Path) -> list[dict[str, Any]]:
    """One entry per recorded call, in seq order; [] when the cell kept no transcript."""
    view = []
    seen: set[bytes] = set()
    for call in read_transcript(cell_dir):
        messages = conversation(call)
        keys = [_key(m) for m in messages]
        view.append(
            {
                "seq": call.seq,
                "stream": call.stream,
                "truncated": call.truncated,
                "status": call.raw.status if call.raw else None,
                "messages": [
                    _message(m, k not in seen) for m, k in zip(messages, keys, strict=True)
                ],
                "reply": _reply(call),
            }
        )
        seen.update(keys)
    return view


def _key(m: Message) -> bytes:
    return dumps(m.model_dump(), option=OPT_SORT_KEYS)


def _message(m: Message, new: bool) -> dict[str, Any]:
    return {
        "role": m.role,
        "content": _cut(m.content),
        "tool_calls": [{"name": t.name, "arguments": _cut(t.arguments)} for t in m.tool_calls],
        "tool_call_id": m.tool_call_id,
        "new": new,
    }


def _reply(call: TranscriptCall) -> dict[str, Any] | None:
    r = call.reply
    if r is None:
        return None
    return {
        "content": _cut(r.content),
        "reasoning": _cut(r.reasoning),
        "tool_calls": [{"name": t.name, "arguments": _cut(t.arguments)} for t in r.tool_calls],
        "finish_reason": r.finish_reason,
        "error": r.error,
    }


def _cut(text: str | None) -> str | None:
    if text is None or len(text) <= SHOW_CHARS:
        return text
    return text[:SHOW_CHARS] + f"\n… ({len(text) - SHOW_CHARS:,} more characters in the transcript)"
