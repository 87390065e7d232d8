"""Wire transcripts: what each call sent and what it got back, as data.

The proxy keeps, per call, the request body and the reply (for streams, the assembled
message) in `transcript.jsonl.gz` beside the call records (`proxy.capture` writes it).
Agents resend their whole history (and their tools) every turn, so messages and request
settings are stored once each, by content hash, and a call lists the hashes it sent. The file is a run of
gzip members, one per call, so a crash loses at most the call being written.

Lines (JSON, one per line, inside the gzip members):
  {"t": "m", "h": HASH, "m": MESSAGE}   a message not stored before in this file
  {"t": "r", "h": HASH, "r": REQUEST}   a request less its messages, not stored before
  {"t": "c", "seq": …, "messages": [HASH, …], "request_h": HASH, "reply": {…}, "raw": {…}}
(a call cut by a cap, and files written before request dedup, keep "request" inline)

This module is data only (models and a reader), so the runner, scorer and report can
read transcripts without the proxy's server code.
"""

from __future__ import annotations

import zlib
from pathlib import Path
from typing import Any

from orjson import loads
from pydantic import BaseModel, Field

TRANSCRIPT_FILE = "transcript.jsonl.gz"


class ToolCall(BaseModel):
    id: str | None = None
    name: str | None = None
    arguments: str = ""

    @classmethod
    def untrusted(cls, call_id: Any, name: Any, arguments: Any) -> ToolCall:
        """From a provider's or an agent's JSON, whatever its types: a field that is not
        text is left empty."""
        args = text_or_none(arguments) or ""
        return cls(id=text_or_none(call_id), name=text_or_none(name), arguments=args)


def text_or_none(value: Any) -> str | None:
    """A text field of untrusted JSON: itself when it is text, else None."""
    return value if isinstance(value, str) else None


class AssembledReply(BaseModel):
    """The model's answer to one call, assembled from what the client received."""

    content: str | None = None
    reasoning: str | None = None
    tool_calls: list[ToolCall] = Field(default_factory=list)
    finish_reason: str | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    cached_tokens: int | None = None
    reasoning_tokens: int | None = None
    error: str | None = None


class RawResponse(BaseModel):
    """The reply's bytes as the client got them (decoded), for replay."""

    status: int
    content_type: str | None = None
    body: str = ""
    #: the body was not UTF-8 and is kept as latin-1 text (byte for byte)
    latin1: bool = False

    def data(self) -> bytes:
        return self.body.encode("latin-1" if self.latin1 else "utf-8")


class TranscriptCall(BaseModel):
    seq: int
    session: str | None = None
    request_hash: str | None = None
    api: str = "chat"
    stream: bool = False
    #: the request body without its message list (model, tools, settings…)
    request: dict[str, Any] = Field(default_factory=dict)
    #: the message list as sent (chat `messages` or Responses `input` items; an agent
    #: may send items that are not objects, kept as they were for replay)
    messages: list[Any] = Field(default_factory=list)
    reply: AssembledReply | None = None
    raw: RawResponse | None = None
    #: why part of this call was not kept (a size cap), else None
    truncated: str | None = None


class Message(BaseModel):
    """One message of a conversation, the same shape for chat and Responses."""

    role: str
    content: str | None = None
    tool_calls: list[ToolCall] = Field(default_factory=list)
    tool_call_id: str | None = None
    name: str | None = None


def read_transcript(directory: Path) -> list[TranscriptCall]:
    """Every call kept in DIRECTORY's transcript, by seq; [] when there is none.

    A file cut by a crash yields the calls written before the cut."""
    path = Path(directory) / TRANSCRIPT_FILE
    if not path.is_file():
        return []
    messages: dict[str, dict[str, Any]] = {}
    requests: dict[str, dict[str, Any]] = {}
    calls: list[TranscriptCall] = []
    for line in _lines(path):
        if line.get("t") == "m":
            messages[line["h"]] = line["m"]
        elif line.get("t") == "r":
            requests[line["h"]] = line["r"]
        elif line.get("t") == "c":
            hashes = line.pop("messages", [])
            line["messages"] = [
                messages.get(h, {"role": "?", "content": "(missing)"}) for h in hashes
            ]
            if "request_h" in line:  # else inline, as files before request dedup kept it
                line["request"] = requests.get(line.pop("request_h"), {})
            line.pop("t", None)
            calls.append(TranscriptCall.model_validate(line))
    return sorted(calls, key=lambda c: c.seq)


def _lines(path: Path) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for raw in inflate(path.read_bytes()).split(b"\n"):
        try:
            line = loads(raw) if raw else None
        except ValueError:
            break  # a line cut by a crash: keep what came before it
        if isinstance(line, dict):
            out.append(line)
    return out


def inflate(data: bytes, chunk: int = 1 << 16) -> bytes:
    """The text of a transcript file: one gzip stream flushed per call (its trailer is
    missing while a session is open, or after a crash), or several gzip members. What
    decodes is returned; a corrupt or cut tail is left out."""
    out: list[bytes] = []
    while data:
        z = zlib.decompressobj(31)
        for i in range(0, len(data), chunk):
            try:
                out.append(z.decompress(data[i : i + chunk]))
            except zlib.error:
                return b"".join(out)
            if z.eof:
                break
        if not z.eof:
            break
        data = z.unused_data
    return b"".join(out)


def conversation(call: TranscriptCall) -> list[Message]:
    """The messages a call sent, normalised (system, user, assistant, tool)."""
    out: list[Message] = []
    instructions = call.request.get("instructions")
    if isinstance(instructions, str) and instructions:
        out.append(Message(role="system", content=instructions))
    prompt = call.request.get("input")
    if isinstance(prompt, str):
        out.append(Message(role="user", content=prompt))
    for item in call.messages:
        out.extend(_normalise(item))
    return out


def reply_message(reply: AssembledReply) -> Message:
    return Message(role="assistant", content=reply.content, tool_calls=reply.tool_calls)


def _normalise(item: Any) -> list[Message]:
    if not isinstance(item, dict):  # an item that is not a message: shown as its text
        return [Message(role="user", content=_text(item) or None)]
    kind = item.get("type")
    if kind == "function_call":
        args = _text(item.get("arguments"))
        call = ToolCall.untrusted(item.get("call_id"), item.get("name"), args)
        return [Message(role="assistant", tool_calls=[call])]
    if kind == "function_call_output":
        out = _text(item.get("output"))
        return [Message(role="tool", content=out, tool_call_id=text_or_none(item.get("call_id")))]
    if kind == "reasoning":
        return []
    calls = [
        ToolCall.untrusted(
            tc.get("id"), _function(tc).get("name"), _text(_function(tc).get("arguments"))
        )
        for tc in item.get("tool_calls") or []
        if isinstance(tc, dict)
    ]
    return [
        Message(
            role=str(item.get("role") or "user"),
            content=_text(item.get("content")) or None,
            tool_calls=calls,
            tool_call_id=text_or_none(item.get("tool_call_id")),
            name=text_or_none(item.get("name")),
        )
    ]


def _function(tool_call: dict[str, Any]) -> dict[str, Any]:
    fn = tool_call.get("function")
    return fn if isinstance(fn, dict) else {}


def _text(value: Any) -> str:
    """A message's content as text: strings as they are, content parts joined."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        parts = []
        for part in value:
            if isinstance(part, dict):
                text = part.get("text") or part.get("output") or part.get("content")
                parts.append(text if isinstance(text, str) else f"[{part.get('type', 'part')}]")
            elif isinstance(part, str):
                parts.append(part)
        return "\n".join(parts)
    return str(value)


def last_words(calls: list[TranscriptCall], limit: int = 2000) -> tuple[str | None, str | None]:
    """The last thing the model said (its text, else its tool calls) and the last tool
    result the agent sent it, before the run ended: what a failed cell's reader asks first."""
    said: str | None = None
    saw: str | None = None
    for call in calls:
        for m in conversation(call)[1:]:
            if m.role == "tool" or (m.role == "user" and said is not None):
                saw = m.content
        reply = call.reply
        if reply is not None and (reply.content or reply.tool_calls):
            tools = "; ".join(f"{t.name}({t.arguments})" for t in reply.tool_calls)
            said = reply.content or tools
    return _clip(said, limit), _clip(saw, limit)


def _clip(text: str | None, limit: int) -> str | None:
    if text is None or len(text) <= limit:
        return text
    return text[:limit] + f" … ({len(text) - limit:,} more characters)"
