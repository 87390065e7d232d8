"""A hostile load on the proxy: many calls, ~20% of them faults of every kind, each
one's record checked against what the upstream did and what the client saw.

Used by tests/proxy/test_fault_load.py (a few hundred calls in CI) and
benchmarks/proxy_faults.py (10,000 calls at concurrency 64). Every call goes through
its own session (`/s/c<i>/v1/...`), so its record is found by `session` alone: a call
with no record is lost, one with two is duplicated. Loopback only.
"""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

import aiohttp

from proxy.records import ModelCall


@dataclass(frozen=True)
class Kind:
    model: str
    stream: bool
    #: the record's outcome and status_code (the status the client receives)
    outcome: str
    status: int | None
    #: "read": read the whole reply; "leave": go away after the first chunk;
    #: "bad-json": send a body that is not JSON
    client: str = "read"
    #: "chat" (/v1/chat/completions) or "responses" (/v1/responses: codex's API)
    api: str = "chat"


R = "responses"
OK = (
    Kind("echo", False, "ok", 200),
    Kind("echo", True, "ok", 200),
    Kind("echo", False, "ok", 200, api=R),
    Kind("echo", True, "ok", 200, api=R),
)
FAULTS = (
    Kind("fault/500", False, "upstream_error", 500),
    Kind("fault/500", True, "upstream_error", 500),
    Kind("fault/401", False, "auth_error", 401),
    Kind("fault/401-echo-key", False, "auth_error", 401),
    Kind("throttled/x", True, "rate_limited", 429),
    Kind("fault/context-length", False, "context_length", 400),
    Kind("fault/cut-stream", True, "connection_error", 200),
    Kind("fault/cut-body", False, "connection_error", 502),
    Kind("fault/html-200", False, "upstream_malformed", 502),
    Kind("fault/empty-answer", False, "upstream_malformed", 502),
    Kind("fault/empty-answer", True, "upstream_malformed", 200),
    Kind("fault/not-http", False, "upstream_malformed", 502),
    Kind("fault/gzip", False, "ok", 200),
    Kind("fault/gzip", True, "ok", 200),
    Kind("fault/gzip-lie", False, "upstream_malformed", 502),
    Kind("fault/gzip-lie", True, "upstream_malformed", 200),
    Kind("fault/no-done", True, "ok", 200),
    Kind("fault/cr-lines", True, "ok", 200),
    Kind("fault/cut-after-end", True, "ok", 200),
    Kind("fault/echo-key", True, "ok", 200),
    Kind("fault/odd-types", False, "ok", 200),
    Kind("fault/odd-types", True, "ok", 200),
    Kind("fault/misshapen", False, "upstream_malformed", 502),
    Kind("fault/misshapen", True, "ok", 200),
    Kind("fault/200-rate-limit", False, "rate_limited", 200),
    Kind("fault/200-rate-limit", True, "rate_limited", 200),
    Kind("fault/200-overloaded", True, "upstream_error", 200),
    Kind("fault/200-credit", True, "auth_error", 200),
    Kind("fault/hang", False, "timeout", 504),
    Kind("fault/stall-body", False, "timeout", 504),
    Kind("fault/slow-chunks-50", True, "client_disconnected", 200, client="leave"),
    Kind("echo", False, "bad_request", 400, client="bad-json"),
    # the Responses API: its own events (`response.completed`, `error`), the same failures
    Kind("fault/500", True, "upstream_error", 500, api=R),
    Kind("throttled/x", False, "rate_limited", 429, api=R),
    Kind("fault/cut-stream", True, "connection_error", 200, api=R),
    Kind("fault/gzip", True, "ok", 200, api=R),
    Kind("fault/cr-lines", True, "ok", 200, api=R),
    Kind("fault/cut-after-end", True, "ok", 200, api=R),
    Kind("fault/misshapen", False, "upstream_malformed", 502, api=R),
    Kind("fault/200-rate-limit", True, "rate_limited", 200, api=R),
    Kind("fault/200-overloaded", True, "upstream_error", 200, api=R),
    Kind("fault/200-credit", True, "auth_error", 200, api=R),
    Kind("fault/empty-answer", False, "upstream_malformed", 502, api=R),
    Kind("fault/empty-answer", True, "connection_error", 200, api=R),  # not one event
)


def plan(n: int, seed: int = 11, fault_rate: float = 0.2) -> list[Kind]:
    """n calls, each a fault at `fault_rate`. Faults are dealt from a shuffled deck of
    every kind (shuffled again when it runs out), so any plan with at least as many
    faults as kinds has every kind in it."""
    rng = random.Random(seed)
    deck: list[Kind] = []
    kinds = []
    for _ in range(n):
        if rng.random() < fault_rate:
            if not deck:
                deck = rng.sample(FAULTS, len(FAULTS))
            kinds.append(deck.pop())
        else:
            kinds.append(rng.choice(OK))
    return kinds


@dataclass
class Seen:
    """What the client saw of call i: the status line, and whether the body broke."""

    status: int | None = None
    broke: bool = False


async def _one(http: aiohttp.ClientSession, base: str, i: int, kind: Kind) -> Seen:
    said = f"call {i} of the fault load"
    body: dict[str, object] = {"model": kind.model, "stream": kind.stream}
    if kind.api == R:
        url, body["input"] = f"{base}/s/c{i}/v1/responses", said
    else:
        url, body["messages"] = (
            f"{base}/s/c{i}/v1/chat/completions",
            [{"role": "user", "content": said}],
        )
    data = b"{not json" if kind.client == "bad-json" else None
    seen = Seen()
    try:
        async with http.post(url, json=None if data else body, data=data) as resp:
            seen.status = resp.status
            if kind.client == "leave":
                await resp.content.readany()
                resp.close()
                return seen
            await resp.read()
    except (TimeoutError, aiohttp.ClientError):
        seen.broke = True
    return seen


async def drive(base: str, kinds: list[Kind], concurrency: int) -> list[Seen]:
    seen: list[Seen] = [Seen() for _ in kinds]
    todo = iter(range(len(kinds)))
    timeout = aiohttp.ClientTimeout(total=60)
    async with aiohttp.ClientSession(timeout=timeout) as http:

        async def worker() -> None:
            for i in todo:
                seen[i] = await _one(http, base, i, kinds[i])

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return seen


@dataclass
class Report:
    calls: int
    records: int
    lost: list[int] = field(default_factory=list)
    duplicated: list[int] = field(default_factory=list)
    wrong: list[str] = field(default_factory=list)
    by_outcome: Counter[str] = field(default_factory=Counter)

    @property
    def clean(self) -> bool:
        return not (self.lost or self.duplicated or self.wrong)


def check(kinds: list[Kind], seen: list[Seen], records: Iterable[ModelCall]) -> Report:
    mine: dict[int, list[ModelCall]] = {}
    total = 0
    for rec in records:
        if rec.session.startswith("c") and rec.session[1:].isdigit():
            mine.setdefault(int(rec.session[1:]), []).append(rec)
            total += 1
    report = Report(calls=len(kinds), records=total)
    for i, kind in enumerate(kinds):
        got = mine.get(i, [])
        if not got:
            report.lost.append(i)
            continue
        if len(got) > 1:
            report.duplicated.append(i)
        rec = got[0]
        report.by_outcome[rec.outcome] += 1
        client_status = seen[i].status
        if (rec.outcome, rec.status_code) != (kind.outcome, kind.status) or (
            rec.status_code != client_status
        ):
            report.wrong.append(
                f"call {i} {kind.api} {kind.model} stream={kind.stream}: record {rec.outcome}/"
                f"{rec.status_code}, expected {kind.outcome}/{kind.status}, client saw "
                f"{client_status}{' (broken)' if seen[i].broke else ''}"
            )
    return report
