"""Choosing a sandbox: docker when an engine answers, else local — and say so loudly,
because a local run is not isolated (the agent can touch the whole host)."""

from __future__ import annotations

import structlog

from runner.errors import UnknownNameError
from runner.sandbox.base import Sandbox

log = structlog.get_logger(__name__)

KINDS = ("auto", "docker", "local")


def docker_answers(timeout_s: float = 3) -> str | None:
    """None when a Docker engine answers a ping within the timeout, else why not."""
    try:
        import docker

        client = docker.from_env(timeout=timeout_s)
        try:
            client.ping()
        finally:
            client.close()
    except Exception as exc:  # any failure to reach the engine means "no engine"
        return str(exc) or type(exc).__name__
    return None


def get_sandbox(kind: str = "auto") -> Sandbox:
    """`docker`, `local`, or `auto` (docker when an engine answers, else local)."""
    from runner.sandbox.docker import DockerSandbox
    from runner.sandbox.local import LocalSandbox

    if kind == "docker":
        return DockerSandbox()
    if kind == "local":
        return LocalSandbox()
    if kind != "auto":
        raise UnknownNameError(f"unknown sandbox {kind!r}: choose one of {', '.join(KINDS)}")
    problem = docker_answers()
    if problem is None:
        return DockerSandbox()
    log.warning(
        "sandbox_not_isolated",
        reason=f"no Docker engine answered ({problem})",
        sandbox="local",
        hint="commands run on this host as this user; start dockerd for isolation",
    )
    return LocalSandbox()
