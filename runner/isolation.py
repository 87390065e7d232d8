"""A cell's confinement, decided once: which network the agent gets (isolated by default,
host only when the user opts in), where it finds the proxy, and the container limits
(the task's own, else config/sandbox.toml's). The sandbox does the confining; see
runner/sandbox/isolation.py and docs/isolation.md."""

from __future__ import annotations

import tomllib
from functools import cache
from pathlib import Path
from typing import Literal

import structlog
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from runner.errors import ConfigError
from runner.models import CONFIG_DIR
from runner.sandbox import RunResult, Sandbox
from runner.sandbox.isolation import LOOPBACK_PORT
from runner.tasks import Task

log = structlog.get_logger(__name__)

SANDBOX_CONFIG = CONFIG_DIR / "sandbox.toml"

#: What the user may choose for the agent: the default, or host networking (an opt-in).
Network = Literal["isolated", "host"]


class Limits(BaseModel):
    model_config = ConfigDict(extra="forbid")

    cpus: float = Field(2.0, gt=0)
    memory_mb: int = Field(4096, ge=64)
    pids_limit: int = Field(1024, ge=16)


class Privileges(BaseModel):
    model_config = ConfigDict(extra="forbid")

    cap_add: list[str] = Field(default_factory=list)
    read_only_root: bool = False


class SandboxDefaults(BaseModel):
    model_config = ConfigDict(extra="forbid")

    limits: Limits = Field(default_factory=Limits)
    privileges: Privileges = Field(default_factory=Privileges)


def load_defaults(path: Path = SANDBOX_CONFIG) -> SandboxDefaults:
    """config/sandbox.toml, validated; errors name the file and the field."""
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return SandboxDefaults()
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(path, "<toml>", f"not valid TOML: {exc}") from exc
    try:
        return SandboxDefaults.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        raise ConfigError(path, ".".join(str(p) for p in err["loc"]), err["msg"]) from exc


@cache
def defaults() -> SandboxDefaults:
    return load_defaults()


def container_limits(task: Task) -> dict[str, object]:
    """RunSpec's limit fields: the task's own values, else the configured defaults."""
    base = defaults()
    cpus = task.cpus or base.limits.cpus
    memory_mb = task.memory_mb or base.limits.memory_mb
    return {
        "mem_limit": f"{memory_mb}m",
        "nano_cpus": int(cpus * 1_000_000_000),
        "pids_limit": task.pids_limit or base.limits.pids_limit,
        "cap_add": list(base.privileges.cap_add),
        "read_only_root": base.privileges.read_only_root,
    }


def agent_network(choice: Network, sandbox: Sandbox, task: Task) -> str:
    """The RunSpec network_mode for the agent. A task that asks for the internet
    (Harbor's allow_internet) gets it only when the user chose host networking."""
    if not sandbox.isolated:
        log.warning(
            "sandbox_not_isolated",
            sandbox=sandbox.name,
            detail="the agent runs as a process on this host: it can reach the host's network "
            "and files, and the proxy is not its only door",
        )
        return "host"
    if task.allow_internet and choice != "host":
        log.warning(
            "task_network_not_granted",
            task=task.id,
            detail="the task asks for the internet (allow_internet); the agent stays isolated. "
            "Pass --network host (or network_mode = 'host' in the sweep) to accept",
        )
    return choice


def hidden_tests_network(choice: Network, task: Task) -> str:
    """The hidden tests run with no network, unless the task's verifier needs it and the
    user accepted (the same opt-in as the agent's)."""
    return "host" if task.allow_internet and choice == "host" else "none"


def agent_base_url(network_mode: str, host_base_url: str) -> str:
    """Where the agent finds the proxy: its own loopback (isolated), else the host's."""
    if network_mode == "isolated":
        return f"http://127.0.0.1:{LOOPBACK_PORT}/v1"
    return host_base_url


def confinement_attrs(result: RunResult) -> dict[str, object]:
    """The container span's confinement attributes, from what the sandbox did."""
    facts = result.isolation
    if facts is None:  # the local sandbox: nothing confined
        return {"user": "the host user"}
    counts = facts.forwarder
    return {
        "user": facts.user,
        "cap_drop": facts.cap_drop,
        "cap_add": facts.cap_add,
        "no_new_privileges": facts.no_new_privileges,
        "loopback_only": facts.check.loopback_only if facts.check else None,
        "connections_accepted": counts.connections_accepted if counts else None,
        "connections_refused": counts.connections_refused if counts else None,
    }
