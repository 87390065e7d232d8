"""Sessions: one per cell. A session key `cab-<id>` stands in for the real provider key.

The store is shared between the proxy's event loop (which appends calls) and the
runner's thread (which creates sessions and reads calls), so it takes a lock.
"""

from __future__ import annotations

import re
import secrets
import threading
from dataclasses import dataclass, field

from proxy.capture import TranscriptWriter
from proxy.records import ModelCall
from proxy.replay import ReplayBook

KEY_PREFIX = "cab-"
DEFAULT_SESSION = "default"
_ID_OK = re.compile(r"^[A-Za-z0-9_.:-]{1,128}$")


@dataclass
class Session:
    id: str
    cell_id: str | None = None
    upstream: str | None = None
    upstream_key_env: str | None = None
    model_override: str | None = None
    calls: list[ModelCall] = field(default_factory=list)
    seq: int = 0
    #: requests begun but not yet recorded (a client may hold its whole reply first).
    inflight: int = 0
    #: where this session's wire transcript goes (None: the proxy's own, or none)
    transcript: TranscriptWriter | None = None
    #: replay: answer from this recording instead of the upstream
    replay: ReplayBook | None = None

    @property
    def key(self) -> str:
        return KEY_PREFIX + self.id


def valid_session_id(sid: str) -> bool:
    return bool(_ID_OK.match(sid))


class SessionStore:
    def __init__(self) -> None:
        self._lock = threading.Condition()
        self._sessions: dict[str, Session] = {}

    def create(
        self,
        cell_id: str | None = None,
        upstream: str | None = None,
        upstream_key_env: str | None = None,
        model_override: str | None = None,
        session_id: str | None = None,
    ) -> Session:
        sid = session_id or secrets.token_hex(8)
        if not valid_session_id(sid):
            raise ValueError(f"session id {sid!r}: use letters, digits, '_', '.', ':', '-'")
        sess = Session(
            id=sid,
            cell_id=cell_id,
            upstream=upstream.rstrip("/") if upstream else None,
            upstream_key_env=upstream_key_env,
            model_override=model_override,
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
                sess = self._sessions[sid] = Session(id=sid)
            return sess

    def next_seq(self, sess: Session) -> int:
        with self._lock:
            sess.seq += 1
            return sess.seq

    def begin(self, sess: Session) -> None:
        with self._lock:
            sess.inflight += 1

    def add_call(self, sess: Session, call: ModelCall) -> None:
        with self._lock:
            sess.calls.append(call)
            sess.inflight = max(0, sess.inflight - 1)
            self._lock.notify_all()

    def calls(self, sid: str, settle_s: float = 5.0) -> list[ModelCall]:
        """The session's calls in order, after waiting (at most settle_s) for calls in
        flight: a client can hold a stream's last byte a moment before it is recorded."""
        with self._lock:
            sess = self._sessions.get(sid)
            if sess is None:
                raise KeyError(f"no session {sid!r}")
            self._lock.wait_for(lambda: sess.inflight == 0, timeout=settle_s)
            return sorted(sess.calls, key=lambda c: c.seq)

    def close(self, sid: str) -> Session | None:
        with self._lock:
            return self._sessions.pop(sid, None)
