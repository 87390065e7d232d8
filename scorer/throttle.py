"""The throttle account: what the provider asked, what the agent did, what to change.

Pure: a list of ModelCall in, a ThrottleAccount out. It is the one account of throttling:
the scorecard stores it (`Scorecard.throttle`), the cell page's "Watch it get throttled"
only draws it, and `cab diagnose` prints it with the verdict (a Diagnosis). For each
attempt the timeline shows the status, the Retry-After the provider asked for, the gap
the agent actually waited before its next attempt, and the provider's remaining
request/token headers; then the time lost to throttling (`throttled_ms`, the same
`scorer.timeline.throttled_wait_ms` the latency axis and the verdict report), whether
Retry-After was honoured, when the agent gave up, and concrete advice.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime

from pydantic import BaseModel

from proxy.records import ModelCall
from scorer.timeline import (
    held_intervals,
    next_attempt,
    ordered,
    peak_concurrency,
    throttled_wait_ms,
    union_ms,
)
from scorer.verdict import PROVIDER_FAILURES, Verdict

#: Slack when checking Retry-After: clocks and schedulers are not exact.
HONOUR_SLACK_MS = 50.0

_HEADERS = {
    "remaining_requests": ("x-ratelimit-remaining-requests", "ratelimit-remaining"),
    "remaining_tokens": ("x-ratelimit-remaining-tokens",),
    "reset_requests": ("x-ratelimit-reset-requests", "ratelimit-reset"),
    "reset_tokens": ("x-ratelimit-reset-tokens",),
}


class CallRow(BaseModel):
    seq: int
    started_at: datetime
    t_ms: float
    status_code: int | None
    outcome: str
    latency_ms: float
    retry_after_s: float | None
    waited_ms: float | None  # from this attempt's end to the next attempt's start
    honoured: bool | None  # waited at least Retry-After (None: not asked or no next)
    remaining_requests: str | None
    remaining_tokens: str | None
    reset_requests: str | None
    reset_tokens: str | None


class RetryAfter(BaseModel):
    asked: int  # 429s that carried Retry-After and were followed by another attempt
    honoured: int
    ignored: int
    summary: str  # "honoured" | "ignored" | "partly honoured" | "not asked"


class GaveUp(BaseModel):
    seq: int
    at: datetime
    t_ms: float
    failing_attempts: int  # the run of failed attempts it ended on
    last_status: int | None
    last_retry_after_s: float | None


class ThrottleAccount(BaseModel):
    """Stored with the scorecard; every number the throttle picture shows comes from here."""

    attempts: int
    completed: int
    throttled: int
    throttled_ms: float
    peak_concurrency: int
    retry_after: RetryAfter
    gave_up: GaveUp | None
    advice: list[str]
    timeline: list[CallRow]
    # what the proxy did about it (docs/proxy.md, "The governor")
    governor_held: int = 0  # calls the governor held back before they went upstream
    governor_held_ms: float = 0  # the union of those holds
    absorbed: int = 0  # attempts the proxy retried itself; the agent never saw them
    injected: dict[str, int] = {}  # faults the proxy served instead of the provider

    @property
    def throttled_rows(self) -> list[CallRow]:
        """The 429s, in order: what "asked vs waited" draws."""
        return [r for r in self.timeline if r.outcome == "rate_limited"]


class Diagnosis(ThrottleAccount):
    """What `cab diagnose` prints: the account and the cell's verdict."""

    verdict: Verdict | None


def _header(call: ModelCall, names: tuple[str, ...]) -> str | None:
    lowered = {k.lower(): v for k, v in call.rate_limit_headers.items()}
    return next((lowered[n] for n in names if n in lowered), None)


def _secs(ms: float) -> str:
    return f"{ms / 1000:.1f} s"


def diagnose(calls: list[ModelCall], verdict: Verdict | None = None) -> Diagnosis:
    return Diagnosis(**dict(account(calls)), verdict=verdict)


def _rows(calls: list[ModelCall]) -> list[CallRow]:
    """One row per attempt of `ordered` calls."""
    if not calls:
        return []
    t0 = calls[0].started_at
    rows: list[CallRow] = []
    for call in calls:
        nxt = next_attempt(calls, call)
        waited = (nxt.started_at - call.ended_at).total_seconds() * 1000 if nxt else None
        honoured = None
        if call.outcome == "rate_limited" and call.retry_after_s is not None and waited is not None:
            honoured = waited + HONOUR_SLACK_MS >= call.retry_after_s * 1000
        heads = {k: _header(call, names) for k, names in _HEADERS.items()}
        rows.append(
            CallRow(
                seq=call.seq,
                started_at=call.started_at,
                t_ms=round((call.started_at - t0).total_seconds() * 1000, 3),
                status_code=call.status_code,
                outcome=call.outcome,
                latency_ms=call.latency_ms,
                retry_after_s=call.retry_after_s,
                waited_ms=None if waited is None else round(waited, 3),
                honoured=honoured,
                **heads,
            )
        )
    return rows


def account(calls: list[ModelCall]) -> ThrottleAccount:
    calls = ordered(calls)
    rows = _rows(calls)
    judged = [r.honoured for r in rows if r.honoured is not None]
    kept = sum(judged)
    retry = RetryAfter(
        asked=len(judged),
        honoured=kept,
        ignored=len(judged) - kept,
        summary=(
            "not asked"
            if not judged
            else "honoured"
            if kept == len(judged)
            else "ignored"
            if kept == 0
            else "partly honoured"
        ),
    )
    gave_up = _gave_up(calls, rows)
    throttled = sum(c.outcome == "rate_limited" for c in calls)
    diag = ThrottleAccount(
        attempts=len(calls),
        completed=sum(c.completed for c in calls),
        throttled=throttled,
        throttled_ms=round(throttled_wait_ms(calls), 3),
        peak_concurrency=peak_concurrency(calls),
        retry_after=retry,
        gave_up=gave_up,
        advice=[],
        timeline=rows,
        governor_held=len(held_intervals(calls)),
        governor_held_ms=round(union_ms(held_intervals(calls)), 3),
        absorbed=sum(c.absorbed for c in calls),
        injected=dict(sorted(Counter(c.injected for c in calls if c.injected).items())),
    )
    diag.advice = proxy_notes(diag) + advise(diag, calls)
    return diag


def proxy_notes(d: ThrottleAccount) -> list[str]:
    """What the proxy did: held calls back, absorbed 429s, injected faults."""
    notes = []
    if d.injected:
        faults = ", ".join(f"{k} ×{n}" for k, n in d.injected.items())
        notes.append(
            f"Faults were injected by the proxy ({faults}): this cell measures how the agent "
            "copes with them, not a clean capability result."
        )
    if d.governor_held:
        notes.append(
            f"The proxy's governor held {d.governor_held} call(s) back "
            f"({_secs(d.governor_held_ms)} in all) to keep the sweep inside the provider's "
            "quota; that wait is not charged to the agent's latency."
        )
    if d.absorbed:
        notes.append(
            f"The proxy absorbed {d.absorbed} throttled/overloaded attempt(s), retrying "
            "upstream itself; the agent saw only the final answers."
        )
    return notes


def _gave_up(calls: list[ModelCall], rows: list[CallRow]) -> GaveUp | None:
    """The agent gave up when its last attempt was a throttle/provider failure."""
    if not calls or calls[-1].completed:
        return None
    last = calls[-1]
    if last.outcome not in PROVIDER_FAILURES | {"rate_limited"}:
        return None
    run = 0
    for call in reversed(calls):
        if call.completed:
            break
        run += 1
    return GaveUp(
        seq=last.seq,
        at=last.ended_at,
        t_ms=round(rows[-1].t_ms + last.latency_ms, 3),
        failing_attempts=run,
        last_status=last.status_code,
        last_retry_after_s=last.retry_after_s,
    )


def quota_advice(d: ThrottleAccount) -> list[str]:
    """What the provider's quota headers and the calls' overlap say to change (the
    account's advice and `cab diagnose` both start from these lines)."""
    advice: list[str] = []
    exhausted = [r for r in d.timeline if r.remaining_requests == "0" or r.remaining_tokens == "0"]
    if exhausted:
        r = exhausted[0]
        which = "requests" if r.remaining_requests == "0" else "tokens"
        reset = r.reset_requests if which == "requests" else r.reset_tokens
        advice.append(
            f"The provider's {which} quota ran out at call {r.seq} (remaining {which} 0"
            f"{', resets in ' + reset if reset else ''}): spread the sweep out or raise the quota."
        )
    if d.peak_concurrency > 1:
        advice.append(
            f"Lower concurrency to {max(1, d.peak_concurrency // 2)}: {d.peak_concurrency} calls "
            "were in flight at once."
        )
    return advice


def backoff_advice(d: ThrottleAccount) -> list[str]:
    if not d.retry_after.ignored:
        return []
    return [
        f"The agent retried before Retry-After elapsed {d.retry_after.ignored} of "
        f"{d.retry_after.asked} times: configure its backoff to honour Retry-After."
    ]


def advise(d: ThrottleAccount, calls: list[ModelCall]) -> list[str]:
    """Concrete things a person can change, most useful first."""
    advice: list[str] = []
    if not d.throttled:
        if d.gave_up:
            advice.append(
                f"No throttling, but the provider failed (HTTP {d.gave_up.last_status}) and the "
                "agent stopped: check the provider's status or endpoint, then rerun."
            )
        else:
            advice.append("No throttling seen: nothing to change.")
        return advice
    advice += quota_advice(d)
    if d.peak_concurrency <= 1:
        advice.append(
            "Lower concurrency to 1 cell per model/key (calls were already sequential): "
            "run fewer cells against this provider at a time."
        )
    advice += backoff_advice(d)
    if d.gave_up and d.completed == 0:
        asked = max((c.retry_after_s or 0 for c in calls), default=0)
        advice.append(
            f"Raise the agent's retry budget: it gave up after {d.gave_up.failing_attempts} "
            f"failed attempt(s) over {_secs(d.gave_up.t_ms)}"
            + (f"; the provider asked for up to {asked:g} s between tries." if asked else ".")
        )
    advice.append(
        "Let the proxy absorb 429s: have it retry upstream itself, honouring Retry-After, "
        "so the agent never sees a throttle."
    )
    return advice
