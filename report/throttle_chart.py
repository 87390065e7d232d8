""" "Watch it get throttled": calls over time by outcome, and Retry-After asked vs waited.

Shown only when the cell met throttling (a 429). Every number here is the scorer's throttle
account (`Scorecard.throttle`, scorer/throttle.py), stored with the scorecard: the wait
after each 429, whether it honoured Retry-After, and the time lost to throttling, which
is the same `throttled_wait_ms` the latency axis and the verdict report. This module only
turns those numbers into geometry.
"""

from __future__ import annotations

from typing import Any

from scorer.throttle import CallRow, ThrottleAccount

OUTCOME_COLOURS = {
    "ok": "#2f8f46",
    "rate_limited": "#d9822b",
    "upstream_error": "#c23b3b",
    "timeout": "#8e44ad",
    "connection_error": "#8e44ad",
    "auth_error": "#6b4e16",
}
OTHER = "#7a7a7a"


def _secs(ms: float | None) -> float | None:
    return None if ms is None else round(ms / 1000, 3)


def _bars(rows: list[CallRow], left: int, scale: float) -> list[dict[str, Any]]:
    return [
        {
            "x": round(left + r.t_ms * scale, 2),
            "w": round(max(r.latency_ms * scale, 3), 2),
            "colour": OUTCOME_COLOURS.get(r.outcome, OTHER),
            "label": f"#{r.seq} {r.status_code or ''} {r.outcome}",
        }
        for r in rows
    ]


def _pairs(rows: list[CallRow], room: float) -> list[dict[str, Any]]:
    """Asked vs waited, one pair of bars per 429 that was followed by another attempt."""
    waits = [r for r in rows if r.waited_ms is not None]
    asked = [(r.retry_after_s or 0) * 1000 for r in waits]
    scale = room / max([r.waited_ms or 0.0 for r in waits] + asked + [1.0])
    return [
        {
            "seq": r.seq,
            "y": 10 + k * 34,
            "asked_w": round((r.retry_after_s or 0) * 1000 * scale, 2),
            "waited_w": round((r.waited_ms or 0.0) * scale, 2),
            "asked": r.retry_after_s,
            "waited": _secs(r.waited_ms),
        }
        for k, r in enumerate(waits)
    ]


def throttle_chart(account: ThrottleAccount, width: int = 720) -> dict[str, Any]:
    """Rows for the table and ready-to-draw SVG geometry for both pictures."""
    rows = account.timeline
    span_ms = max([r.t_ms + r.latency_ms for r in rows] + [1.0])
    left, right = 40, width - 10
    pairs = _pairs(account.throttled_rows, right - 40 - 200)  # room for the label
    return {
        "width": width,
        "bars": _bars(rows, left, (right - left) / span_ms),
        "axis_label": f"{span_ms / 1000:.2f} s",
        "pairs": pairs,
        "pairs_height": 20 + 34 * len(pairs),
        "rows": [
            {
                "seq": r.seq,
                "at_ms": round(r.t_ms, 1),
                "status": r.status_code,
                "outcome": r.outcome,
                "retry_after_s": r.retry_after_s,
                "waited_s": _secs(r.waited_ms),
                "honoured": r.honoured,
                "remaining": r.remaining_requests,
            }
            for r in rows
        ],
        "limited": account.throttled,
        "completed": account.completed,
        "throttled_wait_ms": account.throttled_ms,
        "throttled_wait_s": round(account.throttled_ms / 1000, 3),
        "legend": [(k, v) for k, v in OUTCOME_COLOURS.items() if any(r.outcome == k for r in rows)],
    }
