"""The handful of numbers a store row keeps from a CellRecord, read in one place.

The scorer's Scorecard dump is the source (`record.scores`: pass_rate, tokens, latency,
composite, verdict, ...); where a number is missing (an unscored record) it is read from
the raw facts instead, so a row is never silently empty.
"""

from __future__ import annotations

from typing import Any

from runner.record import CellRecord


def axis(scores: dict[str, Any] | None, name: str) -> dict[str, Any]:
    """One axis of the scorecard as a flat dict (a `details` sub-dict is merged in)."""
    value = (scores or {}).get(name)
    if not isinstance(value, dict):
        return {}
    details = value.get("details")
    return {**value, **details} if isinstance(details, dict) else value


def is_infra(verdict: dict[str, Any]) -> bool:
    v = verdict.get("verdict")
    return bool(verdict.get("infra")) or (isinstance(v, str) and v.startswith("infra"))


def cell_facts(record: CellRecord) -> dict[str, Any]:
    scores = record.scores or {}
    verdict = axis(scores, "verdict")
    tokens = axis(scores, "tokens")
    calls = record.calls
    pass_value = axis(scores, "pass_rate").get("pass")
    if pass_value is None and record.facts.tests.ran:
        pass_value = 1.0 if record.facts.tests.exit_code == 0 else 0.0

    def total(field: str) -> int:
        return sum(getattr(c, field) or 0 for c in calls)

    return {
        "verdict": verdict.get("verdict"),
        "infra": is_infra(verdict),
        "reason": verdict.get("reason"),
        "pass": float(pass_value) if pass_value is not None else None,
        "composite": axis(scores, "composite").get("composite"),
        "prompt_tokens": tokens.get("prompt_tokens", total("prompt_tokens")),
        "completion_tokens": tokens.get("completion_tokens", total("completion_tokens")),
        "total_tokens": tokens.get("total_tokens", total("total_tokens")),
        "model_calls": tokens.get("model_calls", sum(1 for c in calls if c.completed)),
        "wall_clock_ms": axis(scores, "latency").get(
            "wall_clock_ms", record.facts.timing.wall_clock_ms
        ),
    }
