"""The final streak: the infra-type failures at the end of an agent's timeline.

Pure: calls and the agent's run window in, a Streak out. The verdict (scorer.verdict)
decides whether the streak ended the run; this module only says which answers were the
provider's (or the set-up's) fault and how long they lasted.

A call is an infra-type failure when the agent cannot have caused it: a 429, a 5xx, the
proxy's upstream timeout, a connection error or a cut body, a 401/403, a 2xx whose body
is not the API's JSON, a 404 model-not-found, a context-length 400 before any call
succeeded (the deployment's window cannot hold the task), and a call the agent left
(`client_disconnected`) after waiting about as long as its own client timeout, or most
of its remaining budget and far longer than any answer it had received.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from proxy.records import MODERATION_MARKERS, ModelCall
from scorer.timeline import ordered, union_ms

FailureType = Literal["rate_limit", "provider_error", "auth", "config", "harness"]

#: outcome -> failure type, for outcomes that are infra whatever their context.
INFRA_OUTCOMES: dict[str, FailureType] = {
    "rate_limited": "rate_limit",
    "upstream_error": "provider_error",
    "timeout": "provider_error",
    "connection_error": "provider_error",
    "upstream_malformed": "provider_error",
    "auth_error": "auth",
    "proxy_shutdown": "harness",
}
#: Failures of the agent's own request (when not `config`).
AGENT_OUTCOMES = frozenset({"client_error", "bad_request", "context_length"})
#: Attempts the proxy made on its own: evidence, never an answer the agent saw.
ABSORBED = frozenset({"retried_without_stream_options"})
#: A call the agent left counts as a provider failure past this share of its client timeout.
CLIENT_TIMEOUT_SHARE = 0.8
#: ... or when open this share of the budget that remained when it started,
REMAINING_SHARE = 0.5
#: ... and this many times longer than the slowest answer the agent had received.
SLOWEST_FACTOR = 3.0
#: A call the governor held this long (queued_ms) was held for the quota (shorter: the
#: governor's own bookkeeping).
HELD_MIN_MS = 100.0
#: A call that ended this close to the agent's end was still in flight when it ended.
IN_FLIGHT_SLACK = timedelta(seconds=2)

#: how providers say "no such model" in a 404: OpenAI and Azure ("does not exist"), Gemini
#: ("models/x is not found"), Anthropic ("model: x"); any text naming a model and "not
#: found" counts too (Ollama: "model 'x' not found")
_MODEL_NOT_FOUND = ("model_not_found", "does not exist", "unknown model", "is not found", "model: ")
#: ... and in a 400, where some say it (Mistral: "Invalid model: x")
_MODEL_INVALID = ("invalid model", "invalid_model", "model_not_found", "unknown model")
#: words of an account with no credit left (OpenAI's 429 ends "... and billing details")
_NO_CREDIT = ("credit", "402", "insufficient_quota", "billing")


@dataclass(frozen=True)
class RunWindow:
    """The agent's run as the verdict sees it (end: when the agent stopped)."""

    start: datetime
    end: datetime
    budget_s: float | None = None
    client_timeout_s: float | None = None
    #: when the agent's first model call started (its start-up is not model work)
    first_call: datetime | None = None

    @property
    def work_budget_s(self) -> float | None:
        """The budget left when the agent first called the model: what a streak is
        measured against (a slow start-up is the agent's, not the provider's)."""
        if self.budget_s is None:
            return None
        if self.first_call is None:
            return self.budget_s
        return max(0.0, self.budget_s - (self.first_call - self.start).total_seconds())


def status_of(call: ModelCall) -> int | None:
    """The provider's own status when it answered, else what the client got."""
    return call.upstream_status or call.status_code


def is_moderated(call: ModelCall) -> bool:
    """A 403 whose words say the provider's moderation refused the request's content (the
    proxy records it `client_error`), not the key. (Older records hold a refused key's 403
    as `client_error` too: without those words it stays auth.)"""
    text = (call.error or "").lower()
    return status_of(call) == 403 and any(m in text for m in MODERATION_MARKERS)


def out_of_credit(call: ModelCall) -> bool:
    """The provider refused the account for want of credit: its 402, or (inside a stream
    whose 200 was already sent) an error that says so."""
    if status_of(call) == 402:
        return True
    text = (call.error or "").lower()
    return call.outcome == "auth_error" and any(w in text for w in _NO_CREDIT)


def is_model_not_found(call: ModelCall) -> bool:
    text = (call.error or "").lower()
    status = status_of(call)
    if status == 400:
        return any(m in text for m in _MODEL_INVALID)
    if status != 404:
        return False
    # Ollama: "model 'x' not found, try pulling it first"
    return any(m in text for m in _MODEL_NOT_FOUND) or ("model" in text and "not found" in text)


#: the API families the proxy knows: a path of one of them is no path the agent made up
_KNOWN_APIS = frozenset(("chat", "responses", "completions", "embeddings"))


def is_endpoint_missing(call: ModelCall) -> bool:
    """The provider answered 404 to an API path it should serve (chat/completions,
    responses, ...): the endpoint URL is set wrong (a base without `/v1`, another
    provider's path), not the agent's request; a 404 that names the model is
    `is_model_not_found` instead. A 404 from the proxy itself (a path outside /v1/, no
    upstream status) or for a path of no known API stays the agent's."""
    return call.upstream_status == 404 and call.api in _KNOWN_APIS and not is_model_not_found(call)


def failure_type(call: ModelCall, calls: list[ModelCall], window: RunWindow) -> FailureType | None:
    """The infra type of a failed call, None for an ok or an agent-side failure."""
    if call.outcome == "ok" or call.outcome in ABSORBED:
        return None
    if call.outcome == "auth_error" or (
        status_of(call) in (401, 402, 403) and not is_moderated(call)  # (older records: by status)
    ):
        return "auth"
    if call.outcome in INFRA_OUTCOMES:
        return INFRA_OUTCOMES[call.outcome]
    if is_model_not_found(call):
        return "config"
    if call.outcome == "context_length" or is_endpoint_missing(call):  # at the first call:
        no_ok_before = not any(c.completed and c.started_at < call.started_at for c in calls)
        return "config" if no_ok_before else None  # the set-up; after work, the agent's
    if call.outcome == "client_disconnected":
        if held_by_the_proxy(call):
            return "rate_limit"  # the governor held it for the provider's quota
        return "provider_error" if left_waiting(call, calls, window) else None
    if call.outcome in AGENT_OUTCOMES:
        return None
    return "provider_error"  # an outcome this scorer does not know: lean to infra


def held_by_the_proxy(call: ModelCall) -> bool:
    """The governor held the call (queued_ms) for most of the time the agent waited."""
    open_ms = (call.ended_at - call.started_at).total_seconds() * 1000
    return bool(call.queued_ms) and open_ms > 0 and (call.queued_ms or 0) >= 0.5 * open_ms


def left_waiting(call: ModelCall, calls: list[ModelCall], window: RunWindow) -> bool:
    """Did the agent leave this call because the provider did not answer in time?"""
    open_s = (call.ended_at - call.started_at).total_seconds()
    if window.client_timeout_s and open_s >= CLIENT_TIMEOUT_SHARE * window.client_timeout_s:
        return True
    if window.budget_s is None:
        return False
    elapsed = (call.started_at - window.start).total_seconds()
    remaining = max(0.0, window.budget_s - elapsed)
    slowest = max((c.latency_ms / 1000 for c in calls if c.completed), default=0.0)
    return open_s >= REMAINING_SHARE * remaining and open_s > SLOWEST_FACTOR * slowest


@dataclass(frozen=True)
class Streak:
    """Infra-type failures at the end of the timeline, with nothing ok started after the
    first of them (parallel calls included)."""

    calls: list[ModelCall]
    types: list[FailureType]
    window: RunWindow
    #: the agent's end cut off a call made inside the streak (a retry in flight)
    cut_retry: bool = False

    @property
    def first(self) -> ModelCall:
        return self.calls[0]

    @property
    def last(self) -> ModelCall:
        return max(self.calls, key=lambda c: (c.ended_at, c.seq))

    @property
    def reason(self) -> FailureType:
        """auth when any 401/403 is in it, else the type of its last failure."""
        return "auth" if "auth" in self.types else self.types[self.calls.index(self.last)]

    @property
    def covers_ms(self) -> float:
        """From the streak's first attempt to the agent's end: attempts and waits."""
        return max(0.0, (self.window.end - self.first.started_at).total_seconds() * 1000)

    @property
    def in_flight(self) -> bool:
        """A streak call was still open when the agent ended (killed or timed out on it)."""
        return self.cut_retry or any(cut_at_the_end(c, self.window) for c in self.calls)

    def type_counts(self) -> dict[str, int]:
        return dict(sorted(Counter(self.types).items()))


def seen(calls: list[ModelCall]) -> list[ModelCall]:
    """The answers the agent saw, in the order it made the calls: attempts the proxy made
    for it (absorb mode) are evidence, not answers."""
    return [c for c in ordered(calls) if c.outcome not in ABSORBED and not c.absorbed]


def cut_at_the_end(call: ModelCall, window: RunWindow) -> bool:
    """A call the agent's end cut off (killed or timed out while it waited)."""
    return call.outcome == "client_disconnected" and call.ended_at >= window.end - IN_FLIGHT_SLACK


def final_streak(calls: list[ModelCall], window: RunWindow) -> Streak | None:
    """The maximal run of infra-type failures at the end of the timeline, or None. A call
    the agent's end cut off (a retry in flight) neither breaks nor starts a streak: it
    only says a streak call was in flight."""
    timeline = seen(calls)
    last = timeline[-1] if timeline else None
    cut = last is not None and cut_at_the_end(last, window)
    tail: list[ModelCall] = []
    types: list[FailureType] = []
    for call in reversed(timeline[:-1] if cut else timeline):
        kind = failure_type(call, timeline, window)
        if kind is None:
            break
        tail.insert(0, call)
        types.insert(0, kind)
    if tail:
        return Streak(tail, types, window, cut_retry=cut)
    if cut and last is not None:  # only the cut call: a streak if it had hung
        kind = failure_type(last, timeline, window)
        return Streak([last], [kind], window) if kind else None
    return None


def _recovered_runs(
    calls: list[ModelCall], window: RunWindow
) -> tuple[list[tuple[datetime, datetime]], list[FailureType]]:
    """Each run of infra-type failures followed by an ok, as (its first attempt, that ok's
    start), and the types of the failures in them."""
    timeline = seen(calls)
    spans: list[tuple[datetime, datetime]] = []
    types: list[FailureType] = []
    start: datetime | None = None
    run: list[FailureType] = []
    for call in timeline:
        if call.completed:
            if start is not None:
                spans.append((start, call.started_at))
                types += run
            start, run = None, []
        elif (kind := failure_type(call, timeline, window)) is not None:
            start = start or call.started_at
            run.append(kind)
        else:
            start, run = None, []
    return spans, types


def recovered_ms(calls: list[ModelCall], window: RunWindow) -> tuple[int, float]:
    """(infra failures the provider recovered from, wall time they cost): each run of
    infra-type failures followed by an ok counts from its first attempt to that ok."""
    spans, types = _recovered_runs(calls, window)
    return len(types), union_ms(spans)


@dataclass(frozen=True)
class Lost:
    """The wall time the provider took from the run: every run of infra-type failures it
    recovered from (first attempt to the next ok), the final streak (first attempt to the
    agent's end), and the time the proxy's governor held calls for the provider's quota
    (`queued_ms`), as a union; with the types of the failed attempts."""

    types: list[FailureType]
    #: calls the governor held for the quota before sending them
    held: int
    ms: float

    @property
    def reason(self) -> FailureType:
        """auth when any 401/403 is among them, else the most frequent type, a held call
        counting as a rate limit (a tie goes to the rate limit: quotas are what bite
        again and again)."""
        counts = Counter(self.types)
        if "auth" in counts:
            return "auth"
        counts["rate_limit"] += self.held
        return max(counts, key=lambda t: (counts[t], t == "rate_limit"))


def lost_to_provider(calls: list[ModelCall], window: RunWindow, streak: Streak | None) -> Lost:
    spans, types = _recovered_runs(calls, window)
    if streak is not None:
        spans.append((streak.first.started_at, window.end))
        types = types + streak.types
    held = [c for c in seen(calls) if (c.queued_ms or 0) >= HELD_MIN_MS]
    spans += [(c.started_at, c.started_at + timedelta(milliseconds=c.queued_ms or 0)) for c in held]
    return Lost(types, len(held), union_ms(spans))
