"""One governor lane (an upstream + key): its request and token buckets and its adaptive
concurrency limit. Pure state with explicit clocks, so the rules are tested directly.

- Buckets refill continuously at `limit / window_s` (as providers' do) and hold at most
  a small burst (`BURST` of a window's limit): the governor paces calls rather than
  spending a whole minute's quota at once, which is what providers that enforce
  "60 RPM" as "1 per second" require. They pace at `HEADROOM` of the limit, so an
  inexact provider limit is not hit.
- A call is charged its estimated tokens when admitted (the prompt's bytes / 4, plus the
  request's named max_tokens up to a full bucket, else the larger of the lane's average
  and recent peak completion: proxy/governor.py); `correct` moves the bucket by the
  difference once the provider's usage is known (a further charge, or a refund that
  never fills the bucket past its capacity).
- The provider's `x-ratelimit-remaining-*` only ever lowers a bucket (it knows better);
  its `x-ratelimit-limit-*` configures a bucket nobody configured (learned limits, per
  the lane's window: 60 s unless configured; `reset` is not used to guess the window, as
  it depends on a burst size the provider does not tell).
- Concurrency is AIMD: unbounded (or `max_concurrency`) until the first 429, then halved
  on each 429 (once per round of calls in flight), and raised by 1/limit per success
  while latency stays under twice its best.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

BURST = 0.1
HEADROOM = 0.95
#: the most a 429's Retry-After may pause a lane (a provider's "wait an hour" is a fault).
MAX_PAUSE_S = 60.0
#: how much of the largest recent completion the guess keeps per later call
PEAK_DECAY = 0.8
_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h)")
_UNIT_S = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}


def parse_duration(text: str | None) -> float | None:
    """`20ms`, `1.5s`, `6m0s`, `1h2m` (OpenAI's reset headers) or plain seconds -> seconds."""
    if not text:
        return None
    text = text.strip()
    try:
        return max(0.0, float(text))
    except ValueError:
        pass
    parts = _DURATION.findall(text)
    if not parts or "".join(n + u for n, u in parts) != text:
        return None
    return sum(float(n) * _UNIT_S[u] for n, u in parts)


@dataclass
class Bucket:
    limit: int
    window_s: float
    level: float
    at: float
    learned: bool = False

    @classmethod
    def new(cls, limit: int, window_s: float, now: float, learned: bool = False) -> Bucket:
        b = cls(limit, window_s, 0.0, now, learned)
        b.level = b.capacity
        return b

    @property
    def capacity(self) -> float:
        return max(1.0, self.limit * BURST)

    @property
    def rate(self) -> float:
        return self.limit * HEADROOM / self.window_s

    def refill(self, now: float) -> None:
        if now > self.at:
            self.level = min(self.capacity, self.level + (now - self.at) * self.rate)
            self.at = now

    def wait_s(self, amount: float) -> float:
        """Seconds until `amount` (at most a full bucket) is there to take."""
        return max(0.0, (min(amount, self.capacity) - self.level) / self.rate)

    def take(self, amount: float) -> None:
        """Charge the whole amount: a call bigger than the bucket leaves it in debt, and
        the calls after it wait for the refill (as the provider's bucket makes them)."""
        self.level -= amount


@dataclass
class LaneStats:
    admitted: int = 0
    #: calls that waited in the governor, and how long in all.
    queued: int = 0
    queued_s: float = 0.0
    #: 429s the provider answered this lane.
    throttled: int = 0
    #: the concurrency limit now (None: not limited yet).
    limit: float | None = None


@dataclass
class Lane:
    requests: Bucket | None = None
    tokens: Bucket | None = None
    #: the concurrency limit (inf until a configured max or the first 429).
    limit: float = math.inf
    max_limit: float = math.inf
    #: the window limits are counted over (learned limits use it too)
    window_s: float = 60.0
    inflight: int = 0
    #: no call leaves before this (monotonic seconds): a 429's Retry-After.
    paused_until: float = 0.0
    #: admissions so far, and the admission count at the last decrease (one per round).
    admissions: int = 0
    decreased_at: int = -1
    best_latency_s: float = math.inf
    #: completion tokens of recent calls (EMA), the estimate's second half.
    completion_ema: float | None = None
    #: the largest recent completion, decaying by PEAK_DECAY a call: the guess never
    #: falls below it, so the turn that writes a file is not charged like the chatty ones
    completion_peak: float = 0.0
    stats: LaneStats = field(default_factory=LaneStats)

    def configure(
        self, rpm: int | None, tpm: int | None, max_concurrency: int | None, window_s: float,
        now: float,
    ) -> None:  # fmt: skip
        """Limits from the model's entry; a configured limit replaces a learned one. Two
        entries on one key (one lane) that declare different limits get the smaller: the
        key's quota is one, and the safe reading of a conflict is the stricter."""
        if rpm:
            self.requests = _configured(self.requests, rpm, window_s, now)
        if tpm:
            self.tokens = _configured(self.tokens, tpm, window_s, now)
        if max_concurrency and max_concurrency < self.max_limit:
            self.max_limit = float(max_concurrency)
            self.limit = min(self.limit, self.max_limit)

    def wait_s(self, tokens: int, now: float) -> float:
        """Seconds before a call of `tokens` may leave (0: now, if a slot is free)."""
        waits = [self.paused_until - now]
        for bucket, amount in ((self.requests, 1), (self.tokens, tokens)):
            if bucket is not None:
                bucket.refill(now)
                waits.append(bucket.wait_s(amount))
        return max(0.0, *waits)

    @property
    def unlimited(self) -> bool:
        """No bucket, no concurrency limit (so no pause either: a 429 sets a limit). Such a
        lane never makes a call wait, so admission needs no queue."""
        return self.requests is None and self.tokens is None and self.limit == math.inf

    @property
    def slot_free(self) -> bool:
        return self.limit == math.inf or self.inflight < max(1, math.floor(self.limit))

    def take(self, tokens: int) -> int:
        if self.requests is not None:
            self.requests.take(1)
        if self.tokens is not None:
            self.tokens.take(tokens)
        self.inflight += 1
        self.admissions += 1
        self.stats.admitted += 1
        return self.admissions

    def correct(self, charged: int, actual: int | None) -> None:
        """Move the token bucket by what the call really cost (None: refund it all). A
        refund never fills it past its capacity: the bucket may have refilled to the top
        while the call ran, and the provider's holds no more than that either (an
        overfull bucket let a burst through that the provider refused)."""
        if self.tokens is not None:
            b = self.tokens
            b.level = min(b.capacity, b.level + charged - (actual or 0))

    def learn_completion(self, completion: int) -> None:
        ema = self.completion_ema
        self.completion_ema = completion if ema is None else 0.7 * ema + 0.3 * completion
        self.completion_peak = max(float(completion), self.completion_peak * PEAK_DECAY)

    @property
    def completion_guess(self) -> float | None:
        """What the next call's completion is charged at admission (None: nothing learnt).
        An underestimate holds the provider's bucket below ours until the call's usage
        corrects it, and a call admitted meanwhile meets a 429: so the recent peak, not
        only the average."""
        if self.completion_ema is None:
            return None
        return max(self.completion_ema, self.completion_peak)

    def release(self) -> None:
        self.inflight = max(0, self.inflight - 1)

    def throttled(self, admitted_as: int, retry_after_s: float | None, now: float) -> None:
        """A 429: pause the lane for its Retry-After (capped) and halve the limit, once per
        round (calls admitted before the last decrease were sent under the old limit)."""
        self.stats.throttled += 1
        if retry_after_s is not None:
            self.paused_until = max(self.paused_until, now + min(retry_after_s, MAX_PAUSE_S))
        if admitted_as > self.decreased_at:
            base = min(self.limit, self.inflight + 1)
            self.limit = max(1.0, math.floor(base / 2))
            self.decreased_at = self.admissions
        self.stats.limit = self.limit

    def succeeded(self, latency_s: float) -> None:
        """Additive increase while latency stays within twice the best seen."""
        self.best_latency_s = min(self.best_latency_s, latency_s)
        if math.isfinite(self.limit) and latency_s <= 2 * self.best_latency_s + 0.05:
            self.limit = min(self.max_limit, self.limit + 1 / self.limit)
            self.stats.limit = self.limit

    def observe_headers(self, headers: Mapping[str, str], now: float) -> None:
        """Learn limits nobody configured; let the provider's `remaining` lower a bucket."""
        for name in ("requests", "tokens"):
            limit = _int(headers.get(f"x-ratelimit-limit-{name}"))
            remaining = _int(headers.get(f"x-ratelimit-remaining-{name}"))
            bucket = getattr(self, name)
            if bucket is None and limit:
                bucket = Bucket.new(limit, self.window_s, now, learned=True)
                setattr(self, name, bucket)
            if bucket is not None and remaining is not None:
                bucket.refill(now)
                bucket.level = min(bucket.level, float(remaining))


def _configured(bucket: Bucket | None, limit: int, window_s: float, now: float) -> Bucket:
    """The bucket a configured `limit` makes of `bucket`: a new one in place of none or a
    learned one; a declared one is lowered (never raised), keeping what it holds."""
    if bucket is None or bucket.learned:
        return Bucket.new(limit, window_s, now)
    if limit < bucket.limit:
        bucket.refill(now)
        bucket.limit = limit
        bucket.level = min(bucket.level, bucket.capacity)
    return bucket


def _int(value: str | None) -> int | None:
    try:
        return int(float(value)) if value is not None else None
    except ValueError:
        return None
