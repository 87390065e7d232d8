"""Cell sessions on a shared proxy: what `cab sweep --proxy URL` asks of a running
`cab proxy`, so that several sweeps share one proxy and so one governor.

The same admin token as `POST /admin/sessions` (proxy/admin.py), loopback only:

- `POST /admin/cell-sessions` `{"cell_id", "upstream", "upstream_key_env",
  "model_override", "upstream_timeout_s", "policy": {"rpm", "tpm", "max_concurrency",
  "quota_window_s", "absorb", "inject"}}` -> `{"session", "key"}`: a session that keeps
  its calls in memory until it is closed;
- `GET /admin/sessions/{sid}/calls` -> the session's ModelCalls, in order (after waiting
  a moment for calls still in flight);
- `DELETE /admin/sessions/{sid}` -> the session is forgotten (its key stops working).
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from aiohttp import web

from proxy.admin import check_admin
from proxy.errors import BadRequest, NotFound, ProxyError
from proxy.governor import AbsorbPolicy, Limits, Policy
from proxy.inject import FaultSpecError, parse_inject
from proxy.keys import APP_STORE

_FIELDS = ("cell_id", "upstream", "upstream_key_env", "model_override")


def routes(app: web.Application) -> None:
    app.router.add_post("/admin/cell-sessions", create)
    app.router.add_get("/admin/sessions/{sid}/calls", calls)
    app.router.add_delete("/admin/sessions/{sid}", close)


def policy_from(raw: Any) -> Policy | None:
    """The JSON form of a model's rate-limit keys -> Policy (BadRequest names the field)."""
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise BadRequest("'policy' must be an object")
    try:
        limits = Limits(
            raw.get("rpm"), raw.get("tpm"), raw.get("max_concurrency"),
            float(raw.get("quota_window_s") or 60.0),
        )  # fmt: skip
        inject = parse_inject(raw["inject"]) if raw.get("inject") else None
    except (TypeError, ValueError, FaultSpecError) as exc:
        raise BadRequest(f"'policy': {exc}") from None
    return Policy(limits, AbsorbPolicy() if raw.get("absorb") else None, inject)


async def create(request: web.Request) -> web.Response:
    try:
        check_admin(request)
        try:
            body = json.loads(await request.read() or b"{}")
        except ValueError:
            raise BadRequest("body must be a JSON object") from None
        if not isinstance(body, dict):
            raise BadRequest("body must be a JSON object")
        bad = [f for f in _FIELDS if not isinstance(body.get(f), str | None)]
        if bad:
            raise BadRequest(f"'{bad[0]}' must be a string")
        timeout = body.get("upstream_timeout_s")
        if timeout is not None and not isinstance(timeout, int | float):
            raise BadRequest("'upstream_timeout_s' must be a number")
        sess = request.app[APP_STORE].create(
            cell_id=body.get("cell_id"),
            upstream=body.get("upstream"),
            upstream_key_env=body.get("upstream_key_env"),
            model_override=body.get("model_override"),
            upstream_timeout_s=timeout,
            policy=policy_from(body.get("policy")),
        )
    except ProxyError as err:
        return err.response()
    return web.json_response({"session": sess.id, "key": sess.key})


async def calls(request: web.Request) -> web.Response:
    try:
        check_admin(request)
        store = request.app[APP_STORE]
        try:
            found = await asyncio.to_thread(store.calls, request.match_info["sid"], 5.0)
        except KeyError:
            raise NotFound(f"no session {request.match_info['sid']!r}") from None
    except ProxyError as err:
        return err.response()
    text = "[" + ",".join(c.model_dump_json() for c in found) + "]"
    return web.Response(text=text, content_type="application/json")


async def close(request: web.Request) -> web.Response:
    try:
        check_admin(request)
        if request.app[APP_STORE].close(request.match_info["sid"]) is None:
            raise NotFound(f"no session {request.match_info['sid']!r}")
    except ProxyError as err:
        return err.response()
    return web.json_response({"closed": request.match_info["sid"]})
