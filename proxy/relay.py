"""The relay step: hand the upstream's reply to the client and observe it on the way.

A streamed reply is written chunk by chunk as it arrives (`iter_any`, never buffered)
while a `StreamObserver` reads it; a whole body is read once, parsed once and sent.
Secrets are redacted from both before anything is forwarded or recorded. The call is
recorded before the client's response ends, so a reader that sees the end of the reply
finds the record. Upstream failures surface as the proxy's own errors, which the handler
answers; `Relay.started` says whether the client already has a status line (then the
handler can only cut the connection).

Encoded replies: the proxy asks for identity, but a provider may gzip anyway. A whole
body is forwarded as it came and observed on a decoded copy (decoded for the client too
only when a key must be redacted from it). A stream is forwarded decoded, without its
Content-Encoding: the proxy must be able to redact a key split across chunks and drop
the usage chunk it asked for, neither of which can be done inside a gzip stream.
"""

from __future__ import annotations

import contextlib
import zlib
from collections.abc import Callable, Iterator
from time import perf_counter

from aiohttp import web
from multidict import CIMultiDictProxy

from proxy import classify
from proxy.capture import CALL_CAP_BYTES
from proxy.encoding import decoder_for, inflate_at_most, inflate_in_pieces
from proxy.errors import UpstreamMalformed
from proxy.facts import CallFacts, ms
from proxy.keys import APP_CONFIG
from proxy.observe import Observation, StreamObserver, observe_object, parse_object
from proxy.redact import NOTHING, Redactor, StreamRedactor
from proxy.upstream import UPSTREAM_FAILURES, Reply, upstream_failure

#: response headers set by our own server.
_DROP_RESPONSE = frozenset(
    ("content-length", "transfer-encoding", "connection", "keep-alive", "server", "date")
)
#: API families whose successful replies are JSON objects (or SSE streams of them).
_JSON_APIS = frozenset(("chat", "responses", "completions", "embeddings", "models"))

Record = Callable[[CallFacts], object]
#: an encoded stream is decoded (and passed on) this many bytes at a time, at most.
INFLATE_PIECE = 1 << 20


class Relay:
    def __init__(self, request: web.Request, call: CallFacts, record: Record) -> None:
        self.request, self.call, self.record = request, call, record
        #: the secrets of this call, once resolved.
        self.redactor = NOTHING
        #: the client's response once its status line is sent (a stream), else None.
        self.response: web.StreamResponse | None = None
        self._pipe: _StreamPipe | None = None

    @property
    def started(self) -> bool:
        return self.response is not None

    @property
    def delivered_end(self) -> bool:
        """The stream's end (its terminal event, or chat's finish) is in the client's
        socket: a client that hangs up now has had the whole answer. What the observer has
        seen is what was written: each piece goes to the socket before the next await."""
        if self._pipe is None:
            return False
        obs = self._pipe.observer.obs
        return obs.done or obs.finish_reason is not None

    async def reply(self, reply: Reply) -> web.StreamResponse:
        call, status = self.call, reply.status
        call.upstream_status = status
        headers, call.rate_limit_headers = _split_headers(reply.headers)
        if status >= 400:
            call.retry_after_s = classify.retry_after_s(reply.headers)
        if self.redactor:
            headers = self.redactor.headers(headers)
        kind = call.reply_content_type = reply.headers.get("Content-Type")
        inb = call.inbound
        try:
            if inb is not None and inb.stream and status < 400 and "event-stream" in (kind or ""):
                return await self._stream(reply, headers)
            return await self._body(reply, headers)
        except BaseException:
            reply.response.close()  # stops the upstream's side of a call that broke off
            raise
        finally:
            reply.response.release()

    async def _body(self, reply: Reply, headers: dict[str, str]) -> web.Response:
        call, status = self.call, reply.status
        try:
            body = await reply.response.read()
        except UPSTREAM_FAILURES as exc:
            raise upstream_failure(exc, str(reply.response.url), "body") from exc
        t_last = perf_counter()
        call.ttft_ms = ms(reply.headers_at - call.t0)
        decoder = _decoder(reply.headers)
        decoded = (  # never more than the proxy would read undecoded
            _decode_whole(decoder, body, self.request.app[APP_CONFIG].max_reply_bytes)
            if decoder is not None
            else body
        )
        seen = body if decoded is None else decoded  # bytes that do not decode: as they came
        if self.redactor:
            clean = self.redactor.scrub(seen)
            if clean is not seen:  # a key was in it: send the clean copy
                body = seen = clean
                headers = _without_encoding(headers)
        obj = parse_object(seen) if decoded is not None else None
        if status < 400:
            if obj is None and call.api in _JSON_APIS and call.method != "HEAD":  # HEAD: no body
                if decoded is None:
                    encoding = reply.headers.get("Content-Encoding")
                    raise UpstreamMalformed(
                        f"upstream answered {status} labelled Content-Encoding {encoding!r},"
                        " which its body is not (not valid gzip/deflate)"
                    )
                kind = reply.headers.get("Content-Type", "no content type")
                raise UpstreamMalformed(
                    f"upstream answered {status} with {kind}, not the API's JSON: "
                    + repr(seen[:120])[2:-1]
                )
            call.obs = observe_object(call.api, obj) if obj is not None else Observation()
            if call.obs.malformed is not None and call.api in _JSON_APIS:  # not its shape
                raise UpstreamMalformed(
                    f"upstream answered {status} with JSON of a shape the API does not have"
                    f" ({call.obs.malformed})"
                )
        else:
            call.error = classify.error_message(seen)
        call.status_code = status
        call.outcome = classify.outcome_for(status, seen)
        if call.obs is not None and call.obs.failed is not None:  # a 200 that is an error
            call.fail(call.obs.failed, f"upstream reported in its reply: {call.obs.error}")
        call.keep(seen, CALL_CAP_BYTES)  # decoded, redacted
        call.proxy_s += perf_counter() - t_last
        self.record(call)
        return web.Response(status=status, body=body, headers=headers)

    async def _stream(self, reply: Reply, headers: dict[str, str]) -> web.StreamResponse:
        call = self.call
        assert call.inbound is not None
        decoder = _decoder(reply.headers)
        if decoder is not None:
            headers = _without_encoding(headers)
        pipe = self._pipe = _StreamPipe(call, decoder, self.redactor)
        out = web.StreamResponse(status=reply.status, headers=headers)
        await out.prepare(self.request)
        self.response = out
        call.status_code = reply.status
        chunks = reply.response.content.iter_any().__aiter__()
        while True:
            try:  # only the upstream's read is mapped: a client that left is not a cut
                chunk = await chunks.__anext__()
            except StopAsyncIteration:
                break
            except UPSTREAM_FAILURES as exc:
                if _complete(pipe.observer.obs):  # broke off after its end: the answer is
                    break  # whole, and the client's stream ends cleanly
                raise upstream_failure(exc, str(reply.response.url), "stream") from exc
            t = perf_counter()
            if pipe.decoder is None:
                data = pipe.feed(chunk)
                if data:
                    await out.write(data)
            else:  # a piece at a time, each handed to the socket (and drained) before the next
                for piece in pipe.inflate(chunk):
                    data = pipe.feed(piece)
                    if data:
                        await out.write(data)
            call.proxy_s += perf_counter() - t  # observe + hand to the socket
        rest = pipe.finish()
        if rest:
            await out.write(rest)
        self.settle_stream()  # before the end: a client that saw the end finds the record
        with contextlib.suppress(ConnectionResetError):
            await out.write_eof()
        return out

    def settle_stream(self, client_left: bool = False) -> None:
        """Record a stream as its observation says it went: at its end, or when the
        client hung up after the end was in its socket (codex, for one, leaves as soon as
        it reads `response.completed`, before the upstream's stream has closed)."""
        call = self.call
        assert self._pipe is not None
        obs = self._pipe.observer.obs
        if obs.failed is not None:  # the provider said, inside its stream, that it failed
            call.fail(obs.failed, f"upstream reported in its stream: {obs.error}")
        elif not (client_left or _complete(obs)):
            call.fail("connection_error", "upstream stream ended without its final event")
        elif not obs.answered:  # e.g. `data: [DONE]` alone: ended, but answered nothing
            call.fail(
                "upstream_malformed",
                "upstream stream ended with no answer in it (no output, finish reason or usage)",
            )
        self.record(call)

    def abort(self) -> None:
        """The upstream broke its stream: break ours too, so the client sees a cut."""
        if self.request.transport is not None:
            self.request.transport.close()


def _complete(obs: Observation) -> bool:
    """The stream carried its end: its terminal event, or chat's finish and usage (some
    providers send no `[DONE]`)."""
    return obs.done or bool(obs.finish_reason and obs.has_usage)


class _StreamPipe:
    """upstream bytes -> decoded (if encoded) -> redacted -> observed -> client bytes."""

    def __init__(self, call: CallFacts, decoder: zlib._Decompress | None, red: Redactor) -> None:
        assert call.inbound is not None
        self.observer = StreamObserver(call.inbound.api, strip_usage_chunk=call.inbound.strip_usage)
        call.obs = self.observer.obs
        self.decoder = decoder
        self.redact = StreamRedactor(red) if red else None
        self.call = call

    def inflate(self, chunk: bytes) -> Iterator[bytes]:
        """An encoded chunk's decoded bytes, at most INFLATE_PIECE at a time: a few KB that
        inflate to gigabytes (a gzip bomb) never sit in memory whole."""
        assert self.decoder is not None
        try:
            yield from inflate_in_pieces(self.decoder, chunk, INFLATE_PIECE)
        except zlib.error as exc:
            raise UpstreamMalformed(f"upstream stream is not valid gzip/deflate: {exc}") from exc

    def feed(self, chunk: bytes) -> bytes:
        """Decoded upstream bytes -> the bytes to hand the client."""
        if self.redact is not None:
            chunk = self.redact.feed(chunk)
        # the transcript keeps the upstream's bytes, decoded and redacted, usage included:
        # a replay serves them and observes them as the live run did
        self.call.keep(chunk, CALL_CAP_BYTES)
        return self.observer.feed(chunk) if chunk else b""

    def finish(self) -> bytes:
        tail = b"".join(self.inflate(b"")) if self.decoder is not None else b""
        if self.redact is not None:
            tail = self.redact.feed(tail) + self.redact.finish()
        self.call.keep(tail, CALL_CAP_BYTES)
        data = self.observer.feed(tail) if tail else b""
        return data + self.observer.finish()


def _split_headers(upstream: CIMultiDictProxy[str]) -> tuple[dict[str, str], dict[str, str]]:
    """In one pass: the headers to hand on, and the ones to record (what
    `classify.rate_limit_headers` keeps; the hot path reads the headers once)."""
    out: dict[str, str] = {}
    limits: dict[str, str] = {}
    for name, value in upstream.items():
        low = name.lower()
        if low not in _DROP_RESPONSE:
            out[name] = value
        if low.startswith(classify.RATE_LIMIT_PREFIX):
            limits[low] = value
    return out, limits


def _decoder(headers: CIMultiDictProxy[str]) -> zlib._Decompress | None:
    return decoder_for(headers.get("Content-Encoding", ""))


def _decode_whole(decoder: zlib._Decompress, body: bytes, max_bytes: int) -> bytes | None:
    """The decoded body, or None when it does not decode (observed as it came); one that
    decodes to more than `max_bytes` (a gzip bomb) is refused, never inflated whole."""
    try:
        data = inflate_at_most(decoder, body, max_bytes)
    except zlib.error:
        return None
    if data is None:
        raise UpstreamMalformed(
            f"upstream reply decodes to more than this proxy's limit of {max_bytes} bytes"
            " (cab proxy --max-reply-bytes)"
        )
    return data


def _without_encoding(headers: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in headers.items() if k.lower() != "content-encoding"}
