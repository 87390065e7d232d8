"""Writes wire transcripts (see proxy.transcripts for the format) as calls end.

One `TranscriptWriter` per session folder. The file is one gzip stream, written through
one compressor for the whole cell and flushed (Z_SYNC_FLUSH) at the end of every call:
each call adds the messages and the request settings (tools, instructions…) not stored
before (by content hash) and the call's line, so the file grows by what changed,
compression sees across calls, and everything up to the last finished call is readable
even if the proxy dies before `close()` writes the stream's trailer. Keys are redacted
from every line before
it is written; a call larger than the per-call cap, or a cell past its per-cell cap,
keeps a marker saying what was left out.
"""

from __future__ import annotations

import hashlib
import threading
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Literal

from proxy.assemble import assemble
from proxy.hashing import json_bytes
from proxy.transcripts import TRANSCRIPT_FILE, RawResponse

#: defaults: a call's request and reply together, and a whole cell's transcript
CALL_CAP_BYTES = 8 * 1024 * 1024
CELL_CAP_BYTES = 256 * 1024 * 1024
#: message hashes remembered per file, per generation (two are kept): a long-running
#: proxy stays flat in memory (~4 MB at most) and still dedups what agents resend
SEEN_LIMIT = 16_384
#: the request fields that carry the conversation, stored message by message
_MESSAGE_FIELDS = ("messages", "input")


@dataclass
class CapturedCall:
    """What the forward path hands over when a call ends."""

    seq: int
    request_hash: str | None
    api: str
    stream: bool
    body: dict[str, Any] | None
    status: int | None
    content_type: str | None
    response: bytes
    #: the response bytes were cut at the per-call cap while they streamed
    response_cut: bool = False
    session: str | None = None
    #: the provider's usage as recorded (a stream's usage chunk may not reach the client)
    usage: dict[str, int | None] | None = None
    #: this call's keys (the provider's, the session's) scrubbed from every line written
    redact: Callable[[str], str] | None = None


@dataclass
class CaptureStats:
    calls: int = 0
    #: what the bodies would take as plain JSON, one copy per call
    logical_bytes: int = 0
    #: what the file takes on disk (deduplicated and compressed)
    stored_bytes: int = 0


class TranscriptWriter:
    def __init__(
        self,
        directory: Path,
        redact: Callable[[str], str] | None = None,
        call_cap: int = CALL_CAP_BYTES,
        cell_cap: int = CELL_CAP_BYTES,
        seen_limit: int = SEEN_LIMIT,
    ) -> None:
        self.path = Path(directory) / TRANSCRIPT_FILE
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.redact = redact
        self.call_cap, self.cell_cap = call_cap, cell_cap
        self.stats = CaptureStats()
        self._seen = RecentKeys(seen_limit)
        self._lock = threading.Lock()
        self._fh: BinaryIO | None = None
        #: one gzip stream for the cell (wbits 31: gzip header and trailer)
        self._z = zlib.compressobj(6, zlib.DEFLATED, 31)

    def write(self, call: CapturedCall) -> None:
        with self._lock:
            lines, logical = self._lines(call)
            text = "\n".join(lines) + "\n"
            for scrub in (self.redact, call.redact):
                if scrub is not None:
                    text = scrub(text)
            data = self._z.compress(text.encode()) + self._z.flush(zlib.Z_SYNC_FLUSH)
            if self._fh is None:
                self._fh = self.path.open("ab")
            self._fh.write(data)
            self._fh.flush()
            self.stats.calls += 1
            self.stats.logical_bytes += logical
            self.stats.stored_bytes += len(data)

    def close(self) -> None:
        """Finish the gzip stream (its trailer); later writes start a new one."""
        with self._lock:
            if self._fh is not None:
                self._fh.write(self._z.flush())
                self._fh.close()
                self._fh = None
                self._z = zlib.compressobj(6, zlib.DEFLATED, 31)

    def _lines(self, call: CapturedCall) -> tuple[list[str], int]:
        head = {"t": "c", "seq": call.seq, "request_hash": call.request_hash}
        head |= {"api": call.api, "stream": call.stream, "session": call.session}
        if self.stats.stored_bytes >= self.cell_cap:
            marker = f"per-cell cap of {self.cell_cap} bytes reached: bodies not kept"
            return [_json(head | {"truncated": marker})], 0
        body = dict(call.body or {})
        items = {f: body.pop(f) for f in _MESSAGE_FIELDS if isinstance(body.get(f), list)}
        raw = _raw(call)
        reply = assemble(call.api, call.response, stream=call.stream) if call.status else None
        if reply is not None and call.usage and reply.prompt_tokens is None:
            reply = reply.model_copy(update=call.usage)
        # each message and the settings are written to JSON once: sized, hashed, stored
        texts = [_json(m) for v in items.values() for m in v]
        settings = _json(body)
        logical = len(call.response) + sum(map(len, texts))
        line: dict[str, Any] = head | {"request": body, "raw": raw.model_dump()}
        line["reply"] = reply.model_dump(exclude_defaults=True) if reply else None
        if call.response_cut:
            line["truncated"] = f"per-call cap of {self.call_cap} bytes: the reply was cut"
        if logical + len(settings) > self.call_cap:
            line |= {"raw": None, "truncated": f"per-call cap of {self.call_cap} bytes reached"}
            return [_json(line)], logical
        out: list[str] = []
        hashes = [self._once(out, "m", text) for text in texts]
        del line["request"]  # the tools and instructions agents resend every turn: once
        line["request_h"] = self._once(out, "r", settings)
        out.append(_json(line | {"messages": hashes}))
        return out, logical + len(settings)

    def _once(self, out: list[str], kind: Literal["m", "r"], text: str) -> str:
        """The hash of TEXT (a value as `_json` writes it); its line, what
        `_json({"t": KIND, "h": …, KIND: value})` writes, is appended to OUT the first time
        this file sees it."""
        digest = hashlib.sha256(text.encode()).hexdigest()[:32]
        if self._seen.add(kind + digest):  # forgotten: stored twice costs bytes, not memory
            out.append(f'{{"h":"{digest}","{kind}":{text},"t":"{kind}"}}')  # keys sorted
        return digest


class RecentKeys:
    """A set that remembers the keys added lately, in bounded memory: two generations of
    at most `limit` keys each; when the newer fills, the older is dropped whole. A key
    seen again is moved into the newer one, so what agents resend every turn (tools,
    the system prompt, the conversation so far) is never forgotten while in use."""

    def __init__(self, limit: int) -> None:
        self.limit = max(1, limit)
        self._new: set[str] = set()
        self._old: set[str] = set()

    def add(self, key: str) -> bool:
        """Remember `key`; True when it was not remembered (new, or forgotten)."""
        if key in self._new:
            return False
        fresh = key not in self._old
        self._new.add(key)
        if len(self._new) >= self.limit:
            self._old, self._new = self._new, set()
        return fresh

    def held(self) -> int:
        """Keys in memory now (a moved key counts twice): never more than 2 * limit."""
        return len(self._new) + len(self._old)


def _raw(call: CapturedCall) -> RawResponse:
    try:
        return RawResponse(
            status=call.status or 0, content_type=call.content_type, body=call.response.decode()
        )
    except UnicodeDecodeError:
        return RawResponse(
            status=call.status or 0,
            content_type=call.content_type,
            body=call.response.decode("latin-1"),
            latin1=True,
        )


def _json(value: Any) -> str:
    return json_bytes(value, sort_keys=True).decode()
