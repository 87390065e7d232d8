""" "Watch it get throttled": calls over time by outcome, and Retry-After asked vs waited.

Shown only when the cell met throttling (a 429). The wait actually taken is the gap from
the end of a throttled call to the start of the next one: set against the Retry-After the
provider asked for, it shows at a glance whether the agent honoured it.
"""

from __future__ import annotations

from typing import Any

from proxy.records import ModelCall

OUTCOME_COLOURS = {
    "ok": "#2f8f46",
    "rate_limited": "#d9822b",
    "upstream_error": "#c23b3b",
    "timeout": "#8e44ad",
    "connection_error": "#8e44ad",
    "auth_error": "#6b4e16",
}
OTHER = "#7a7a7a"


def throttled(calls: list[ModelCall]) -> bool:
    return any(c.outcome == "rate_limited" or c.status_code == 429 for c in calls)


def throttle_view(calls: list[ModelCall], width: int = 720) -> dict[str, Any]:
    """Rows for the table and ready-to-draw SVG geometry for both pictures."""
    calls = sorted(calls, key=lambda c: (c.started_at, c.seq))
    t0 = calls[0].started_at
    t_end = max(c.ended_at for c in calls)
    span_ms = max((t_end - t0).total_seconds() * 1000, 1.0)
    left, right = 40, width - 10
    scale = (right - left) / span_ms
    rows, bars = [], []
    for i, c in enumerate(calls):
        at = (c.started_at - t0).total_seconds() * 1000
        dur = (c.ended_at - c.started_at).total_seconds() * 1000
        nxt = calls[i + 1] if i + 1 < len(calls) else None
        waited = (nxt.started_at - c.ended_at).total_seconds() if nxt else None
        limited = c.outcome == "rate_limited" or c.status_code == 429
        honoured = None
        if limited and waited is not None and c.retry_after_s is not None:
            honoured = waited + 0.05 >= c.retry_after_s
        rows.append(
            {
                "seq": c.seq,
                "at_ms": round(at, 1),
                "status": c.status_code,
                "outcome": c.outcome,
                "retry_after_s": c.retry_after_s,
                "waited_s": None if waited is None else round(waited, 3),
                "honoured": honoured,
                "limited": limited,
                "remaining": c.rate_limit_headers.get("x-ratelimit-remaining-requests"),
            }
        )
        bars.append(
            {
                "x": round(left + at * scale, 2),
                "w": round(max(dur * scale, 3), 2),
                "colour": OUTCOME_COLOURS.get(c.outcome, OTHER),
                "label": f"#{c.seq} {c.status_code or ''} {c.outcome}",
            }
        )
    waits = [r for r in rows if r["limited"] and r["waited_s"] is not None]
    wmax = max([r["waited_s"] for r in waits] + [r["retry_after_s"] or 0 for r in waits] + [0.001])
    wscale = (right - 40 - 200) / wmax  # room for the "asked … · waited …" label
    pairs = [
        {
            "seq": r["seq"],
            "y": 10 + k * 34,
            "asked_w": round((r["retry_after_s"] or 0) * wscale, 2),
            "waited_w": round(r["waited_s"] * wscale, 2),
            "asked": r["retry_after_s"],
            "waited": r["waited_s"],
        }
        for k, r in enumerate(waits)
    ]
    limited = [r for r in rows if r["limited"]]
    return {
        "width": width,
        "bars": bars,
        "axis_label": f"{span_ms / 1000:.2f} s",
        "pairs": pairs,
        "pairs_height": 20 + 34 * len(pairs),
        "rows": rows,
        "limited": len(limited),
        "completed": sum(1 for c in calls if c.outcome == "ok"),
        "throttled_wait_s": round(sum(r["waited_s"] or 0 for r in limited), 3),
        "legend": [
            (k, v) for k, v in OUTCOME_COLOURS.items() if any(c.outcome == k for c in calls)
        ],
    }
