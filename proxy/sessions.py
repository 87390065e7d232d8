"""Sessions: one per cell. A session key `cab-<id>` stands in for the real provider key.

The store is shared between the proxy's event loop (which appends calls) and the
runner's thread (which creates sessions and reads calls), so it takes a lock.

Memory stays flat in a long-running proxy: only a session with a reader (one created
through `create`, which the runner reads and closes) keeps its calls in memory, at most
`MAX_KEPT_CALLS` of them; a session that merely appeared from a key in standalone mode
keeps a counter, its calls go to calls.jsonl only, and it is forgotten once it has been
idle (no call in flight, none begun) for `idle_s` (its `seq` then starts again at 1). A
session with a reader never expires on its own: its cell may be sitting out a long
Retry-After; the runner closes it.
"""

from __future__ import annotations

import re
import secrets
import threading
import time
from dataclasses import dataclass, field

from proxy.capture import TranscriptWriter
from proxy.governor import Policy
from proxy.records import ModelCall
from proxy.replay import ReplayBook

KEY_PREFIX = "cab-"
DEFAULT_SESSION = "default"
_ID_OK = re.compile(r"^[A-Za-z0-9_.:-]{1,128}$")
#: calls a session with a reader keeps in memory; older ones are dropped (and counted).
MAX_KEPT_CALLS = 100_000
#: seconds an idle session without a reader is kept (cab proxy --session-idle-s).
DEFAULT_IDLE_S = 900.0


@dataclass
class Session:
    id: str
    cell_id: str | None = None
    upstream: str | None = None
    upstream_key_env: str | None = None
    model_override: str | None = None
    #: seconds to wait for the upstream on this session's calls (None: the proxy's own);
    #: the runner sets it below the agent's client timeout, so a hung provider is
    #: recorded as `timeout`, not as the client leaving.
    upstream_timeout_s: float | None = None
    calls: list[ModelCall] = field(default_factory=list)
    seq: int = 0
    #: requests begun but not yet recorded (a client may hold its whole reply first).
    inflight: int = 0
    #: quota, absorb and fault injection for this session's calls (None: the proxy's).
    policy: Policy | None = None
    #: requests received (what `--inject` numbers calls by), and the seq of each request
    #: hash's first attempt (what an agent's retries link to).
    requests: int = 0
    first_seq: dict[str, int] = field(default_factory=dict)
    #: where this session's wire transcript goes (None: the proxy's own, or none)
    transcript: TranscriptWriter | None = None
    #: someone will read this session's calls (the runner, ProxyServer.calls): keep them.
    reader: bool = True
    #: forgotten when idle (a session that appeared from a key, not one made on purpose).
    expires: bool = False
    #: calls dropped from `calls` past MAX_KEPT_CALLS.
    dropped: int = 0
    #: time.monotonic() of the last call begun or recorded (idle expiry).
    last_used: float = field(default_factory=time.monotonic)
    #: replay: answer from this recording instead of the upstream
    replay: ReplayBook | None = None

    @property
    def key(self) -> str:
        return KEY_PREFIX + self.id


def valid_session_id(sid: str) -> bool:
    return bool(_ID_OK.match(sid))


class SessionStore:
    def __init__(self, implicit_reader: bool = True) -> None:
        """`implicit_reader`: sessions that appear from a key have a reader (in-process,
        ProxyServer's caller may read any session) or not (the standalone `cab proxy`,
        whose calls go to calls.jsonl only; such sessions keep no calls and expire)."""
        self.implicit_reader = implicit_reader
        # a plain lock (the hot path takes it a few times per call) and a condition on it
        # for readers waiting for calls in flight, notified only when one waits
        self._lock = threading.Lock()
        self._settled = threading.Condition(self._lock)
        self._waiting = 0
        self._sessions: dict[str, Session] = {}

    def create(
        self,
        cell_id: str | None = None,
        upstream: str | None = None,
        upstream_key_env: str | None = None,
        model_override: str | None = None,
        session_id: str | None = None,
        upstream_timeout_s: float | None = None,
        reader: bool = True,
        policy: Policy | None = None,
    ) -> Session:
        """A session made on purpose (the runner's, or one issued to a standalone user;
        `reader=False` when nobody will read its calls from memory)."""
        sid = session_id or secrets.token_hex(8)
        if not valid_session_id(sid):
            raise ValueError(f"session id {sid!r}: use letters, digits, '_', '.', ':', '-'")
        sess = Session(
            id=sid,
            cell_id=cell_id,
            upstream=upstream.rstrip("/") if upstream else None,
            upstream_key_env=upstream_key_env,
            model_override=model_override,
            upstream_timeout_s=upstream_timeout_s,
            reader=reader,
            policy=policy,
        )
        with self._lock:
            if sid in self._sessions:
                raise ValueError(f"session {sid!r} exists already")
            self._sessions[sid] = sess
        return sess

    def get(self, sid: str) -> Session | None:
        return self._sessions.get(sid)

    def get_or_create(self, sid: str) -> Session:
        """Standalone mode: an unknown `cab-<id>` key simply names a new session."""
        with self._lock:
            sess = self._sessions.get(sid)
            if sess is None:
                reader = self.implicit_reader
                sess = self._sessions[sid] = Session(id=sid, reader=reader, expires=not reader)
            return sess

    def next_request(self, sess: Session) -> int:
        with self._lock:
            sess.requests += 1
            return sess.requests

    def next_seq(self, sess: Session) -> int:
        with self._lock:
            sess.seq += 1
            return sess.seq

    def begin(self, sess: Session) -> None:
        with self._lock:
            sess.inflight += 1
            sess.last_used = time.monotonic()

    def add_call(self, sess: Session, call: ModelCall) -> None:
        with self._lock:
            if sess.reader:
                sess.calls.append(call)
                if len(sess.calls) > MAX_KEPT_CALLS:
                    del sess.calls[: len(sess.calls) - MAX_KEPT_CALLS]
                    sess.dropped = sess.seq - MAX_KEPT_CALLS
            sess.inflight = max(0, sess.inflight - 1)
            sess.last_used = time.monotonic()
            if self._waiting:
                self._settled.notify_all()

    def expire(self, idle_s: float, now: float | None = None) -> int:
        """Forget sessions that appeared from a key, have nothing in flight and were idle
        for idle_s; returns how many. Sessions made with `create` are never expired."""
        now = time.monotonic() if now is None else now
        with self._lock:
            gone = [
                sid
                for sid, sess in self._sessions.items()
                if sess.expires and sess.inflight == 0 and now - sess.last_used >= idle_s
            ]
            for sid in gone:
                del self._sessions[sid]
        return len(gone)

    def __len__(self) -> int:
        return len(self._sessions)

    def calls(self, sid: str, settle_s: float = 5.0) -> list[ModelCall]:
        """The session's calls in order, after waiting (at most settle_s) for calls in
        flight: a client can hold a stream's last byte a moment before it is recorded."""
        with self._settled:
            sess = self._sessions.get(sid)
            if sess is None:
                raise KeyError(f"no session {sid!r}")
            self._waiting += 1
            try:
                self._settled.wait_for(lambda: sess.inflight == 0, timeout=settle_s)
            finally:
                self._waiting -= 1
            return sorted(sess.calls, key=lambda c: c.seq)

    def close(self, sid: str) -> Session | None:
        with self._lock:
            sess = self._sessions.pop(sid, None)
        if sess is not None and sess.transcript is not None:
            sess.transcript.close()
        return sess
