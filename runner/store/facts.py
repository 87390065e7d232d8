"""The handful of numbers a store row keeps from a CellRecord, read in one place.

The scorer's Scorecard (`record.scores`) is the source; a record that was never scored
(the run failed before scoring) keeps the raw facts' numbers instead, so a row is never
silently empty.
"""

from __future__ import annotations

from typing import Any

from runner.record import CellRecord


def cell_facts(record: CellRecord) -> dict[str, Any]:
    card = record.scores
    if card is not None:
        return {
            "verdict": card.verdict.verdict,
            "infra": card.infra,
            "reason": card.verdict.reason,
            "pass": float(card.pass_rate.pass_),
            "composite": card.composite.composite,
            "prompt_tokens": card.tokens.prompt_tokens,
            "completion_tokens": card.tokens.completion_tokens,
            "total_tokens": card.tokens.total_tokens,
            "model_calls": card.tokens.model_calls,
            "wall_clock_ms": card.latency.wall_clock_ms,
            "injected": bool(card.throttle.injected),
        }
    calls, result = record.calls, record.result()
    return {
        "verdict": None,
        "infra": False,
        "reason": None,
        "pass": result.pass_,
        "composite": None,
        "prompt_tokens": sum(c.prompt_tokens or 0 for c in calls),
        "completion_tokens": sum(c.completion_tokens or 0 for c in calls),
        "total_tokens": result.total_tokens,
        "model_calls": sum(1 for c in calls if c.completed),
        "wall_clock_ms": result.wall_clock_ms,
        "injected": any(c.injected for c in calls),
    }
