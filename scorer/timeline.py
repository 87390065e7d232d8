"""Time arithmetic over model calls: interval unions and the waits after throttling.

Agents make parallel calls, so summing latencies double-counts; every duration here is a
union of intervals on the wall clock.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from proxy.records import ModelCall

Interval = tuple[datetime, datetime]


def union_ms(intervals: Iterable[Interval]) -> float:
    """Total length of the union of [start, end] intervals, in ms."""
    total = 0.0
    current: Interval | None = None
    for start, end in sorted(intervals):
        end = max(start, end)
        if current is None or start > current[1]:
            if current is not None:
                total += (current[1] - current[0]).total_seconds() * 1000
            current = (start, end)
        else:
            current = (current[0], max(current[1], end))
    if current is not None:
        total += (current[1] - current[0]).total_seconds() * 1000
    return total


def ordered(calls: Iterable[ModelCall]) -> list[ModelCall]:
    return sorted(calls, key=lambda c: (c.started_at, c.seq))


def next_attempt(calls: list[ModelCall], call: ModelCall) -> ModelCall | None:
    """The first attempt (of `ordered` calls) started at or after `call` ended."""
    for other in calls:
        if other is not call and other.started_at >= call.ended_at:
            return other
    return None


def throttle_intervals(calls: Iterable[ModelCall], until: datetime | None = None) -> list[Interval]:
    """For each 429: from its start to the start of the next attempt after it ended; when
    none followed, to `until` (the agent's end: it was still waiting) or its own end."""
    calls = ordered(calls)
    spans = []
    for call in calls:
        if call.outcome != "rate_limited":
            continue
        nxt = next_attempt(calls, call)
        if nxt is not None:
            spans.append((call.started_at, nxt.started_at))
        else:
            spans.append((call.started_at, max(call.ended_at, until or call.ended_at)))
    return spans


#: a governor admission quicker than this was not holding the call back.
HELD_MS = 1.0


def held_intervals(calls: Iterable[ModelCall]) -> list[Interval]:
    """For each call the proxy's governor held back (at least HELD_MS): from its start
    for its queued_ms."""
    return [
        (c.started_at, c.started_at + timedelta(milliseconds=c.queued_ms))
        for c in calls
        if c.queued_ms is not None and c.queued_ms >= HELD_MS
    ]


def throttled_wait_ms(calls: Iterable[ModelCall], until: datetime | None = None) -> float:
    """Wall time lost to throttling: the union of `throttle_intervals`."""
    return union_ms(throttle_intervals(calls, until))


def peak_concurrency(calls: Iterable[ModelCall]) -> int:
    """Most calls in flight at one instant."""
    edges = []
    for c in calls:
        edges.append((c.started_at, 1))
        edges.append((max(c.started_at, c.ended_at), -1))
    peak = cur = 0
    for _, step in sorted(edges, key=lambda e: (e[0], e[1])):  # ends before starts
        cur += step
        peak = max(peak, cur)
    return peak


def tidy(x: float | int) -> float | int:
    """Integral numbers as ints, so a dump reads `0` as the reference page does."""
    if isinstance(x, float) and x.is_integer():
        return int(x)
    return x
