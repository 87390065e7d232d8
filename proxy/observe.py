"""Reading what passes through: SSE streams and JSON bodies, without changing them.

`StreamObserver` is a small pure class fed the upstream's bytes as they arrive. It
returns the bytes to forward (the same bytes, unless it must drop the usage-only chunk
the proxy asked for on the client's behalf) and collects an `Observation`: usage,
finish reason, the time the first output token arrived, reply text and tool names.
`observe_body` does the same for a whole non-streamed JSON body. Both know the chat
(`choices[].delta`) and Responses (typed `response.*` events) shapes.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from orjson import loads as _loads  # several times faster per SSE event than json

from proxy.classify import reported_error_outcome
from proxy.records import GENERATIVE_APIS, Outcome

#: Reply text kept per call (feeds the refusal scorer); longer replies are cut.
TEXT_LIMIT = 2000
#: Tool-call names kept per call: a provider streaming tool calls without end must not
#: grow the proxy's memory, nor the record (the first ones are kept, in order).
TOOL_CALLS_LIMIT = 256

#: an event ends at a blank line: two line ends in a row, each CRLF, LF or a lone CR
#: (SSE allows all three). A CR that ends the data so far may be a CRLF's first half:
#: it is a line end only once the next byte is known, so however the stream is cut
#: the events (and in strip mode the bytes forwarded) are the same.
_EVENT_END = re.compile(rb"(?:\r\n|\r(?=[^\n])|\n)(?:\r\n|\r(?=[^\n])|\n)")
#: the longest stream event the observer holds (a Responses `response.completed` event
#: carries the whole response); a longer one is passed on unobserved, so memory stays
#: bounded whatever a provider streams.
MAX_EVENT_BYTES = 16 * 2**20
_TERMINAL_RESPONSE_EVENTS = ("response.completed", "response.incomplete", "response.failed")


@dataclass(slots=True)
class Observation:
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    total_tokens: int | None = None
    cached_tokens: int | None = None
    reasoning_tokens: int | None = None
    has_usage: bool = False
    finish_reason: str | None = None
    first_output_at: float | None = None
    first_event_at: float | None = None
    done: bool = False
    error: str | None = None
    text_parts: list[str] = field(default_factory=list)
    text_len: int = 0
    #: characters of output seen (text and tool arguments), for estimating tokens.
    out_chars: int = 0
    tool_calls: list[str] = field(default_factory=list)
    #: the reply (or one of its events) was JSON of a shape the API does not have
    malformed: str | None = None
    #: the provider reported an error inside its 200 reply: the outcome it makes
    failed: Outcome | None = None

    def add_text(self, text: object) -> None:
        if not isinstance(text, str):  # a provider's non-text is not text
            return
        n = len(text)
        self.out_chars += n
        if self.text_len + n <= TEXT_LIMIT:
            if n:
                self.text_parts.append(text)
                self.text_len += n
            return
        room = TEXT_LIMIT - self.text_len
        if text and room > 0:
            self.text_parts.append(text[:room])
            self.text_len += room

    def finish(self, reason: object) -> None:
        """The finish reason, when the provider sent one as text (`error`, as gateways
        end a generation that failed, is the provider's failure)."""
        if reason and isinstance(reason, str):
            self.finish_reason = reason
            if reason == "error" and self.failed is None:
                self.failed = "upstream_error"
                self.error = (
                    self.error or "the provider ended its answer with finish_reason 'error'"
                )

    def add_tool(self, name: object) -> None:
        if name and isinstance(name, str) and len(self.tool_calls) < TOOL_CALLS_LIMIT:
            self.tool_calls.append(name[:200])

    def add_chars(self, value: object) -> None:
        """Output characters (tool arguments, other deltas) counted for an estimate."""
        if isinstance(value, str):
            self.out_chars += len(value)

    def reported(self, err: Any) -> None:
        """An error the provider put in its reply (an `error` object, a failed response)."""
        self.error = _message_of(err)
        self.failed = reported_error_outcome(err)

    def misshapen(self, exc: Exception | str) -> None:
        """The walk met a value of the wrong type (or no value where the API always has
        one): say so, keep what was observed."""
        why = exc if isinstance(exc, str) else f"{type(exc).__name__}: {exc}"
        self.malformed = why[:300]
        self.error = self.error or f"upstream reply of an unexpected shape ({self.malformed})"

    @property
    def answered(self) -> bool:
        """The reply carried an answer of any kind: output, a finish reason, usage, or an
        error the provider reported. A stream with none of these only ended."""
        return bool(
            self.out_chars or self.tool_calls or self.finish_reason or self.has_usage or self.failed
        )

    @property
    def text(self) -> str | None:
        return "".join(self.text_parts) if self.text_parts else None

    def add_usage(self, usage: Any) -> None:
        """Chat (`prompt_tokens`/`completion_tokens`) or Responses (`input_`/`output_tokens`)."""
        if not isinstance(usage, dict):
            return
        prompt = usage.get("prompt_tokens")  # chat's names first, in one lookup each
        if prompt.__class__ is not int:
            prompt = _first_int(usage, "input_tokens")
        completion = usage.get("completion_tokens")
        if completion.__class__ is not int:
            completion = _first_int(usage, "output_tokens")
        if prompt is None and completion is None:
            return
        self.has_usage = True
        self.prompt_tokens = prompt
        self.completion_tokens = completion
        total = _first_int(usage, "total_tokens")
        self.total_tokens = total if total is not None else (prompt or 0) + (completion or 0)
        in_details = usage.get("prompt_tokens_details") or usage.get("input_tokens_details")
        out_details = usage.get("completion_tokens_details") or usage.get("output_tokens_details")
        if isinstance(in_details, dict):
            self.cached_tokens = _first_int(in_details, "cached_tokens")
        if isinstance(out_details, dict):
            self.reasoning_tokens = _first_int(out_details, "reasoning_tokens")


def _first_int(d: dict[str, Any], *keys: str) -> int | None:
    for k in keys:
        v = d.get(k)
        if type(v) is int:  # not a bool
            return v
    return None


def _lf(raw: bytes) -> bytes:
    """An event's lines, each ended by LF (CRLF and a lone CR are line ends too)."""
    return raw.replace(b"\r\n", b"\n").replace(b"\r", b"\n") if b"\r" in raw else raw


class StreamObserver:
    """Fed SSE bytes; returns the bytes to forward; fills `self.obs`.

    With `strip_usage_chunk` it forwards whole events only (a partial event waits for
    its end) so that it can drop the chunk with `choices: []` and `usage` that the proxy
    requested itself. Otherwise it forwards every byte the moment it arrives. An event
    longer than `max_event_bytes` is forwarded as it comes and not observed.
    """

    def __init__(
        self,
        api: str,
        strip_usage_chunk: bool = False,
        clock: Callable[[], float] = time.perf_counter,
        max_event_bytes: int = MAX_EVENT_BYTES,
    ) -> None:
        self.api = api
        self.strip = strip_usage_chunk
        self.clock = clock
        self.max_event_bytes = max_event_bytes
        self.obs = Observation()
        #: an event still arriving, in the pieces it came in (joined once it ends: a long
        #: event costs its length once, not once per chunk), their size and last bytes
        self._held: list[bytes] = []
        self._held_bytes = 0
        self._tail = b""
        #: inside an event too long to hold: forwarding it until it ends
        self._passing = False

    def feed(self, chunk: bytes) -> bytes:
        if self._held or self._passing:
            seam = self._tail + chunk
            if b"\n\n" not in seam and (b"\r" not in seam or not _EVENT_END.search(seam)):
                # the event goes on
                self._tail = seam[-3:]
                if self._passing:
                    return chunk
                self._held.append(chunk)
                self._held_bytes += len(chunk)
                if self._held_bytes > self.max_event_bytes:
                    return self._pass_on(chunk)
                return b"" if self.strip else chunk
            if self._passing:
                return self._passed_on(seam, chunk)
            data = b"".join(self._held) + chunk
        else:
            data = chunk
        if not self.strip and b"\r" not in data:  # the common case: observe, pass as is
            pos, end = 0, data.find(b"\n\n")
            while end >= 0:
                self._event(data[pos:end])
                pos = end + 2
                end = data.find(b"\n\n", pos)
            self._hold(data, pos)
            return chunk
        pos = 0
        out: list[bytes] = []
        bounds_cr = b"\r" in data
        if bounds_cr:
            bounds = [(m.start(), m.end()) for m in _EVENT_END.finditer(data)]
        else:  # the common case, without a regex
            bounds = []
            end = data.find(b"\n\n")
            while end >= 0:
                bounds.append((end, end + 2))
                end = data.find(b"\n\n", end + 2)
        for end, after in bounds:
            keep = self._event(_lf(data[pos:end]) if bounds_cr else data[pos:end])
            if self.strip and keep:
                out.append(data[pos:after])
            pos = after
        self._hold(data, pos)
        if not self.strip:
            return chunk
        return out[0] if len(out) == 1 else b"".join(out)

    def finish(self) -> bytes:
        """At end of stream: observe and return whatever is left without a blank line."""
        rest = b"".join(self._held)
        self._hold(rest, len(rest))
        self._passing = False
        if rest.strip():
            keep = self._event(_lf(rest))
            return rest if (self.strip and keep) else b""
        return rest if self.strip else b""

    def _hold(self, data: bytes, pos: int) -> None:
        """Keep `data[pos:]`, the start of an event that has not ended yet (if any)."""
        if pos < len(data):
            rest = data[pos:]
            self._held, self._held_bytes, self._tail = [rest], len(rest), rest[-3:]
        elif self._held:
            self._held, self._held_bytes = [], 0

    def _pass_on(self, chunk: bytes) -> bytes:
        """The event outgrew `max_event_bytes` with `chunk`: stop holding it (what strip
        mode held goes to the client now, the rest as it comes) and leave it unobserved."""
        held = b"".join(self._held) if self.strip else chunk
        self._held, self._held_bytes, self._passing = [], 0, True
        self.obs.error = self.obs.error or (
            f"a stream event longer than {self.max_event_bytes} bytes was passed on unobserved"
        )
        return held

    def _passed_on(self, seam: bytes, chunk: bytes) -> bytes:
        """The long event ends in `chunk`: its end goes on as it came, what follows is
        observed again."""
        end = _EVENT_END.search(seam)
        assert end is not None  # the caller found two line ends in a row in it
        after = max(0, end.end() - len(self._tail))
        self._passing, self._tail = False, b""
        rest = chunk[after:]
        return chunk[:after] + (self.feed(rest) if rest else b"")

    # -- one event -------------------------------------------------------------------

    def _event(self, raw: bytes) -> bool:
        """Observe one SSE event; False when it is the usage-only chunk to drop."""
        name = None
        if raw.startswith(b"data: ") and b"\n" not in raw:
            data = raw[6:]  # the common one-line event
        else:
            data_lines: list[bytes] = []
            for line in raw.splitlines():
                if line.startswith(b"data:"):
                    data_lines.append(line[5:].lstrip(b" "))
                elif line.startswith(b"event:"):
                    name = line[6:].strip().decode("utf-8", "replace")
            if not data_lines:
                return True
            data = b"\n".join(data_lines)
        if self.obs.first_event_at is None:
            self.obs.first_event_at = self.clock()
        if data == b"[DONE]":
            self.obs.done = True
            return True
        try:
            obj = _loads(data)
        except ValueError:
            return True
        if not isinstance(obj, dict):
            return True
        try:  # a provider's JSON is untrusted: a value of the wrong type is not our crash
            if self.api == "responses":
                self._responses_event(obj.get("type") or name, obj)
                return True
            return self._chat_chunk(obj)
        except (AttributeError, TypeError, KeyError) as exc:
            self.obs.misshapen(exc)
            return True  # forwarded as it came

    def _mark_output(self) -> None:
        if self.obs.first_output_at is None:
            self.obs.first_output_at = self.clock()

    def _chat_chunk(self, obj: dict[str, Any]) -> bool:
        choices = obj.get("choices")
        if choices and len(choices) == 1 and obj.get("usage") is None and "error" not in obj:
            # the common event, a content delta of one choice, read with fewer lookups
            choice = choices[0]
            delta = choice.get("delta")
            if (
                delta.__class__ is dict
                and len(delta) <= 2
                and not choice.get("finish_reason")
                and (len(delta) == 1 or "role" in delta)
            ):
                content = delta.get("content")
                if content and content.__class__ is str:
                    if self.obs.first_output_at is None:
                        self.obs.first_output_at = self.clock()
                    self.obs.add_text(content)
                    return True
        return self._chat_chunk_any(obj)

    def _chat_chunk_any(self, obj: dict[str, Any]) -> bool:
        obs = self.obs
        if obj.get("error"):
            obs.reported(obj["error"])
        choices = obj.get("choices") or []
        usage = obj.get("usage")
        if usage:
            obs.add_usage(usage)
        for choice in choices:
            delta = choice.get("delta") or {}
            content = delta.get("content")
            if content:
                self._mark_output()
                obs.add_text(content)
            if delta.get("reasoning_content") or delta.get("reasoning") or delta.get("refusal"):
                self._mark_output()
            for tc in delta.get("tool_calls") or ():
                self._mark_output()
                fn = tc.get("function") or {}
                obs.add_chars(fn.get("arguments"))
                obs.add_tool(fn.get("name"))
            if choice.get("text"):  # legacy completions stream
                self._mark_output()
                obs.add_text(choice["text"])
            obs.finish(choice.get("finish_reason"))
        return not (self.strip and usage and not choices)

    def _responses_event(self, kind: str | None, obj: dict[str, Any]) -> None:
        obs = self.obs
        if not kind:
            if obj.get("error"):  # a gateway's chat-style error inside a Responses stream
                obs.reported(obj["error"])
            return
        if kind.endswith(".delta"):
            self._mark_output()
            if kind == "response.output_text.delta":
                obs.add_text(obj.get("delta") or "")
            else:
                obs.add_chars(obj.get("delta"))
        elif kind == "response.output_item.added":
            item = obj.get("item") or {}
            if item.get("type") == "function_call":
                obs.add_tool(item.get("name"))
        elif kind in _TERMINAL_RESPONSE_EVENTS:
            obs.done = True
            observe_response_object(obs, obj.get("response") or {}, text=False)
        elif kind == "error":
            obs.reported(obj.get("error") or obj)


def _message_of(err: Any) -> str:
    if isinstance(err, dict):
        return str(err.get("message") or err)[:500]
    return str(err)[:500]


def observe_response_object(obs: Observation, resp: dict[str, Any], text: bool = True) -> None:
    """A Responses API `response` object: usage, status (finish) and output items."""
    obs.add_usage(resp.get("usage"))
    status = resp.get("status")
    incomplete = resp.get("incomplete_details") or {}
    obs.finish(incomplete.get("reason") or status)
    if resp.get("error"):
        obs.reported(resp["error"])
    elif status == "failed":
        obs.reported({"message": "the response failed without an error object"})
    if not text:
        return
    for item in resp.get("output") or ():
        if item.get("type") == "function_call":
            obs.add_tool(item.get("name"))
            obs.add_chars(item.get("arguments"))
        for part in item.get("content") or ():
            if isinstance(part, dict) and part.get("type") == "output_text":
                obs.add_text(part.get("text") or "")


def parse_object(body: bytes) -> dict[str, Any] | None:
    """The body as a JSON object, or None when it is not one (HTML, text, a list...)."""
    try:
        obj = _loads(body)
    except ValueError:
        return None
    return obj if isinstance(obj, dict) else None


def observe_body(api: str, body: bytes) -> Observation:
    """Observe a whole (non-streamed) JSON response body of any API family."""
    obj = parse_object(body)
    return observe_object(api, obj) if obj is not None else Observation()


def observe_object(api: str, obj: dict[str, Any]) -> Observation:
    """Observe a parsed (non-streamed) JSON response body of any API family; a body of
    a shape the API does not have leaves `malformed` set (and what could be read)."""
    obs = Observation()
    try:
        if api == "responses" or obj.get("object") == "response":
            observe_response_object(obs, obj)
        else:
            _chat_object(obs, obj)
    except (AttributeError, TypeError, KeyError) as exc:
        obs.misshapen(exc)
    need = _ALWAYS_HAS.get(api)
    if need is not None and obs.failed is None and obs.malformed is None:  # `{}` is JSON,
        if need not in obj:  # not an answer
            obs.misshapen(f"no {need!r} in the reply")
        elif api in GENERATIVE_APIS and not obs.answered:
            obs.misshapen("no answer in the reply: no output, finish reason or usage")
    return obs


#: the key a whole reply of each API always has (an error reply aside).
_ALWAYS_HAS = {
    "chat": "choices",
    "completions": "choices",
    "responses": "output",
    "embeddings": "data",
}


def _chat_object(obs: Observation, obj: dict[str, Any]) -> None:
    if obj.get("error"):  # a 200 whose body is an error (gateways do this)
        obs.reported(obj["error"])
    usage = obj.get("usage")
    if usage:
        obs.add_usage(usage)
    for choice in obj.get("choices") or ():
        msg = choice.get("message") or _EMPTY
        content = msg.get("content")
        if content.__class__ is str:
            obs.add_text(content)
        text = choice.get("text")
        if text.__class__ is str:
            obs.add_text(text)
        calls = msg.get("tool_calls")
        if calls:
            _tool_calls(obs, calls)
        if not obs.finish_reason:
            obs.finish(choice.get("finish_reason"))


_EMPTY: dict[str, Any] = {}


def _tool_calls(obs: Observation, calls: list[dict[str, Any]]) -> None:
    for tc in calls:
        fn = tc.get("function") or _EMPTY
        obs.add_chars(fn.get("arguments"))
        obs.add_tool(fn.get("name"))
