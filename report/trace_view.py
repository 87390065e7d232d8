"""The trace replay's data: every span and model call on one time axis, in ms from the start.

The page draws the lanes to scale from these numbers and the replay script steps through
the same list, so what you see and what the keys step through cannot disagree. A call
the runner did not turn into a `model_call` span still gets a lane of its own.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from proxy.records import ModelCall
from runner.spans import Span


def _ms(t: datetime, t0: datetime) -> float:
    return round((t - t0).total_seconds() * 1000, 3)


def trace_items(spans: list[Span], calls: list[ModelCall]) -> dict[str, Any]:
    """{'total_ms', 'items': [...]} with items sorted by start, each placed in percent too."""
    seqs = {s.attrs.get("seq") for s in spans if s.kind == "model_call"}
    extra = [c for c in calls if c.seq not in seqs]
    starts = [s.start for s in spans] + [c.started_at for c in extra]
    ends = [s.end for s in spans] + [c.ended_at for c in extra]
    if not starts:
        return {"total_ms": 0.0, "items": []}
    t0, t1 = min(starts), max(ends)
    total = max(_ms(t1, t0), 0.001)
    items: list[dict[str, Any]] = []
    for s in spans:
        items.append(
            {
                "id": s.span_id,
                "parent": s.parent_id,
                "kind": s.kind,
                "name": s.name,
                "start": _ms(s.start, t0),
                "end": _ms(s.end, t0),
                "attrs": s.attrs,
                "error": s.error,
                "outcome": s.attrs.get("outcome") if s.kind == "model_call" else None,
            }
        )
    for c in extra:
        items.append(
            {
                "id": f"call-{c.seq}",
                "parent": None,
                "kind": "model_call",
                "name": f"{c.api}:{c.model}",
                "start": _ms(c.started_at, t0),
                "end": _ms(c.ended_at, t0),
                "attrs": {
                    "seq": c.seq,
                    "status_code": c.status_code,
                    "outcome": c.outcome,
                    "request_hash": c.request_hash,
                    "total_tokens": c.total_tokens,
                    "retry_after_s": c.retry_after_s,
                },
                "error": c.error,
                "outcome": c.outcome,
            }
        )
    items.sort(key=lambda i: (i["start"], -i["end"]))
    for i in items:
        i["left"] = round(100 * i["start"] / total, 4)
        i["width"] = round(max(100 * (i["end"] - i["start"]) / total, 0.15), 4)
        i["duration_ms"] = round(i["end"] - i["start"], 3)
    return {"total_ms": total, "items": items}


def ticks(total_ms: float, n: int = 4) -> list[dict[str, Any]]:
    """Axis labels at even fractions of the trace."""
    return [{"left": 100 * k / n, "label": fmt_ms(total_ms * k / n)} for k in range(n + 1)]


def fmt_ms(ms: float) -> str:
    return f"{ms:.0f} ms" if ms < 1000 else f"{ms / 1000:.2f} s"
