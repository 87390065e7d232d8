"""CallFacts: what one request has told the proxy so far, typed, until it is recorded.

The handler fills it step by step (resolve -> send -> relay); the recorder turns it into
the call's one `ModelCall`. Every field a record can carry has a typed home here, so a
checker sees what travels between the steps (no `**fields` dicts).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from time import perf_counter

from proxy.governor import Ticket
from proxy.inbound import Inbound
from proxy.observe import Observation
from proxy.records import Api, Outcome
from proxy.sessions import Session


@dataclass(slots=True)
class CallFacts:
    method: str
    path: str
    api: Api
    started_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    t0: float = field(default_factory=perf_counter)
    session: Session | None = None
    #: the upstream base URL this call goes to (the session's, else the proxy's).
    upstream: str | None = None
    inbound: Inbound | None = None
    #: the status the client received (None while nothing was sent).
    status_code: int | None = None
    #: the upstream's status, when the upstream answered at all.
    upstream_status: int | None = None
    outcome: Outcome = "ok"
    error: str | None = None
    retry_after_s: float | None = None
    rate_limit_headers: dict[str, str] = field(default_factory=dict)
    obs: Observation | None = None
    ttft_ms: float | None = None
    #: seconds the proxy itself spent (before sending, and observing/writing after).
    proxy_s: float = 0.0
    recorded: bool = False
    #: the governor's admission of this attempt, and how long it waited for it.
    ticket: Ticket | None = None
    queued_s: float = 0.0
    #: seq of the first attempt this one retries (absorb mode, or the agent's own retry).
    retry_of: int | None = None
    #: the proxy retried after this attempt; the client never saw its answer.
    absorbed: bool = False
    #: the fault the proxy served instead of asking the upstream (`--inject`).
    injected: str | None = None
    #: the agent's `x-stainless-retry-count`.
    client_retry: int | None = None
    #: the reply's bytes as the client got them, kept while a transcript is written
    reply_data: bytearray | None = None
    reply_cut: bool = False
    reply_content_type: str | None = None
    #: scrubs this call's keys from text (set once the keys are known)
    redact: Callable[[str], str] | None = None
    #: replay: the recorded call that answered this one
    replayed_seq: int | None = None

    def fail(self, outcome: Outcome, error: str, status: int | None = None) -> None:
        """The call ended badly; `status` is what the client got (None: keep what it got)."""
        self.outcome, self.error = outcome, error
        if status is not None:
            self.status_code = status

    def keep(self, data: bytes, cap: int) -> None:
        """Tee what the client got into the transcript's copy, up to `cap` bytes."""
        kept = self.reply_data
        if kept is None or not data:
            return
        room = cap - len(kept)
        if len(data) > room:
            self.reply_cut = True
            data = data[: max(room, 0)]
        kept += data


def ms(seconds: float) -> float:
    """Milliseconds to the microsecond (half up; `round(x, 3)` costs several times more,
    and a record makes a few of these)."""
    return int(seconds * 1_000_000 + 0.5) / 1000 if seconds >= 0 else round(seconds * 1000, 3)
