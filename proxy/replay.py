"""Replay: the proxy answers a session from a recorded cell instead of the provider.

A `ReplayBook` is built from a cell's wire transcript. Strict mode serves a recorded reply
only to a request with the same identity as a recorded one: the same body (the request
hash's canonical JSON, transport fields left out) and the same stream flag. Identical
requests recorded more than once (a 429 and its retry) are served in recorded order.
An adapter may name per-run fields its CLI puts in requests (a cache key, a session id):
they are left out of both sides before comparing, so strict then means identical after
that normalisation. A request with no recorded match raises `ReplayMiss`, recorded as
`replay_miss`, naming the first difference from the next recorded call: never a silent
substitute.

The book hands the relay an in-memory `LocalResponse` that reads like aiohttp's, so a
replayed reply is observed and recorded exactly as a live one.
"""

from __future__ import annotations

import asyncio
import re
import threading
from collections import deque
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from time import perf_counter
from typing import Any

from multidict import CIMultiDict, CIMultiDictProxy

from proxy.errors import ProxyError
from proxy.hashing import TRANSPORT_FIELDS, request_hash
from proxy.records import Outcome
from proxy.transcripts import RawResponse, TranscriptCall

#: the request field each API keeps its conversation in (transcripts store it apart)
_MESSAGES = {"chat": "messages", "responses": "input"}
#: the chunk size a replayed stream is handed over in
_CHUNK = 4096


class ReplayMiss(ProxyError):
    """No recorded reply for this request: the run diverged from the recording."""

    status = 400
    type = "invalid_request_error"
    code = "replay_miss"
    outcome: Outcome = "replay_miss"


@dataclass
class _Entry:
    seq: int
    body: dict[str, Any]
    raw: RawResponse
    latency_s: float = 0.0


@dataclass
class ReplayBook:
    """The recorded replies of one cell, ready to serve (thread-safe)."""

    calls: list[_Entry]
    normalise: tuple[str, ...] = ()
    real_time: bool = False
    #: (regex, replacement) applied to every string of a request before comparing: the
    #: per-run text a CLI writes into messages (a random id, a timing)
    rewrite: tuple[tuple[str, str], ...] = ()
    _queues: dict[tuple[str, bool], deque[_Entry]] = field(default_factory=dict)
    _served: set[int] = field(default_factory=set)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def from_transcript(
        cls,
        calls: Iterable[TranscriptCall],
        normalise: Iterable[str] = (),
        real_time: bool = False,
        latencies_ms: dict[int, float] | None = None,
        rewrite: Iterable[tuple[str, str]] = (),
    ) -> ReplayBook:
        entries = []
        for call in sorted(calls, key=lambda c: c.seq):
            if call.raw is None or call.truncated:
                continue  # nothing to serve: a request that matches it will miss, loudly
            body = dict(call.request)
            if call.messages or call.api in _MESSAGES:
                body.setdefault(_MESSAGES.get(call.api, "messages"), call.messages)
            latency = (latencies_ms or {}).get(call.seq, 0.0) / 1000
            entries.append(_Entry(call.seq, body, call.raw, latency))
        book = cls(entries, tuple(normalise), real_time, tuple(rewrite))
        for entry in entries:
            book._queues.setdefault(book._key(entry.body), deque()).append(entry)
        return book

    def _key(self, body: dict[str, Any]) -> tuple[str, bool]:
        return request_hash(self.comparable(body)), body.get("stream") is True

    def comparable(self, body: dict[str, Any]) -> dict[str, Any]:
        """The body as compared: normalised paths dropped, per-run text rewritten."""
        kept = _without(body, self.normalise)
        if not self.rewrite:
            return kept
        patterns = [(re.compile(p), r) for p, r in self.rewrite]
        return _rewritten(kept, patterns)

    def take(self, body: dict[str, Any] | None) -> _Entry:
        """The recorded call this request replays; ReplayMiss when there is none."""
        body = body or {}
        with self._lock:
            queue = self._queues.get(self._key(body))
            if queue:
                entry = queue.popleft()
                self._served.add(entry.seq)
                return entry
            expected = _nearest(body, [e for e in self.calls if e.seq not in self._served])
        raise ReplayMiss(_miss_message(body, expected, self))

    async def reply(self, body: dict[str, Any] | None) -> tuple[_Entry, LocalResponse]:
        entry = self.take(body)
        if self.real_time and entry.latency_s > 0:
            await asyncio.sleep(entry.latency_s)
        return entry, LocalResponse(entry.raw)


def _nearest(body: dict[str, Any], unserved: list[_Entry]) -> _Entry | None:
    """The recorded call this request most likely meant to repeat: same stream flag, then
    as many messages (the same turn: a request that is a prefix of a later turn's is not
    that turn), then the longest run of equal messages, then the earliest."""

    def score(entry: _Entry) -> tuple[bool, bool, int, int]:
        field_name = next((f for f in _MESSAGES.values() if f in entry.body), "messages")
        mine, theirs = body.get(field_name) or [], entry.body.get(field_name) or []
        same = 0
        for a, b in zip(mine, theirs, strict=False):
            if a != b:
                break
            same += 1
        stream = bool(body.get("stream")) == bool(entry.body.get("stream"))
        return stream, len(mine) == len(theirs), same, -entry.seq

    return max(unserved, key=score, default=None)


def _without(body: dict[str, Any], paths: Iterable[str]) -> dict[str, Any]:
    """The body less transport fields and the normalised paths: dotted keys, `*` for every
    item of a list (or value of an object), e.g. `metadata.id` or `input.*.id`. The
    caller's body is never changed: a branch is copied before a key is dropped from it."""
    out = {k: v for k, v in body.items() if k not in TRANSPORT_FIELDS}
    for path in paths:
        out = _drop(out, path.split("."))
    return out


def _rewritten(node: Any, patterns: list[tuple[re.Pattern[str], str]]) -> Any:
    if isinstance(node, str):
        for pattern, replacement in patterns:
            node = pattern.sub(replacement, node)
        return node
    if isinstance(node, list):
        return [_rewritten(item, patterns) for item in node]
    if isinstance(node, dict):
        return {k: _rewritten(v, patterns) for k, v in node.items()}
    return node


def _drop(node: Any, parts: list[str]) -> Any:
    """NODE without the key at PARTS (a copy where something was dropped, else NODE)."""
    head, rest = parts[0], parts[1:]
    if head == "*":
        if isinstance(node, list):
            return [_drop(item, rest) if rest else item for item in node]
        if isinstance(node, dict) and rest:
            return {k: _drop(v, rest) for k, v in node.items()}
        return node
    if not isinstance(node, dict) or head not in node:
        return node
    if not rest:
        return {k: v for k, v in node.items() if k != head}
    return {**node, head: _drop(node[head], rest)}


def _miss_message(body: dict[str, Any], expected: _Entry | None, book: ReplayBook) -> str:
    head = "replay_miss: no recorded reply matches this request"
    if expected is None:
        return f"{head}; every recorded call was already served (the run made more calls)"
    if bool(body.get("stream")) != bool(expected.body.get("stream")):
        return f"{head}; next recorded call #{expected.seq} differs in 'stream'"
    got, want = book.comparable(body), book.comparable(expected.body)
    for key in sorted(set(got) | set(want)):
        if got.get(key) == want.get(key):
            continue
        if isinstance(got.get(key), list) and isinstance(want.get(key), list):
            for i, (a, b) in enumerate(zip(got[key], want[key], strict=False)):
                if a != b:
                    return (
                        f"{head}; next recorded call #{expected.seq} differs at {key}[{i}]:"
                        f" recorded {_short(b)}, got {_short(a)}"
                    )
            return (
                f"{head}; next recorded call #{expected.seq} differs in {key}: recorded"
                f" {len(want[key])} items, got {len(got[key])}"
            )
        return (
            f"{head}; next recorded call #{expected.seq} differs in {key!r}:"
            f" recorded {_short(want.get(key))}, got {_short(got.get(key))}"
        )
    return f"{head}; next recorded call #{expected.seq} differs only in normalised fields"


def _short(value: Any, limit: int = 160) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


class _Content:
    def __init__(self, data: bytes) -> None:
        self._data = data

    async def iter_any(self) -> AsyncIterator[bytes]:
        for i in range(0, len(self._data), _CHUNK):
            yield self._data[i : i + _CHUNK]


class LocalResponse:
    """A recorded reply that reads like aiohttp's ClientResponse (the parts relay uses)."""

    def __init__(self, raw: RawResponse, url: str = "replay:") -> None:
        self._data = raw.data()
        self.status = raw.status
        headers: CIMultiDict[str] = CIMultiDict()
        if raw.content_type:
            headers["Content-Type"] = raw.content_type
        self.headers = CIMultiDictProxy(headers)
        self.content = _Content(self._data)
        self.url = url
        self.at = perf_counter()

    async def read(self) -> bytes:
        return self._data

    def release(self) -> None:
        pass

    def close(self) -> None:
        pass
