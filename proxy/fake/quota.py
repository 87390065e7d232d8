"""The fake upstream's provider quota: per key request and token buckets and a
concurrency limit, with the headers and 429s a real provider sends.

Each key (the request's Authorization, or none) has two token buckets that refill
continuously, as OpenAI's do: `rpm` requests and `tpm` tokens per window (60 s, or
shorter so a test runs on a scaled-down minute). `burst` is a bucket's capacity as a
fraction of its per-window limit (providers enforce "60 RPM" as about 1 per second, i.e.
a small burst). A call is charged its whole usage (prompt + completion) when admitted,
which the fake knows up front; it is admitted once the bucket holds that much (or is
full, for a call bigger than the bucket, which then leaves it in debt). Over a limit the answer is 429 with `retry-after-ms`,
`Retry-After` (whole seconds, rounded up) and the time until the charge would fit.
Every answer carries `x-ratelimit-{limit,remaining,reset}-{requests,tokens}`.

`noise` (0..1) makes the limits inexact: each admission sees a limit up to that
fraction smaller, drawn from a seeded generator.
"""

from __future__ import annotations

import math
import random
import time
from dataclasses import dataclass, field

from proxy.errors import error_body


@dataclass(frozen=True)
class QuotaConfig:
    rpm: int | None = None
    tpm: int | None = None
    max_concurrency: int | None = None
    window_s: float = 60.0
    burst: float = 1.0
    noise: float = 0.0
    seed: int = 0

    def __post_init__(self) -> None:
        if self.window_s <= 0 or not 0 < self.burst <= 1 or not 0 <= self.noise < 1:
            raise ValueError("quota: window_s > 0, 0 < burst <= 1 and 0 <= noise < 1")


@dataclass
class Bucket:
    """A continuously refilling bucket: `limit` per `window_s`, holding at most `capacity`."""

    limit: int
    window_s: float
    capacity: float
    level: float
    at: float

    @classmethod
    def full(cls, limit: int, window_s: float, burst: float, now: float) -> Bucket:
        capacity = max(1.0, limit * burst)
        return cls(limit, window_s, capacity, capacity, now)

    @property
    def rate(self) -> float:
        return self.limit / self.window_s

    def refill(self, now: float) -> None:
        self.level = min(self.capacity, self.level + (now - self.at) * self.rate)
        self.at = now

    def shortfall_s(self, amount: float, slack: float = 0.0) -> float:
        """Seconds until `amount` fits (0 if it fits now); `slack` is withheld capacity."""
        need = min(amount, self.capacity) + slack - self.level
        return max(0.0, need / self.rate)

    def reset_s(self) -> float:
        return (self.capacity - self.level) / self.rate


@dataclass
class Lane:
    requests: Bucket | None
    tokens: Bucket | None
    inflight: int = 0


@dataclass
class Admission:
    """What the quota said about one call: its headers, and the 429 if it was refused."""

    headers: dict[str, str]
    refused: tuple[int, dict[str, str], bytes] | None = None
    #: which limit refused it: requests, tokens or concurrency.
    limit: str | None = None


@dataclass
class Quota:
    config: QuotaConfig
    lanes: dict[str, Lane] = field(default_factory=dict)
    refused: int = 0
    admitted: int = 0
    peak_inflight: int = 0

    def __post_init__(self) -> None:
        self._rng = random.Random(self.config.seed)

    def _lane(self, key: str, now: float) -> Lane:
        lane = self.lanes.get(key)
        if lane is None:
            c = self.config
            lane = self.lanes[key] = Lane(
                Bucket.full(c.rpm, c.window_s, c.burst, now) if c.rpm else None,
                Bucket.full(c.tpm, c.window_s, c.burst, now) if c.tpm else None,
            )
        return lane

    def admit(self, key: str, tokens: int, now: float | None = None) -> Admission:
        """Charge one request of `tokens` tokens to `key`, or refuse it with a 429."""
        now = time.monotonic() if now is None else now
        lane = self._lane(key, now)
        for bucket in (lane.requests, lane.tokens):
            if bucket is not None:
                bucket.refill(now)
        noise = self.config.noise * self._rng.random()
        waits = {
            "requests": _wait(lane.requests, 1, noise),
            "tokens": _wait(lane.tokens, tokens, noise),
        }
        limit, wait = max(waits.items(), key=lambda kv: kv[1])
        cap = self.config.max_concurrency
        if wait <= 0 and cap is not None and lane.inflight >= cap:
            limit, wait = "concurrency", self.config.window_s / 60
        if wait > 0:
            self.refused += 1
            return Admission(_headers(lane), _too_many(limit, wait), limit)
        if lane.requests is not None:
            lane.requests.level -= 1
        if lane.tokens is not None:
            lane.tokens.level -= tokens  # a call bigger than the bucket leaves it in debt
        lane.inflight += 1
        self.admitted += 1
        self.peak_inflight = max(self.peak_inflight, lane.inflight)
        return Admission(_headers(lane))

    def release(self, key: str) -> None:
        """The admitted call ended (its stream included): free its concurrency slot."""
        lane = self.lanes.get(key)
        if lane is not None:
            lane.inflight = max(0, lane.inflight - 1)


def _wait(bucket: Bucket | None, amount: float, noise: float) -> float:
    if bucket is None:
        return 0.0
    return bucket.shortfall_s(amount, slack=noise * bucket.capacity)


def _headers(lane: Lane) -> dict[str, str]:
    out: dict[str, str] = {}
    for name, bucket in (("requests", lane.requests), ("tokens", lane.tokens)):
        if bucket is None:
            continue
        out[f"x-ratelimit-limit-{name}"] = str(bucket.limit)
        out[f"x-ratelimit-remaining-{name}"] = str(max(0, math.floor(bucket.level)))
        out[f"x-ratelimit-reset-{name}"] = duration(bucket.reset_s())
    return out


def duration(seconds: float) -> str:
    """OpenAI's reset format: `20ms`, `1.5s`, `6m0s`."""
    if seconds < 1:
        return f"{max(0, round(seconds * 1000))}ms"
    if seconds < 60:
        return f"{seconds:.3g}s"
    minutes, rest = divmod(seconds, 60)
    return f"{int(minutes)}m{rest:.0f}s"


def _too_many(limit: str, wait_s: float) -> tuple[int, dict[str, str], bytes]:
    headers = {
        "Retry-After": str(max(1, math.ceil(wait_s))),
        "retry-after-ms": str(max(1, math.ceil(wait_s * 1000))),
    }
    if limit == "concurrency":
        message = "Too many concurrent requests for this key. Please try again later."
    else:
        message = f"Rate limit reached for {limit} per minute. Please try again later."
    return 429, headers, error_body(message, limit, "rate_limit_exceeded")
