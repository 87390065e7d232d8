"""Which session a request belongs to, from its key or its `/s/<session>/` path.

`Authorization: Bearer cab-<session>` (or `/s/<session>/v1/...`) names a session. Any
other key is a plain key: allowed in standalone mode (session `default`, and forwarded
upstream only if the proxy has no key of its own), refused under --require-session.
Messages name the session, never echo a key.
"""

from __future__ import annotations

from aiohttp import web

from proxy.config import ProxyConfig
from proxy.errors import SessionRejected
from proxy.sessions import DEFAULT_SESSION, KEY_PREFIX, Session, SessionStore, valid_session_id


def presented_key(request: web.Request) -> str:
    auth = request.headers.get("Authorization", "")
    if auth[:7].lower() == "bearer ":
        return auth[7:].strip()
    return request.headers.get("api-key", "").strip()


def resolve_session(
    request: web.Request, cfg: ProxyConfig, store: SessionStore, key: str
) -> tuple[Session, str | None]:
    """(session, the client's own plain key or None); `key`: presented_key(request)."""
    sid = request.match_info.get("sid")
    if sid is None and key.startswith(KEY_PREFIX):
        sid = key[len(KEY_PREFIX) :]
    if sid is not None:
        sess = store.get(sid)
        if sess is not None:
            return sess, None
        if cfg.require_session or not valid_session_id(sid):
            raise SessionRejected(
                f"unknown session {sid[:64]!r}: this proxy only accepts keys it issued"
                " (cab-<session>)"
            )
        return store.get_or_create(sid), None
    if cfg.require_session:
        raise SessionRejected(
            "this proxy requires a session key: send 'Authorization: Bearer cab-<session>'"
            " or call /s/<session>/v1/..."
        )
    return store.get_or_create(DEFAULT_SESSION), key or None
