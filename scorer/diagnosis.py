"""`cab diagnose`: the throttle account read together with the verdict, as a story and advice.

Pure. The story is told from the verdict's own evidence (how the final streak ended the
run), so it never contradicts the verdict; `timed_out` separates "the budget ran out while
the agent honoured Retry-After" from "the agent gave up". The time lost counts the last
wait after a 429 up to the agent's end. Advice fits the case and points at things that
exist: the agent CLI's retry flag or env var (its adapter's `retry_hint`), the cell's
`timeout_s`, the provider's quota and key, the model id, the sweep's concurrency.
"""

from __future__ import annotations

import math

from pydantic import BaseModel

from proxy.records import ModelCall
from scorer.evidence import AgentFacts
from scorer.streak import is_endpoint_missing, is_model_not_found, out_of_credit, status_of
from scorer.throttle import ThrottleAccount, account, backoff_advice, proxy_notes, quota_advice
from scorer.timeline import ordered, throttled_wait_ms
from scorer.verdict import Verdict


class Context(BaseModel):
    """What the caller knows beyond the calls: the agent's facts and its CLI's knobs."""

    agent: AgentFacts | None = None
    tui: str | None = None
    retry_hint: str | None = None
    sweep_concurrency: int | None = None


class Diagnosis(ThrottleAccount):
    """What `cab diagnose` prints: the account, the verdict, the story and the advice."""

    verdict: Verdict | None
    story: str | None = None
    timed_out: bool = False
    time_lost_ms: float = 0.0


def _secs(ms: float) -> str:
    return f"{ms / 1000:.1f} s"


def diagnose(
    calls: list[ModelCall], verdict: Verdict | None = None, ctx: Context | None = None
) -> Diagnosis:
    ctx = ctx or Context()
    calls = ordered(calls)
    acct = account(calls)
    agent = ctx.agent
    end = agent.ended_at if agent else None
    d = Diagnosis(
        **dict(acct),
        verdict=verdict,
        timed_out=bool(agent and agent.timed_out),
        time_lost_ms=round(throttled_wait_ms(calls, until=end), 3),
    )
    streak = (verdict.evidence.get("streak") if verdict else None) or {}
    if verdict is not None and streak.get("ended_by") != "agent_exit":
        d.gave_up = None  # the agent did not give up: the budget or a kill ended it
    if verdict is not None and not verdict.infra and d.timed_out:
        d.gave_up = None
    d.story = _story(d, verdict, streak, agent)
    d.advice = proxy_notes(d) + advise(d, calls, verdict, ctx)  # what the proxy did, first
    return d


def _story(d: Diagnosis, verdict: Verdict | None, streak: dict, agent: AgentFacts | None) -> str:
    if verdict is None:
        return ""
    ended_by = streak.get("ended_by")
    budget = agent.budget_s if agent else None
    of_budget = f" of its {budget:g} s budget" if budget else ""
    if ended_by == "agent_exit" and d.gave_up is not None:
        g = d.gave_up
        return (
            f"The agent gave up at call {g.seq} ({g.t_ms / 1000:.1f} s in) after "
            f"{g.failing_attempts} failed attempt(s), last status {g.last_status}: "
            f"{verdict.verdict}."
        )
    if ended_by == "agent_exit":
        return f"The agent stopped inside a streak of provider failures: {verdict.verdict}."
    if ended_by == "timeout":
        how = (
            "while the agent honoured Retry-After"
            if d.retry_after.summary == "honoured" and d.throttled
            else "while the agent kept retrying"
        )
        covers = _secs(streak.get("covers_ms", 0.0))
        return f"The cell's budget ran out {how} ({covers}{of_budget} in the final streak)."
    if ended_by == "in_flight":
        return "The cell's budget ran out while a call was still waiting for the provider."
    lost = verdict.evidence.get("lost_to_provider")
    if lost:  # worn down: no final streak, the failures it recovered from took the time
        return (
            f"The cell's budget ran out after the provider's failures, each recovered from, "
            f"took {_secs(lost['lost_ms'])}{of_budget}."
        )
    if d.timed_out:
        return f"The agent ran out its budget{of_budget}; the provider did not end the run."
    if verdict.infra:
        return f"{verdict.verdict}: {verdict.sentence}"
    return "The run ended on the agent's own terms; the provider did not end it."


def advise(
    d: Diagnosis, calls: list[ModelCall], verdict: Verdict | None, ctx: Context
) -> list[str]:
    """Concrete changes for this case, most useful first."""
    reason = verdict.reason if verdict else None
    if reason in ("auth", "config", "container", "harness"):
        return [_fix_setup(reason, calls, verdict)]
    advice: list[str] = []
    if reason == "provider_error":
        advice.append(_provider_advice(calls))
    if d.throttled:
        advice += _throttle_advice(d, calls, verdict, ctx)
    if not advice:
        lost = verdict.evidence.get("recovered_failures") if verdict else None
        advice.append(
            f"Nothing to change on the provider's side: it cost {_secs(lost['time_lost_ms'])} "
            "but the agent recovered."
            if lost
            else "Nothing to change on the provider's side: the result is the agent's."
        )
    return advice


def _fix_setup(reason: str, calls: list[ModelCall], verdict: Verdict | None) -> str:
    broke = [c for c in calls if out_of_credit(c)]
    if reason == "auth" and broke:
        status = max((status_of(c) or 0) for c in broke)
        said = f"HTTP {status}" if status >= 400 else "said inside its answer"
        return (
            f"The provider account is out of credit ({said}): add credit, or give the model "
            "another key_env (config/models.toml, or --key-env), then rerun."
        )
    if reason == "auth":
        return (
            "The provider refused the key: the proxy sends the env var named by the model's "
            "key_env (config/models.toml, or --key-env); fix or rotate that key, then rerun."
        )
    if reason == "config":
        model = next((c.model for c in calls if c.model), "this model")
        if any(c.outcome == "context_length" for c in calls):
            return (
                f"{model}'s context window cannot hold this task's first prompt: pick a model "
                "or deployment with a larger window (config/models.toml)."
            )
        missing = [c for c in calls if is_endpoint_missing(c)]
        if missing and not any(is_model_not_found(c) for c in calls):
            return (
                f"The endpoint answered 404 to {missing[0].path}: its base URL is likely wrong"
                " (an OpenAI-compatible base ends in /v1): fix endpoint in config/models.toml"
                " (or --endpoint), then rerun."
            )
        return (
            f"The provider does not know the model id {model!r}: fix model_id in "
            "config/models.toml (or --model / --endpoint), then rerun."
        )
    detail = verdict.sentence if verdict else ""
    return f"Not the model's doing: {detail} Check the sandbox and the harness, then rerun."


def _provider_advice(calls: list[ModelCall]) -> str:
    failed = [c for c in calls if not c.completed]
    hung = [c for c in failed if c.outcome in ("timeout", "client_disconnected")]
    if hung:
        return (
            f"The provider stopped answering ({len(hung)} call(s) hung): check its status; "
            "resuming the sweep (`cab sweep FILE` again) retries infra cells."
        )
    return (
        f"The provider failed {len(failed)} time(s): check its status or endpoint; resuming "
        "the sweep (`cab sweep FILE` again) retries infra cells."
    )


def _throttle_advice(
    d: Diagnosis, calls: list[ModelCall], verdict: Verdict | None, ctx: Context
) -> list[str]:
    advice = quota_advice(d)
    n = _sweep_concurrency(calls, ctx.sweep_concurrency)
    if n is not None:
        advice.append(n)
    advice += backoff_advice(d)
    evidence = verdict.evidence if verdict else {}
    streak = evidence.get("streak") or {}
    if streak.get("ended_by") in ("timeout", "in_flight") or evidence.get("lost_to_provider"):
        budget = ctx.agent.budget_s if ctx.agent else None
        advice.append(
            f"Raise timeout_s (the cell's budget{f', now {budget:g} s' if budget else ''}; "
            "`cab run-cell --timeout`, a sweep's timeout_s) or the provider's quota: "
            f"{_secs(d.time_lost_ms)} went to waiting out 429s."
        )
    elif d.gave_up is not None:
        asked = max((c.retry_after_s or 0 for c in calls), default=0)
        how = f" For {ctx.tui}: {ctx.retry_hint}." if ctx.retry_hint else ""
        advice.append(
            f"Raise the agent's retry budget: it gave up after {d.gave_up.failing_attempts} "
            f"failed attempt(s) over {_secs(d.gave_up.t_ms)}"
            + (f"; the provider asked for up to {asked:g} s between tries." if asked else ".")
            + how
        )
    if (
        verdict is not None
        and verdict.reason == "rate_limit"
        and not any(c.absorbed for c in calls)
    ):
        advice.append(
            "Or let the proxy absorb 429s (it retries upstream honouring Retry-After and the "
            "agent never sees them): `absorb = true` on the model in config/models.toml or the "
            "sweep file, or `cab proxy --absorb`."
        )
    return advice


def _sweep_concurrency(calls: list[ModelCall], concurrency: int | None) -> str | None:
    """The sweep's concurrency the measured rate allows (only for a cell of a sweep): the
    provider's request limit (x-ratelimit-limit-requests) over one cell's request rate,
    else half the current concurrency."""
    if not concurrency or concurrency <= 1 or len(calls) < 2:
        return None
    minutes = (calls[-1].ended_at - calls[0].started_at).total_seconds() / 60
    if minutes <= 0:
        return None
    per_cell = len(calls) / minutes
    limit = next(
        (
            int(v)
            for c in calls
            for k, v in c.rate_limit_headers.items()
            if k.lower() == "x-ratelimit-limit-requests" and v.isdigit()
        ),
        None,
    )
    if limit:
        n = max(1, min(concurrency - 1, math.floor(limit / per_cell)))
        why = f"the provider allows {limit} requests/min and one cell made {per_cell:.0f}/min"
    else:
        n = max(1, concurrency // 2)
        why = f"one cell made {per_cell:.0f} requests/min and was throttled"
    return f"Lower the sweep's concurrency from {concurrency} to {n}: {why}."
