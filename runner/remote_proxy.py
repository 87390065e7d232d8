"""A running `cab proxy` used by a sweep (`cab sweep --proxy URL`): several sweeps on one
provider key share that proxy, so one governor keeps them all inside the quota.

`RemoteProxy` offers what the harness uses of an in-process `ProxyServer` (create a
session, read its calls, close it) over the proxy's admin routes (proxy/admin_sweep.py),
with the admin token read from an env var. The proxy must run on this machine (its admin
routes answer loopback only), and its cells reach it over TCP (network mode `host`, or
the local sandbox).
"""

from __future__ import annotations

import os
from urllib.parse import urlparse

import httpx

from proxy.governor import Policy
from proxy.records import ModelCall
from proxy.sessions import Session
from runner.errors import RunnerError

DEFAULT_TOKEN_ENV = "CAB_PROXY_ADMIN_TOKEN"


class RemoteProxyError(RunnerError):
    """The shared proxy is unreachable or refused us; the message says which and why."""


def policy_json(policy: Policy | None) -> dict | None:
    if policy is None:
        return None
    limits = policy.limits
    return {
        "rpm": limits.rpm if limits else None,
        "tpm": limits.tpm if limits else None,
        "max_concurrency": limits.max_concurrency if limits else None,
        "quota_window_s": limits.window_s if limits else 60.0,
        "absorb": policy.absorb is not None,
        "inject": policy.inject.text if policy.inject else None,
    }


class RemoteProxy:
    def __init__(self, url: str, token_env: str = DEFAULT_TOKEN_ENV) -> None:
        self.base_url = url.rstrip("/").removesuffix("/v1")
        parsed = urlparse(self.base_url)
        if parsed.scheme != "http" or parsed.hostname not in ("127.0.0.1", "localhost"):
            raise RemoteProxyError(f"--proxy {url}: give the http://127.0.0.1:PORT of a cab proxy")
        self.port = parsed.port or 80
        token = os.environ.get(token_env)
        if not token:
            raise RemoteProxyError(
                f"--proxy {url}: set {token_env} to the admin token the proxy was started with"
            )
        self._client = httpx.Client(
            base_url=self.base_url, headers={"Authorization": f"Bearer {token}"}, timeout=30
        )

    def start(self) -> RemoteProxy:
        try:
            self._client.get("/healthz").raise_for_status()
        except httpx.HTTPError as exc:
            raise RemoteProxyError(f"--proxy {self.base_url}: not answering: {exc}") from exc
        return self

    def stop(self) -> None:
        self._client.close()

    def _call(self, method: str, path: str, **kw) -> httpx.Response:
        try:
            resp = self._client.request(method, path, **kw)
        except httpx.HTTPError as exc:
            raise RemoteProxyError(f"proxy {self.base_url}{path}: {exc}") from exc
        if resp.status_code >= 400:
            raise RemoteProxyError(
                f"proxy {self.base_url}{path}: HTTP {resp.status_code} {resp.text[:300]}"
            )
        return resp

    def create_session(
        self,
        cell_id: str | None = None,
        upstream: str | None = None,
        upstream_key_env: str | None = None,
        model_override: str | None = None,
        policy: Policy | None = None,
        upstream_timeout_s: float | None = None,
    ) -> Session:
        body = {
            "cell_id": cell_id,
            "upstream": upstream,
            "upstream_key_env": upstream_key_env,
            "model_override": model_override,
            "upstream_timeout_s": upstream_timeout_s,
            "policy": policy_json(policy),
        }
        sid = self._call("POST", "/admin/cell-sessions", json=body).json()["session"]
        return Session(id=sid, cell_id=cell_id, model_override=model_override, policy=policy)

    def calls(self, session_id: str, settle_s: float = 5.0) -> list[ModelCall]:
        raw = self._call("GET", f"/admin/sessions/{session_id}/calls").json()
        return [ModelCall.model_validate(c) for c in raw]

    def close_session(self, session_id: str) -> list[ModelCall]:
        calls = self.calls(session_id)
        self._call("DELETE", f"/admin/sessions/{session_id}")
        return calls
