"""Issuing session keys to a standalone proxy.

Under `--require-session` a proxy accepts only the session keys it issued. The runner
issues them in-process; a standalone `cab proxy` issues them two ways:

- `cab proxy --session NAME` (repeatable) creates a session at start and prints its key;
- `POST /admin/sessions` with `Authorization: Bearer <token>`, where the token is the
  value of the env var named by `--admin-token-env` (default `CAB_PROXY_ADMIN_TOKEN`).
  The route answers only a loopback peer, and only when that variable is set (else 404).
  Body (optional JSON): `{"name": "...", "cell_id": "..."}`; answer:
  `{"session": ID, "key": "cab-ID", "cell_id": ...}`.

A session's id is its name plus a random suffix, so its key cannot be guessed from the
name. Issued sessions do not expire and keep no calls in memory (calls.jsonl has them).
"""

from __future__ import annotations

import hmac
import os
import re
import secrets

from aiohttp import web
from orjson import loads

from proxy.auth import presented_key
from proxy.errors import BadRequest, NotFound, ProxyError, SessionRejected
from proxy.keys import APP_CONFIG, APP_STORE
from proxy.sessions import Session, SessionStore

_NAME = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")
_LOOPBACK = ("127.0.0.1", "::1")
#: what the body of POST /admin/sessions may hold
_FIELDS = ("name", "cell_id")


class Forbidden(ProxyError):
    status = 403
    type = "invalid_request_error"
    code = "forbidden"


def issue(store: SessionStore, name: str | None = None, cell_id: str | None = None) -> Session:
    """A new session with an unguessable id (`NAME-<random>`, or random alone)."""
    if name is not None and not _NAME.match(name):
        raise BadRequest(f"session name {name[:64]!r}: use 1-64 letters, digits, '_.:-'")
    suffix = secrets.token_hex(8)
    sid = f"{name}-{suffix}" if name else suffix
    return store.create(session_id=sid, cell_id=cell_id, reader=False)


def check_admin(request: web.Request) -> None:
    """Every admin route: a token must be configured, the caller on loopback, holding it."""
    token = os.environ.get(request.app[APP_CONFIG].admin_token_env)
    if not token:
        raise NotFound("no admin route: this proxy was started without an admin token")
    if request.remote not in _LOOPBACK:
        raise Forbidden("the admin route answers loopback clients only")
    if not hmac.compare_digest(presented_key(request).encode(), token.encode()):
        raise SessionRejected("admin token missing or wrong")


async def issue_session(request: web.Request) -> web.Response:
    try:
        check_admin(request)
        raw = await request.read()
        try:
            body = loads(raw) if raw else {}
        except ValueError:
            raise BadRequest("body must be a JSON object (or empty)") from None
        if not isinstance(body, dict):
            raise BadRequest("body must be a JSON object (or empty)")
        unknown = sorted(str(k)[:40] for k in body if k not in _FIELDS)
        if unknown:  # a field silently ignored would be a setting the caller thinks is made
            raise BadRequest(f"unknown field(s) {', '.join(unknown[:5])}: the body takes"
                             " 'name' and 'cell_id'")  # fmt: skip
        name, cell_id = body.get("name"), body.get("cell_id")
        if not isinstance(name, str | None) or not isinstance(cell_id, str | None):
            raise BadRequest("'name' and 'cell_id' must be strings")
        sess = issue(request.app[APP_STORE], name, cell_id)
    except ProxyError as err:
        return err.response()
    return web.json_response({"session": sess.id, "key": sess.key, "cell_id": sess.cell_id})
