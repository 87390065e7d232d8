"""latency: wall clock, container time, model time, and time lost to throttling.

`model_call_ms` is the union of completed (ok) calls' intervals, so parallel calls are
not double-counted and failed attempts do not pass for model work (the reference page's
five 429s give 0). Time lost to 429s is `throttled_wait_ms`: for each 429, from its start
to the start of the next attempt after it (its own end if none followed), unioned.

Time the proxy's governor held a call back (its `queued_ms`) is the harness keeping a
sweep inside the provider's quota, not the model working: it is left out of
`model_call_ms` and the median time to first token, reported as `queued_ms` (unioned),
and `charged_ms` (wall clock less it) is what the composite's latency efficiency uses.
"""

from __future__ import annotations

from datetime import timedelta

from pydantic import BaseModel

from proxy.records import ModelCall
from scorer.config import ScoringConfig
from scorer.evidence import Evidence
from scorer.timeline import held_intervals, peak_concurrency, throttled_wait_ms, tidy, union_ms


class Latency(BaseModel):
    # the reference page's keys
    wall_clock_ms: float | int
    container_active_ms: float | int | None
    model_call_ms: float | int
    # extras
    throttled_wait_ms: float | int
    attempt_ms: float | int
    peak_concurrency: int
    ttft_ms_median: float | int | None
    queued_ms: float | int = 0

    @property
    def charged_ms(self) -> float:
        """Wall clock less the time the governor held calls back."""
        return max(0.0, self.wall_clock_ms - self.queued_ms)


def score(evidence: Evidence, config: ScoringConfig | None = None) -> Latency:
    calls = evidence.calls
    ok = [(c.started_at + _held(c), c.ended_at) for c in calls if c.completed]
    ttfts = sorted(
        c.ttft_ms - (c.queued_ms or 0) for c in calls if c.completed and c.ttft_ms is not None
    )
    timing = evidence.timing
    return Latency(
        wall_clock_ms=tidy(timing.wall_clock_ms),
        container_active_ms=(
            None if timing.container_active_ms is None else tidy(timing.container_active_ms)
        ),
        model_call_ms=tidy(round(union_ms(ok), 3)),
        throttled_wait_ms=tidy(round(throttled_wait_ms(calls), 3)),
        attempt_ms=tidy(round(union_ms((c.started_at, c.ended_at) for c in calls), 3)),
        peak_concurrency=peak_concurrency(calls),
        ttft_ms_median=tidy(round(ttfts[len(ttfts) // 2], 3)) if ttfts else None,
        queued_ms=tidy(round(union_ms(held_intervals(calls)), 3)),
    )


def _held(call: ModelCall) -> timedelta:
    return timedelta(milliseconds=call.queued_ms or 0)
