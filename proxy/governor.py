"""The rate-limit governor: one per proxy, so one per sweep, keeping every session that
calls one upstream with one key inside that provider's quota.

A call asks `admit(lane, limits, estimate)` before it goes upstream and waits there,
inside the proxy, while its lane has no request or token budget or no free slot (FIFO
per lane); the wait comes back as `Ticket.queued_s` and is recorded as the call's
`queued_ms`. When the attempt is over, `settle(ticket, ...)` frees the slot, corrects
the token charge with the provider's usage, and feeds the 429s, latencies and
`x-ratelimit-*` headers back (proxy/governor_lane.py has the rules).

`Governor` is the small interface the proxy uses; `LocalGovernor` keeps its state in
this process. A shared backend (several proxies, several machines) implements the same
methods (its `admit_now` may always answer None). Two proxies on one key each have their
own governor: share one proxy (`cab sweep --proxy URL`) instead.
"""

from __future__ import annotations

import asyncio
import hashlib
import math
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from time import monotonic
from typing import Protocol

from proxy.governor_lane import Lane, LaneStats
from proxy.inject import InjectSpec

#: completion tokens assumed for a lane's first call, when the request names no maximum.
FIRST_COMPLETION_ESTIMATE = 256


@dataclass(frozen=True)
class Limits:
    """A model's quota, from its config entry (`rpm`, `tpm`, `max_concurrency`)."""

    rpm: int | None = None
    tpm: int | None = None
    max_concurrency: int | None = None
    #: the window rpm/tpm are counted over (60 s; shorter for a scaled-down test minute).
    window_s: float = 60.0

    def __bool__(self) -> bool:
        return bool(self.rpm or self.tpm or self.max_concurrency)


@dataclass(frozen=True)
class AbsorbPolicy:
    """Absorb mode's budget (proxy/governor_send.py retries inside it)."""

    attempts: int = 10
    #: give up (answer what the last attempt got) once this much time has gone
    budget_s: float = 300.0
    #: the longest one wait may be, whatever the provider asked
    max_wait_s: float = 60.0
    #: the wait when the provider named none (doubling per attempt, up to max_wait_s)
    fallback_s: float = 1.0


@dataclass(frozen=True)
class Policy:
    """What the proxy does to a session's calls besides forwarding them: the quota it
    keeps them in, whether it absorbs 429s, which faults it injects. A session's own
    policy (from its model's entry) replaces the proxy's (`cab proxy` flags)."""

    limits: Limits | None = None
    absorb: AbsorbPolicy | None = None
    inject: InjectSpec | None = None


@dataclass(slots=True)
class Ticket:
    lane: str
    #: tokens charged at admission (the estimate)
    charged: int
    queued_s: float
    admitted_as: int
    settled: bool = False


@dataclass(slots=True)
class Outcome:
    """What an attempt told the governor."""

    status: int | None
    total_tokens: int | None = None
    completion_tokens: int | None = None
    latency_s: float = 0.0
    retry_after_s: float | None = None
    headers: Mapping[str, str] | None = None


class Governor(Protocol):
    """`estimate`: the prompt's tokens; `max_completion`: the most the request lets the
    model write (its max_tokens), None when it names none (the lane's guess is charged)."""

    def admit_now(
        self, lane: str, limits: Limits | None, estimate: int, max_completion: int | None = None
    ) -> Ticket | None: ...

    async def admit(
        self, lane: str, limits: Limits | None, estimate: int, max_completion: int | None = None
    ) -> Ticket: ...

    def settle(self, ticket: Ticket, outcome: Outcome) -> None: ...

    def stats(self) -> dict[str, LaneStats]: ...


class LocalGovernor:
    """The governor's state in this process (one event loop: the proxy's)."""

    def __init__(self) -> None:
        self._lanes: dict[str, Lane] = {}
        self._gates: dict[str, asyncio.Lock] = {}
        self._freed: dict[str, asyncio.Event] = {}

    def lane(self, name: str) -> Lane:
        if name not in self._lanes:
            self._lanes[name] = Lane()
            self._gates[name] = asyncio.Lock()
            self._freed[name] = asyncio.Event()
        return self._lanes[name]

    def admit_now(
        self, lane: str, limits: Limits | None, estimate: int, max_completion: int | None = None
    ) -> Ticket | None:
        """The admission of a lane with nothing to wait for (no bucket, no concurrency
        limit, so no queue either), without an await; None: `admit` it."""
        state = self._lanes.get(lane)
        if state is None or not state.unlimited or (limits is not None and limits):
            return None
        if limits is not None:
            state.window_s = limits.window_s
        tokens = estimate + _completion_charge(state, max_completion)
        return Ticket(lane, tokens, 0.0, state.take(tokens))

    async def admit(
        self, lane: str, limits: Limits | None, estimate: int, max_completion: int | None = None
    ) -> Ticket:
        state = self.lane(lane)
        if limits is not None:
            state.window_s = limits.window_s
            if limits:
                state.configure(
                    limits.rpm, limits.tpm, limits.max_concurrency, limits.window_s, monotonic()
                )
        tokens = estimate + _completion_charge(state, max_completion)
        t0 = monotonic()
        async with self._gates[lane]:  # FIFO: the head of the queue waits for budget
            while True:
                wait = state.wait_s(tokens, monotonic())
                if wait > 0:
                    await asyncio.sleep(wait)
                elif not state.slot_free:
                    freed = self._freed[lane]
                    freed.clear()
                    await freed.wait()
                else:
                    break
            n = state.take(tokens)
        queued = monotonic() - t0
        if queued > 0.001:
            state.stats.queued += 1
            state.stats.queued_s += queued
        return Ticket(lane, tokens, queued, n)

    def settle(self, ticket: Ticket, outcome: Outcome) -> None:
        if ticket.settled:
            return
        ticket.settled = True
        state = self._lanes[ticket.lane]
        now = monotonic()
        state.release()
        if not state.unlimited:  # only a limited lane has calls waiting for a slot
            self._freed[ticket.lane].set()
        if state.tokens is not None:
            state.correct(ticket.charged, outcome.total_tokens)
        if outcome.headers:
            state.observe_headers(outcome.headers, now)
        if outcome.status == 429:
            state.throttled(ticket.admitted_as, outcome.retry_after_s, now)
        elif outcome.status is not None and outcome.status < 400:
            state.succeeded(outcome.latency_s)
            if outcome.completion_tokens is not None:
                state.learn_completion(outcome.completion_tokens)

    def stats(self) -> dict[str, LaneStats]:
        out = {}
        for name, lane in self._lanes.items():
            lane.stats.limit = lane.limit if math.isfinite(lane.limit) else None
            out[name] = lane.stats
        return out


def _completion_charge(lane: Lane, named: int | None) -> int:
    """What a call's completion is charged at admission. The lane's guess (its average and
    recent peak) cannot know an agent's first long completion, so a request that names its
    maximum (max_tokens) is charged that, as OpenAI and Anthropic reserve it when a call
    arrives; but never more than a full token bucket (or the guess, if larger): an agent
    that names 32,000 and writes 300 would otherwise hold a small quota's lane for the
    whole of each call. Usage corrects the charge either way when the call ends."""
    guess = lane.completion_guess
    if guess is None:
        guess = FIRST_COMPLETION_ESTIMATE
    if named is None or lane.tokens is None:
        return round(guess)
    return round(min(named, max(guess, lane.tokens.capacity)))


@lru_cache(maxsize=1024)
def lane_name(upstream: str, key: str | None) -> str:
    """`<upstream> key:<hash prefix>`: per upstream and key, never the key itself."""
    tag = hashlib.sha256(key.encode()).hexdigest()[:12] if key else "none"
    return f"{upstream} key:{tag}"


def estimate_prompt_tokens(data: bytes) -> int:
    """Admission's estimate of a request's prompt: ~4 bytes of its body per token (an
    overestimate, as a body holds JSON around the text; usage corrects it)."""
    return math.ceil(len(data) / 4)
