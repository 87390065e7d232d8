"""The verdict: is this cell's result the agent's (capability) or the infrastructure's?

Infra only when the agent never got a fair chance, in this order:
- harness: our own failure (Evidence.harness_error);
- container: the sandbox failed before the agent ran (agent.started False or agent.error);
- auth: no call succeeded and the provider answered 401/403;
- rate_limit: no call succeeded and the attempts were throttled (429);
- provider_error: no call succeeded and the provider failed (5xx, unreachable, timeout).
Everything else is capability — including an agent that made no calls and exited 1, or
whose tests timed out, or that was throttled after doing real work (the sentence then
says how much throttling it met). A cell whose tests pass although no model call ever
succeeded (a refusal task's untouched workspace passes) measured nothing of the model:
it is infra too, and its evidence says the tests passed without the model.
"""

from __future__ import annotations

from collections import Counter
from typing import Literal

from pydantic import BaseModel

from scorer.evidence import Evidence
from scorer.timeline import throttled_wait_ms

Reason = Literal["rate_limit", "provider_error", "auth", "container", "harness"]

PROVIDER_FAILURES = {"upstream_error", "timeout", "connection_error"}

SENTENCES: dict[str, str] = {
    "rate_limit": "Provider rate limit (HTTP 429) — the agent exhausted its retries "
    "before doing any work. Infra, not capability.",
    "provider_error": "Provider failure ({detail}) — no model call succeeded, so the agent "
    "never got to work. Infra, not capability.",
    "auth": "Provider refused the credentials (HTTP {detail}) — no model call was "
    "authorised. Infra, not capability: fix the key the proxy sends upstream.",
    "container": "The sandbox failed before the agent ran ({detail}). Infra, not capability.",
    "harness": "The benchmark harness failed ({detail}). Infra, not capability.",
}


class Verdict(BaseModel):
    verdict: str  # "capability" | "infra:<reason>"
    reason: Reason | None
    infra: bool
    sentence: str
    evidence: dict


def _short(text: str, n: int = 160) -> str:
    text = " ".join(text.split())
    return text if len(text) <= n else text[: n - 1] + "…"


def _secs(ms: float) -> str:
    return f"{ms / 1000:.1f} s"


def judge(evidence: Evidence, passed: bool = False) -> Verdict:
    calls = evidence.calls
    outcomes = Counter(c.outcome for c in calls)
    statuses = Counter(str(c.status_code) for c in calls if c.status_code is not None)
    completed = outcomes.get("ok", 0)
    throttled = outcomes.get("rate_limited", 0)
    wait_ms = round(throttled_wait_ms(calls), 3)
    facts: dict = {
        "attempts": len(calls),
        "completed_calls": completed,
        "throttled_attempts": throttled,
        "throttled_wait_ms": wait_ms,
        "outcomes": dict(sorted(outcomes.items())),
        "status_codes": dict(sorted(statuses.items())),
        "agent_started": evidence.agent.started,
        "agent_exit_code": evidence.agent.exit_code,
        "agent_timed_out": evidence.agent.timed_out,
    }
    injected = Counter(c.injected for c in calls if c.injected)
    if injected:
        facts["injected_faults"] = dict(sorted(injected.items()))
    failures = [c for c in sorted(calls, key=lambda c: (c.started_at, c.seq)) if not c.completed]
    if failures:
        last = failures[-1]
        facts["last_failure"] = {
            "seq": last.seq,
            "status_code": last.status_code,
            "outcome": last.outcome,
            "error": _short(last.error) if last.error else None,
        }

    def infra(reason: Reason, detail: str = "") -> Verdict:
        return Verdict(
            verdict=f"infra:{reason}",
            reason=reason,
            infra=True,
            sentence=SENTENCES[reason].format(detail=detail) + _injected_note(injected),
            evidence=facts,
        )

    if evidence.harness_error:
        facts["harness_error"] = _short(evidence.harness_error)
        return infra("harness", _short(evidence.harness_error, 80))
    misses = [c for c in failures if c.outcome == "replay_miss"]
    if misses:  # a replay whose run left the recording: the harness's finding, not the agent's
        facts["replay_miss"] = {"seq": misses[0].seq, "error": _short(misses[0].error or "")}
        return infra("harness", f"the replay diverged from its recording at call {misses[0].seq}")
    if not evidence.agent.started or evidence.agent.error:
        error = evidence.agent.error or "the agent never started"
        facts["agent_error"] = _short(error)
        return infra("container", _short(error, 80))
    if calls and completed == 0:
        if passed:
            facts["tests_passed_without_a_model_call"] = True
        auth = [c for c in failures if c.outcome == "auth_error" or c.status_code in (401, 403)]
        if auth:
            return infra("auth", str(auth[0].status_code or 401))
        provider = [
            c for c in failures if c.outcome in PROVIDER_FAILURES or c.outcome == "rate_limited"
        ]
        if provider:
            last = provider[-1]
            if last.outcome == "rate_limited":
                return infra("rate_limit")
            detail = f"HTTP {last.status_code}" if last.status_code else last.outcome
            return infra("provider_error", detail.replace("_", " "))

    sentence = (
        "Capability: the hidden tests passed."
        if passed
        else "Capability: the agent ran and the hidden tests did not pass; that is its result."
    )
    if calls and completed == 0:
        sentence = sentence[:-1] + " (no model call succeeded, but none failed for infra reasons)."
    if not calls and not passed:
        sentence = "Capability: the agent made no model calls and the hidden tests did not pass."
    if throttled:
        sentence += (
            f" It met {throttled} rate-limited attempt(s) ({_secs(wait_ms)} lost waiting) "
            f"beside {completed} completed call(s)."
        )
    sentence += _injected_note(injected)
    return Verdict(
        verdict="capability", reason=None, infra=False, sentence=sentence, evidence=facts
    )


def _injected_note(injected: Counter) -> str:
    """Said on every verdict of a cell that met injected faults (never a clean result)."""
    if not injected:
        return ""
    total = sum(injected.values())
    return (
        f" Faults were injected into {total} call(s) "
        f"({', '.join(f'{k} ×{n}' for k, n in sorted(injected.items()))}): "
        "a robustness measurement, not a clean capability result."
    )
