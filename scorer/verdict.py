"""The verdict: is this cell's result the agent's (capability) or the infrastructure's?

In this order:
- harness: our own failure (Evidence.harness_error);
- container: the sandbox failed before the agent ran, killed the agent from outside
  (exit 137, not timed out, not OOM-killed), or the agent never reached the proxy
  (no call recorded, connection errors in its log);
- a pass stays capability when any model call completed (if none did, the pass says
  nothing of the model, and the final streak below decides);
- an OOM kill within the cell's own memory limit is the agent's;
- the infra streak: a cell that did not pass is infra when its run ended inside an
  unbroken final streak of infra-type failures (scorer.streak): the agent exited on its
  own (any exit code), or it timed out and the streak, waits included, covers at least
  half its budget, or its budget ran out while a streak call was in flight. The reason
  is `auth` when the streak holds a 401/403, else the type of its last failure
  (`rate_limit`, `provider_error`, `config`, `harness`), every type in the evidence.
Everything else is capability, and its sentence says what the provider cost it.
When in doubt (a call counted as hung because it was open far longer than any answer)
the verdict leans to infra and says so: a false infra costs one retry, a false
capability silently lowers a pass rate.
"""

from __future__ import annotations

import re
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Literal

from pydantic import BaseModel

from scorer.evidence import AgentFacts, Evidence
from scorer.streak import (
    Lost,
    RunWindow,
    Streak,
    final_streak,
    is_endpoint_missing,
    is_moderated,
    lost_to_provider,
    out_of_credit,
    recovered_ms,
    status_of,
)
from scorer.timeline import ordered, throttled_wait_ms

Reason = Literal["rate_limit", "provider_error", "auth", "config", "container", "harness"]
EndedBy = Literal["agent_exit", "timeout", "in_flight"]

#: Outcomes that are the provider failing (kept for callers that list them).
PROVIDER_FAILURES = {"upstream_error", "timeout", "connection_error", "upstream_malformed"}
#: The streak must cover this share of the budget when the agent timed out.
TIMEOUT_SHARE = 0.5
#: Lines of an agent's log that say it could not connect (to the proxy).
_CONNECT_ERROR = re.compile(
    r"connection refused|ECONNREFUSED|failed to establish a new connection|"
    r"APIConnectionError|Connection error|urlopen error|Name or service not known|"
    r"Could not connect|Connection reset",
    re.IGNORECASE,
)
INFRA_TAIL = "Infra, not capability."


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


def run_window(evidence: Evidence) -> RunWindow:
    """The agent's start, end, budget and client timeout; old records lack the times, so
    they are rebuilt from the calls and the wall clock."""
    agent, calls = evidence.agent, ordered(evidence.calls)
    wall = timedelta(milliseconds=evidence.timing.wall_clock_ms or 0)
    start = agent.started_at or (calls[0].started_at if calls else datetime.min.replace(tzinfo=UTC))
    end = agent.ended_at or (start + wall if wall else None)
    if calls:
        end = max(end or start, max(c.ended_at for c in calls))
    budget = agent.budget_s
    if budget is None and agent.timed_out and wall:
        budget = wall.total_seconds()  # a timed-out run lasted its budget
    first = calls[0].started_at if calls else None
    return RunWindow(start, end or start, budget, agent.client_timeout_s, first)


def killed_externally(agent: AgentFacts) -> bool:
    """Ended by something other than the harness: SIGKILL, not at the timeout, not OOM."""
    if agent.timed_out or agent.oom_killed:
        return False
    return agent.killed_externally or agent.exit_code in (137, -9) or agent.signal == 9


def connection_errors(agent: AgentFacts) -> list[str]:
    lines = (agent.stdout_tail + "\n" + agent.stderr_tail).splitlines()
    return [_short(line, 120) for line in lines if _CONNECT_ERROR.search(line)]


def _facts(evidence: Evidence, window: RunWindow) -> dict:
    calls, agent = evidence.calls, evidence.agent
    outcomes = Counter(c.outcome for c in calls)
    statuses = Counter(str(c.status_code) for c in calls if c.status_code is not None)
    facts: dict = {
        "attempts": len(calls),
        "completed_calls": outcomes.get("ok", 0),
        "throttled_attempts": outcomes.get("rate_limited", 0),
        "throttled_wait_ms": round(throttled_wait_ms(calls), 3),
        "outcomes": dict(sorted(outcomes.items())),
        "status_codes": dict(sorted(statuses.items())),
        "agent_started": agent.started,
        "agent_exit_code": agent.exit_code,
        "agent_timed_out": agent.timed_out,
    }
    extra = {
        "agent_signal": agent.signal,
        "agent_oom_killed": agent.oom_killed or None,
        "agent_killed_externally": killed_externally(agent) or None,
        "budget_s": window.budget_s,
    }
    facts.update({k: v for k, v in extra.items() if v is not None})
    injected = Counter(c.injected for c in calls if c.injected)
    if injected:
        facts["injected_faults"] = dict(sorted(injected.items()))
    failures = [c for c in ordered(calls) if not c.completed]
    if failures:
        last = failures[-1]
        facts["last_failure"] = {
            "seq": last.seq,
            "status_code": last.status_code,
            "outcome": last.outcome,
            "error": _short(last.error) if last.error else None,
        }
    return facts


def _verdict(reason: Reason | None, sentence: str, facts: dict) -> Verdict:
    return Verdict(
        verdict=f"infra:{reason}" if reason else "capability",
        reason=reason,
        infra=reason is not None,
        sentence=sentence + _injected_note(facts.get("injected_faults")),
        evidence=facts,
    )


def _injected_note(injected: dict[str, int] | None) -> str:
    """Said on every verdict of a cell that met injected faults (never a clean result)."""
    if not injected:
        return ""
    faults = ", ".join(f"{k} ×{n}" for k, n in injected.items())
    return (
        f" Faults were injected into {sum(injected.values())} call(s) ({faults}): "
        "a robustness measurement, not a clean capability result."
    )


def judge(evidence: Evidence, passed: bool = False) -> Verdict:
    window = run_window(evidence)
    facts = _facts(evidence, window)
    early = _outside_the_agent(evidence, facts, passed)
    if early is not None:
        return early
    calls, agent = evidence.calls, evidence.agent
    completed = facts["completed_calls"]
    if passed and (completed or not calls):
        return _capability(evidence, window, facts, passed)
    if agent.oom_killed:
        limit = f" ({agent.mem_limit})" if agent.mem_limit else ""
        sentence = (
            f"Capability: the agent was killed for exceeding the cell's memory limit{limit}; "
            "that is its own result."
        )
        return _verdict(None, sentence, facts)
    streak = final_streak(calls, window)
    ended_by = _ended_by(streak, agent, window) if streak else None
    if streak is not None and ended_by is not None:
        if passed:
            facts["tests_passed_without_a_model_call"] = True
        return _infra_streak(streak, ended_by, evidence, facts)
    if agent.timed_out and not passed:
        lost = lost_to_provider(calls, window, streak)
        work = window.work_budget_s
        if work and (lost.types or lost.held) and lost.ms >= TIMEOUT_SHARE * work * 1000:
            return _worn_down(lost, work, facts)
    return _capability(evidence, window, facts, passed, streak)


#: what a run the provider wore down met, by the failures' main type
_WORN_BY: dict[str, str] = {
    "rate_limit": "Provider rate limits",
    "auth": "Provider refusals of the credentials",
}


def _worn_down(lost: Lost, work_s: float, facts: dict) -> Verdict:
    """Timed out after the provider's failures, recovered from one by one, took at least
    half the budget it had after its first model call: a quota that bites again and
    again as the context grows (each 429 honoured, each retry answered, and then the next
    one) cuts a run short as surely as a final streak does."""
    reason = lost.reason
    facts["lost_to_provider"] = {
        "attempts": len(lost.types),
        "types": dict(sorted(Counter(lost.types).items())),
        "held_by_governor": lost.held,
        "lost_ms": round(lost.ms, 3),
        "work_budget_s": round(work_s, 3),
    }
    what = _WORN_BY.get(reason, "Provider failures")
    held = f" and {lost.held} call(s) the proxy held for the quota" if lost.held else ""
    sentence = (
        f"{what} took {_secs(lost.ms)} of the {work_s:.0f} s the agent had after its first "
        f"model call ({len(lost.types)} failed attempt(s){held} between "
        f"{facts['completed_calls']} completed call(s)), and the budget ran out. {INFRA_TAIL}"
    )
    return _verdict(reason, sentence, facts)


def _outside_the_agent(evidence: Evidence, facts: dict, passed: bool) -> Verdict | None:
    """harness, container: failures around the agent rather than of its calls."""
    agent = evidence.agent
    if evidence.harness_error:
        facts["harness_error"] = _short(evidence.harness_error)
        detail = _short(evidence.harness_error, 80)
        return _verdict("harness", f"The benchmark harness failed ({detail}). {INFRA_TAIL}", facts)
    misses = [c for c in evidence.calls if c.outcome == "replay_miss"]
    if misses:  # a replay whose run left the recording: the harness's finding, not the agent's
        facts["replay_miss"] = {"seq": misses[0].seq, "error": _short(misses[0].error or "")}
        detail = f"the replay diverged from its recording at call {misses[0].seq}"
        return _verdict("harness", f"The benchmark harness failed ({detail}). {INFRA_TAIL}", facts)
    if not agent.started or agent.error:
        error = agent.error or "the agent never started"
        facts["agent_error"] = _short(error)
        sentence = f"The sandbox failed before the agent ran ({_short(error, 80)}). {INFRA_TAIL}"
        return _verdict("container", sentence, facts)
    if passed:
        return None
    if killed_externally(agent):
        code = agent.exit_code if agent.exit_code is not None else f"signal {agent.signal}"
        sentence = (
            f"The agent's container was killed from outside the harness (exit {code}; not at "
            f"its time limit, not for memory). {INFRA_TAIL}"
        )
        return _verdict("container", sentence, facts)
    errors = connection_errors(agent)
    if not evidence.calls and errors:
        facts["agent_connection_errors"] = {"count": len(errors), "first": errors[0]}
        sentence = (
            f"The agent could not reach the proxy: no model call was recorded and its log "
            f"shows {len(errors)} connection error(s) (first: {errors[0]!r}). {INFRA_TAIL}"
        )
        return _verdict("container", sentence, facts)
    return None


def _ended_by(streak: Streak, agent: AgentFacts, window: RunWindow) -> EndedBy | None:
    """How the streak ended the run, or None when the run ended for another reason."""
    if not agent.timed_out:
        return "agent_exit"  # it stopped on its own: aider exits 0 when every call failed
    if streak.in_flight:
        return "in_flight"
    work = window.work_budget_s
    if work and streak.covers_ms >= TIMEOUT_SHARE * work * 1000:
        return "timeout"
    return None


def describe(streak: Streak) -> str:
    """What the provider did, in words: a cut body is not "HTTP 200", a refused connection
    is not the proxy's stand-in "HTTP 502"."""
    last = streak.last
    kind = streak.reason
    if kind == "auth":
        auth = next(c for c, t in zip(streak.calls, streak.types, strict=True) if t == "auth")
        status = status_of(auth) or 401
        where = f"HTTP {status}" if status >= 400 else "reported inside its answer"
        if out_of_credit(auth):
            return f"Provider refused the account: out of credit ({where})"
        return f"Provider refused the credentials ({where})"
    if kind == "rate_limit":
        limited = [c for c, t in zip(streak.calls, streak.types, strict=True) if t == "rate_limit"]
        if limited and all((status_of(c) or 0) < 400 for c in limited):  # inside its answers
            return "Provider rate limit (reported inside its answer)"
        return "Provider rate limit (HTTP 429)"
    if kind == "config":
        if last.outcome == "context_length":
            return (
                "The model's context window cannot hold the task (HTTP 400 context length "
                "on the very first call)"
            )
        if is_endpoint_missing(last):
            return f"The endpoint does not serve {last.path} (HTTP 404 on the very first call)"
        return (
            f"The provider does not know this model (HTTP {status_of(last) or 404} model_not_found)"
        )
    if kind == "harness":
        return "The proxy shut down while the agent's call was open"
    return _provider_failure(streak)


def _provider_failure(streak: Streak) -> str:
    last = streak.last
    secs = (last.ended_at - last.started_at).total_seconds()
    if last.outcome == "timeout":
        return f"Provider did not answer (the proxy's upstream timeout, after {secs:.1f} s)"
    if last.outcome == "client_disconnected":
        return f"Provider did not answer (call {last.seq} was still waiting after {secs:.1f} s)"
    if last.outcome == "upstream_malformed":
        if "not HTTP" in (last.error or ""):  # another server's banner, a broken header
            return "Provider answered with something that is not HTTP"
        if "no answer" in (last.error or ""):  # `{"choices": []}`, `data: [DONE]` alone
            return "Provider answered 200 with nothing in it (no output, finish reason or usage)"
        return "Provider answered with a body that is not the API's JSON"
    if last.outcome == "connection_error":
        if last.upstream_status is not None:
            return "Provider's answer broke off mid-body (a cut response)"
        return f"Provider unreachable (connection failed: {_short(last.error or '?', 80)})"
    if (status_of(last) or 0) < 400:  # an error the provider put inside an answer it began
        said = (last.error or "?").split(": ", 1)[-1]
        return f"Provider reported an error inside its answer ({_short(said, 80)})"
    return f"Provider failure (HTTP {status_of(last)})"


def _infra_streak(streak: Streak, ended_by: EndedBy, evidence: Evidence, facts: dict) -> Verdict:
    reason = streak.reason
    completed = facts["completed_calls"]
    doubt = any(c.outcome == "client_disconnected" for c in streak.calls)
    facts["streak"] = {
        "first_seq": streak.first.seq,
        "attempts": len(streak.calls),
        "types": streak.type_counts(),
        "outcomes": dict(sorted(Counter(c.outcome for c in streak.calls).items())),
        "covers_ms": round(streak.covers_ms, 3),
        "ended_by": ended_by,
    }
    if doubt:
        facts["streak"]["in_doubt"] = True
    what = describe(streak)
    if completed == 0 and ended_by == "agent_exit" and reason == "rate_limit":
        sentence = f"{what} — the agent exhausted its retries before doing any work. {INFRA_TAIL}"
    else:
        when = (
            "before any model call succeeded"
            if completed == 0
            else f"from call {streak.first.seq} on, after {completed} completed call(s)"
        )
        mix = streak.type_counts()
        n = f"{len(streak.calls)} failed attempt(s)"
        if len(mix) > 1:
            n += " (" + ", ".join(f"{v} {k.replace('_', ' ')}" for k, v in mix.items()) + ")"
        sentence = f"{what} {when}: {n}, {_how_it_ended(streak, ended_by, evidence.agent)}. "
        sentence += INFRA_TAIL
    if reason == "auth" and any(out_of_credit(c) for c in streak.calls):
        sentence += " Add credit to the provider account (or use another key), then rerun."
    elif reason == "auth":
        sentence += " Fix the key the proxy sends upstream."
    elif reason == "config":
        sentence += (
            " Fix the set-up (the endpoint URL, the model id or the deployment): a rerun fails"
            " the same way."
        )
    if doubt:
        sentence += (
            " In doubt (a call left unanswered may have been slow, not hung), counted as infra: "
            "a rerun costs less than a wrong capability."
        )
    return _verdict(reason, sentence, facts)


def _how_it_ended(streak: Streak, ended_by: EndedBy, agent: AgentFacts) -> str:
    budget = streak.window.budget_s
    if ended_by == "agent_exit":
        code = "" if agent.exit_code is None else f" (exit {agent.exit_code})"
        return f"then the agent gave up{code}"
    pct = f", {streak.covers_ms / (budget * 10):.0f}% of it" if budget else ""
    if ended_by == "in_flight":
        return (
            f"and the {budget:g} s budget ran out while a call was still waiting for the provider"
            if budget
            else "and the budget ran out while a call was still waiting for the provider"
        )
    return f"until the {budget:g} s budget ran out ({_secs(streak.covers_ms)} in the streak{pct})"


def _capability(
    evidence: Evidence,
    window: RunWindow,
    facts: dict,
    passed: bool,
    streak: Streak | None = None,
) -> Verdict:
    calls, completed = evidence.calls, facts["completed_calls"]
    sentence = (
        "Capability: the hidden tests passed."
        if passed
        else "Capability: the agent ran and the hidden tests did not pass; that is its result."
    )
    if calls and completed == 0:
        sentence = sentence[:-1] + " (no model call succeeded, but none failed for infra reasons)."
    if not calls and not passed:
        sentence = "Capability: the agent made no model calls and the hidden tests did not pass."
    return _verdict(None, sentence + _notes(evidence, window, facts, streak), facts)


def _notes(evidence: Evidence, window: RunWindow, facts: dict, streak: Streak | None) -> str:
    """What the provider cost a capability result, in words."""
    notes = ""
    completed, throttled = facts["completed_calls"], facts["throttled_attempts"]
    recovered, lost = recovered_ms(evidence.calls, window)
    if recovered:
        facts["recovered_failures"] = {"attempts": recovered, "time_lost_ms": round(lost, 3)}
        notes += (
            f" The provider failed {recovered} time(s) and recovered; {_secs(lost)} were lost "
            "to it."
        )
    elif throttled:
        notes += (
            f" It met {throttled} rate-limited attempt(s) ({_secs(facts['throttled_wait_ms'])} "
            f"lost waiting) beside {completed} completed call(s)."
        )
    work = window.work_budget_s
    if streak is not None and work:
        facts["final_streak_ms"] = round(streak.covers_ms, 3)
        notes += (
            f" It timed out with the provider failing for its last {_secs(streak.covers_ms)} "
            f"({len(streak.calls)} attempt(s)), under half of the {work:.0f} s it had after "
            "its first model call."
        )
    last = ordered(evidence.calls)[-1] if evidence.calls else None
    if last is not None and last.outcome == "context_length" and completed:
        notes += (
            f" The conversation outgrew the model's context window after {completed} "
            "completed call(s)."
        )
    if last is not None and is_moderated(last):
        notes += (
            " The provider's moderation refused its last request (HTTP 403: "
            f"{(last.error or 'flagged')[:120]})."
        )
    return notes
