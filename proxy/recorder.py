"""Recorder: turns what a handler measured into one ModelCall, kept and written.

Every call goes three places at once: the session's in-memory list (the runner reads
it), calls.jsonl (the sink) and the metrics. A record is made before the handler
returns, whatever happened, so none is lost to a client that went away.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import Any

import structlog

from proxy.metrics import Metrics
from proxy.observe import Observation
from proxy.records import ModelCall
from proxy.sessions import Session, SessionStore
from proxy.sink import RecordSink

log = structlog.get_logger("proxy")

#: API families whose replies are tokens (an estimate makes sense without usage).
_GENERATIVE = ("chat", "responses", "completions")


def estimate_tokens(chars: int) -> int:
    """~4 characters per token: the usual rule of thumb for English and code."""
    return max(1, math.ceil(chars / 4)) if chars else 0


class Recorder:
    def __init__(self, store: SessionStore, sink: RecordSink, metrics: Metrics) -> None:
        self.store, self.sink, self.metrics = store, sink, metrics

    def record(
        self,
        sess: Session | None,
        *,
        started_at: datetime,
        latency_s: float,
        obs: Observation | None = None,
        prompt_chars: int = 0,
        **fields: Any,
    ) -> ModelCall:
        if obs is not None:
            fields.setdefault("finish_reason", obs.finish_reason)
            fields.setdefault("response_text", obs.text)
            fields.setdefault("tool_calls", obs.tool_calls)
            if obs.has_usage:
                fields.update(
                    prompt_tokens=obs.prompt_tokens,
                    completion_tokens=obs.completion_tokens,
                    total_tokens=obs.total_tokens,
                    cached_tokens=obs.cached_tokens,
                    reasoning_tokens=obs.reasoning_tokens,
                    tokens_source="usage",
                )
            elif fields.get("outcome") == "ok" and fields.get("api") in _GENERATIVE:
                prompt, completion = estimate_tokens(prompt_chars), estimate_tokens(obs.out_chars)
                fields.update(
                    prompt_tokens=prompt,
                    completion_tokens=completion,
                    total_tokens=prompt + completion,
                    tokens_source="estimated",
                )
            if obs.error and not fields.get("error"):
                fields["error"] = obs.error
        call = ModelCall(
            seq=self.store.next_seq(sess) if sess else 0,
            session=sess.id if sess else "unauthenticated",
            cell_id=sess.cell_id if sess else None,
            started_at=started_at,
            ended_at=started_at + timedelta(seconds=latency_s),
            latency_ms=round(latency_s * 1000, 3),
            **fields,
        )
        self.sink.write(call)
        self.metrics.record(call)
        if sess is not None:  # last: a reader waiting on the session sees it all done
            self.store.add_call(sess, call)
        if call.outcome != "ok":
            log.info(
                "call",
                session=call.session,
                cell_id=call.cell_id,
                path=call.path,
                model=call.model,
                status=call.status_code,
                outcome=call.outcome,
                error=call.error,
            )
        return call


def now_utc() -> datetime:
    return datetime.now(UTC)
