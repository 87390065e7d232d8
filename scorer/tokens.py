"""tokens: what the cell spent, and per correct task.

`model_calls` counts completed calls (outcome ok); throttled and failed attempts are
counted beside it. Token sums cover every call that reported (or had estimated) tokens,
because a call cut off mid-stream still cost them. `tokens_per_correct_task` is
total_tokens / pass when pass > 0, else 0 — the reference page's convention (0 with
`pass_used_for_division` 0), not "free".
"""

from __future__ import annotations

from collections import Counter

from pydantic import BaseModel

from scorer import pass_rate
from scorer.config import ScoringConfig
from scorer.evidence import Evidence
from scorer.timeline import tidy


class Tokens(BaseModel):
    # the reference page's keys
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int
    model_calls: int
    tokens_per_correct_task: float | int
    pass_used_for_division: int
    # extras
    estimated: bool
    calls_without_usage: int
    attempts: int
    throttled_attempts: int
    failed_attempts: int
    outcomes: dict[str, int]
    cached_tokens: int
    reasoning_tokens: int


def score(evidence: Evidence, config: ScoringConfig | None = None) -> Tokens:
    calls = evidence.calls
    prompt = completion = total = cached = reasoning = 0
    estimated = False
    without_usage = 0
    for call in calls:
        p, c = call.prompt_tokens or 0, call.completion_tokens or 0
        t = call.total_tokens if call.total_tokens is not None else p + c
        prompt, completion, total = prompt + p, completion + c, total + t
        cached += call.cached_tokens or 0
        reasoning += call.reasoning_tokens or 0
        if call.tokens_source == "estimated":
            estimated = True
        if call.completed and call.total_tokens is None and call.prompt_tokens is None:
            without_usage += 1
    outcomes = Counter(call.outcome for call in calls)
    completed = outcomes.get("ok", 0)
    throttled = outcomes.get("rate_limited", 0)
    passed = pass_rate.score(evidence, config).pass_
    return Tokens(
        prompt_tokens=prompt,
        completion_tokens=completion,
        total_tokens=total,
        model_calls=completed,
        tokens_per_correct_task=tidy(total / passed) if passed > 0 else 0,
        pass_used_for_division=passed,
        estimated=estimated or without_usage > 0,
        calls_without_usage=without_usage,
        attempts=len(calls),
        throttled_attempts=throttled,
        failed_attempts=len(calls) - completed - throttled,
        outcomes=dict(sorted(outcomes.items())),
        cached_tokens=cached,
        reasoning_tokens=reasoning,
    )
