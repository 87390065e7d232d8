"""latency: wall clock, container time, model time, and time lost to throttling.

`model_call_ms` is the union of completed (ok) calls' intervals, so parallel calls are
not double-counted and failed attempts do not pass for model work (the reference page's
five 429s give 0). Time lost to 429s is `throttled_wait_ms`: for each 429, from its start
to the start of the next attempt after it (its own end if none followed), unioned.
"""

from __future__ import annotations

from pydantic import BaseModel

from scorer.config import ScoringConfig
from scorer.evidence import Evidence
from scorer.timeline import peak_concurrency, throttled_wait_ms, tidy, union_ms


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


def score(evidence: Evidence, config: ScoringConfig | None = None) -> Latency:
    calls = evidence.calls
    ok = [(c.started_at, c.ended_at) for c in calls if c.completed]
    ttfts = sorted(c.ttft_ms for c in calls if c.completed and c.ttft_ms is not None)
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
        ttft_ms_median=tidy(ttfts[len(ttfts) // 2]) if ttfts else None,
    )
