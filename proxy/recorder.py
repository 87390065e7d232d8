"""Recorder: turns a call's `CallFacts` into its one ModelCall, kept and written.

Every call goes three places at once: the session's in-memory list (the runner reads
it), calls.jsonl (the sink) and the metrics. A record is made before the handler
returns, whatever happened, so none is lost to a client that went away.
"""

from __future__ import annotations

import math
from datetime import timedelta
from time import perf_counter
from typing import Literal

import structlog

from proxy.capture import CapturedCall, TranscriptWriter
from proxy.facts import CallFacts, ms
from proxy.metrics import Metrics
from proxy.records import GENERATIVE_APIS, ModelCall
from proxy.sessions import SessionStore
from proxy.sink import RecordSink

log = structlog.get_logger("proxy")
TokensSource = Literal["usage", "estimated"] | None


def estimate_tokens(chars: int) -> int:
    """~4 characters per token: the usual rule of thumb for English and code."""
    return max(1, math.ceil(chars / 4)) if chars else 0


class Recorder:
    def __init__(
        self,
        store: SessionStore,
        sink: RecordSink,
        metrics: Metrics,
        transcript: TranscriptWriter | None = None,
    ) -> None:
        self.store, self.sink, self.metrics = store, sink, metrics
        #: the proxy's own transcript (standalone, beside calls.jsonl) for sessions without one
        self.transcript = transcript

    def capturing(self, call: CallFacts) -> bool:
        sess = call.session
        return self.transcript is not None or (sess is not None and sess.transcript is not None)

    def record(self, call: CallFacts) -> ModelCall:
        latency_s = perf_counter() - call.t0
        sess, inb, obs = call.session, call.inbound, call.obs
        prompt, completion, total, cached, reasoning, source = _tokens(call)
        started = call.started_at
        rec = trusted_call(
            {  # every field of ModelCall, in its order
                "seq": self.store.next_seq(sess) if sess else 0,
                "session": sess.id if sess else "unauthenticated",
                "cell_id": sess.cell_id if sess else None,
                "method": call.method,
                "path": call.path,
                "api": call.api,
                "started_at": started,
                "ended_at": started + timedelta(seconds=latency_s),
                "request_hash": inb.request_hash if inb else None,
                "model": _name(inb.model) if inb else None,
                "requested_model": _name(inb.requested_model) if inb else None,
                "stream": inb.stream if inb else False,
                "status_code": call.status_code,
                "upstream_status": call.upstream_status,
                "outcome": call.outcome,
                "prompt_tokens": prompt,
                "completion_tokens": completion,
                "total_tokens": total,
                "cached_tokens": cached,
                "reasoning_tokens": reasoning,
                "tokens_source": source,
                "latency_ms": ms(latency_s),
                "ttft_ms": call.ttft_ms if call.ttft_ms is not None else _stream_ttft(call),
                "proxy_overhead_ms": ms(call.proxy_s) if call.proxy_s else None,
                "finish_reason": obs.finish_reason if obs else None,
                "retry_after_s": call.retry_after_s,
                "rate_limit_headers": call.rate_limit_headers,
                "queued_ms": ms(call.queued_s) if call.ticket is not None else None,
                "retry_of": call.retry_of,
                "absorbed": call.absorbed,
                "injected": call.injected,
                "client_retry_count": call.client_retry,
                "error": call.error or (obs.error if obs else None),
                "response_text": obs.text if obs else None,
                "tool_calls": obs.tool_calls if obs else [],
                "replayed_seq": call.replayed_seq,
            }
        )
        call.recorded = True
        try:
            self.sink.write(rec)
            self.metrics.record(rec, call.upstream)
            if call.reply_data is not None:
                self._capture(call, rec)
        finally:  # whatever failed above, the session's reader gets the call (and its count)
            if sess is not None:  # last: a reader waiting on the session sees it all done
                self.store.add_call(sess, rec)
        if rec.outcome != "ok":
            log.info(
                "call",
                session=rec.session,
                cell_id=rec.cell_id,
                path=rec.path,
                model=rec.model,
                status=rec.status_code,
                outcome=rec.outcome,
                error=rec.error,
            )
        return rec

    def _capture(self, call: CallFacts, rec: ModelCall) -> None:
        try:
            self._write_transcript(call, rec)
        except Exception as exc:  # a transcript must never cost the call its record
            log.warning("transcript not written", session=rec.session, seq=rec.seq,
                        error=f"{type(exc).__name__}: {exc}"[:300])  # fmt: skip

    def _write_transcript(self, call: CallFacts, rec: ModelCall) -> None:
        sess, inb = call.session, call.inbound
        writer = sess.transcript if sess is not None and sess.transcript else self.transcript
        if writer is None:
            return
        body = inb.body if inb is not None else None
        usage = {
            "prompt_tokens": rec.prompt_tokens,
            "completion_tokens": rec.completion_tokens,
            "cached_tokens": rec.cached_tokens,
            "reasoning_tokens": rec.reasoning_tokens,
        }
        writer.write(
            CapturedCall(
                seq=rec.seq, request_hash=rec.request_hash, api=rec.api, stream=rec.stream,
                body=body if isinstance(body, dict) else None, status=rec.status_code,
                content_type=call.reply_content_type, response=bytes(call.reply_data or b""),
                response_cut=call.reply_cut, session=rec.session,
                usage=usage if rec.tokens_source == "usage" else None, redact=call.redact,
            )
        )  # fmt: skip


#: the longest model name a record keeps (the client chooses it: a hostile one could
#: send megabytes, and every record would carry them twice); real ids are < 128
MAX_NAME = 256


def _name(name: str | None) -> str | None:
    return name if name is None or len(name) <= MAX_NAME else name[: MAX_NAME - 1] + "…"


#: every field of ModelCall (a record's fields are all set: it is built whole)
_ALL_SET = set(ModelCall.model_fields)
_set_attr = object.__setattr__


def trusted_call(values: dict[str, object]) -> ModelCall:
    """A ModelCall from `values` that already have their fields' types, every field given
    in the model's order: what `ModelCall.model_construct` makes, without its per-field
    loop. The hot path builds each record from typed facts, so it skips validation; the
    record is the same model, compared and dumped the same way (tests/proxy/test_cost.py)."""
    rec = ModelCall.__new__(ModelCall)
    _set_attr(rec, "__dict__", values)
    _set_attr(rec, "__pydantic_fields_set__", _ALL_SET.copy())
    _set_attr(rec, "__pydantic_extra__", None)
    _set_attr(rec, "__pydantic_private__", None)
    return rec


#: (prompt, completion, total, cached, reasoning, tokens_source)
Tokens = tuple[int | None, int | None, int | None, int | None, int | None, TokensSource]
_NO_TOKENS: Tokens = (None, None, None, None, None, None)


def _tokens(call: CallFacts) -> Tokens:
    """The provider's usage when it reported one; an estimate for a successful
    generation that came without; nothing otherwise."""
    obs = call.obs
    if obs is None:
        return _NO_TOKENS
    if obs.has_usage:
        return (
            obs.prompt_tokens,
            obs.completion_tokens,
            obs.total_tokens,
            obs.cached_tokens,
            obs.reasoning_tokens,
            "usage",
        )
    if call.outcome == "ok" and call.api in GENERATIVE_APIS:
        prompt = estimate_tokens(call.inbound.prompt_chars if call.inbound else 0)
        completion = estimate_tokens(obs.out_chars)
        return (prompt, completion, prompt + completion, None, None, "estimated")
    return _NO_TOKENS


def _stream_ttft(call: CallFacts) -> float | None:
    """Streams: until the first event carrying output (else the first event)."""
    obs = call.obs
    first = (obs.first_output_at or obs.first_event_at) if obs else None
    return ms(first - call.t0) if first else None
