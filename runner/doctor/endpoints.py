"""Checks of a sweep's model endpoints, spending no tokens: the key's env var is set, the
endpoint answers `GET /models`, and the model id is among the ids it lists (where the
provider lists models). A wrong id is otherwise found only after a sweep burns its
retries on it."""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import httpx

from runner.doctor.checks import Check, fail, ok, warn
from runner.models import ModelSpec

TIMEOUT_S = 3.0


@dataclass(frozen=True)
class Listing:
    """What `GET {endpoint}/models` answered: an error, a status, the ids it listed."""

    error: str | None = None
    status: int | None = None
    ids: frozenset[str] | None = None
    #: the endpoint answered 404 where `{endpoint}/v1` lists models: the base it meant
    v1: str | None = None


def list_models(endpoint: str, key: str | None, timeout_s: float = TIMEOUT_S) -> Listing:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    base = endpoint.rstrip("/")
    try:
        # trust_env=False: the proxy's own client ignores *_PROXY too; ask the same way.
        with httpx.Client(timeout=timeout_s, trust_env=False) as client:
            listing = _listing(client.get(base + "/models", headers=headers))
            if listing.status != 404 or base.endswith("/v1"):
                return listing
            # a base without /v1? every call would then be a 404
            under_v1 = _listing(client.get(base + "/v1/models", headers=headers))
            return Listing(status=404, v1=base + "/v1") if under_v1.ids is not None else listing
    except httpx.HTTPError as exc:
        return Listing(error=f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__)


def _listing(resp: httpx.Response) -> Listing:
    if resp.status_code != 200:
        return Listing(status=resp.status_code)
    try:
        data = resp.json().get("data")
        ids = frozenset(str(m["id"]) for m in data)
    except (ValueError, AttributeError, TypeError, KeyError):
        return Listing(status=resp.status_code)  # answers, but not with an OpenAI list
    return Listing(status=200, ids=ids)


def model_checks(models: list[ModelSpec], task_ids: list[str], where: str) -> list[Check]:
    """Lines for every model with an endpoint of its own (embedded ones need nothing)."""
    remote = [m for m in models if not m.embedded]
    keys = {(m.endpoint, m.key_env) for m in remote}
    with ThreadPoolExecutor(max_workers=max(1, min(8, len(keys)))) as pool:
        futures = {
            k: pool.submit(list_models, k[0], os.environ.get(k[1]) if k[1] else None) for k in keys
        }
        answers = {k: f.result() for k, f in futures.items()}
    checks: list[Check] = []
    for model in remote:
        answer = answers[(model.endpoint, model.key_env)]
        checks += _model_lines(model, answer, sorted(task_ids), where)
    return checks


def _model_lines(model: ModelSpec, answer: Listing, task_ids: list[str], where: str) -> list[Check]:
    name = f"model {model.name}"
    url = model.endpoint
    lines: list[Check] = []
    if model.key_env and not os.environ.get(model.key_env):
        lines.append(
            fail(
                f"{name}: key",
                f"${model.key_env} is not set",
                f"export {model.key_env}=<your key> (the proxy keeps it; agents never see it)",
            )
        )
    if answer.error is not None:
        detail = f"{url} unreachable ({answer.error})"
        return [*lines, fail(f"{name}: endpoint", detail, f"start it, or fix its URL in {where}")]
    if answer.v1 is not None:  # every call would be a 404: the set-up, not the agents
        detail = f"{url}/models answered HTTP 404, and {answer.v1}/models lists models"
        return [*lines, fail(f"{name}: endpoint", detail, f'endpoint = "{answer.v1}" in {where}')]
    if answer.status in (401, 403):
        detail = f"{url}/models answered HTTP {answer.status}: the key was refused"
        fix = f"check the key in ${model.key_env}" if model.key_env else f"set key_env in {where}"
        return [*lines, fail(f"{name}: key accepted", detail, fix)]
    if answer.ids is None:
        detail = f"{url} answers; it does not list models (GET /models: HTTP {answer.status})"
        unchecked = warn(
            f"{name}: model id",
            "not checked: the provider lists no models",
            "a wrong id shows in the first cell's calls (cab diagnose CELL_DIR)",
            required=False,
        )
        return [*lines, ok(f"{name}: endpoint", detail), unchecked]
    lines.append(ok(f"{name}: endpoint", f"{url} answers and lists {len(answer.ids)} models"))
    wanted = sorted({model.upstream_model(t) for t in task_ids} or {model.upstream_model("")})
    unknown = [m for m in wanted if m not in answer.ids]
    if unknown:
        sample = ", ".join(sorted(answer.ids)[:5]) or "none"
        detail = f"{', '.join(unknown[:3])} not listed by {url}/models (it lists {sample}…)"
        lines.append(fail(f"{name}: model id", detail, f"fix model_id of {model.name} in {where}"))
    else:
        lines.append(ok(f"{name}: model id", f"{', '.join(wanted[:3])} listed"))
    return lines
