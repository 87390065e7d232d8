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
from runner.sandbox import RunResult, RunSpec, Sandbox
from runner.sandbox.isolation import (
    LOOPBACK_PORT,
    SIDECAR_SOCKET_DIR,
    SIDECAR_USER,
    sidecar_command,
)
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


# ---- "Run it yourself": the same confinement, as shell lines ---------------------------

#: The shell variable holding the agent's key when reproduced: any cab-<name> does, the
#: proxy holds the real key.
REPRODUCE_KEY_VAR = "CAB_KEY"


def reproduce_setup(spec: RunSpec, sidecar_image: str) -> list[str]:
    """Shell lines run before the agent's `docker run`: for an isolated run, the proxy on
    a Unix socket (holding the reader's key) and the sidecar serving it on loopback, both
    stopped on exit. Nothing for a run that opted into host networking."""
    if spec.network_mode != "isolated":
        return []
    socat = " ".join(sidecar_command(spec.loopback_port))
    return [
        "# Isolated, as this cell ran: the agent's container has only loopback; on it, at",
        f"# 127.0.0.1:{spec.loopback_port}, a sidecar serves the proxy's Unix socket (docs/isolation.md;",
        "# Docker Desktop on macOS: run this inside its Linux VM, host sockets do not cross).",
        f"{REPRODUCE_KEY_VAR}=cab-reproduce  # the agent's key: the proxy holds your real one",
        'sock_dir=$(mktemp -d /tmp/cab-proxy.XXXXXX) && chmod 755 "$sock_dir"',
        'cab proxy --upstream "$YOUR_ENDPOINT" --upstream-key-env YOUR_KEY --port 0 \\',
        '  --unix-socket "$sock_dir/proxy.sock" >cab-proxy.log 2>&1 &',
        "proxy_pid=$!",
        'trap \'docker rm -f "${sidecar:-none}" >/dev/null 2>&1; kill $proxy_pid; '
        'rm -rf "$sock_dir"\' EXIT',
        'for _ in $(seq 100); do [ -S "$sock_dir/proxy.sock" ] && break; sleep 0.1; done',
        f"sidecar=$(docker run -d --network none --user {SIDECAR_USER} \\",
        "  --cap-drop ALL --security-opt no-new-privileges --read-only \\",
        "  --memory 64m --pids-limit 256 \\",
        f'  -v "$sock_dir:{SIDECAR_SOCKET_DIR}:ro" \\',
        f"  {sidecar_image} {socat})",
    ]


def reproduce_flags(spec: RunSpec) -> list[str]:
    """The agent's `docker run` and its confinement flags, one line each."""
    network = '"container:$sidecar"' if spec.network_mode == "isolated" else spec.network_mode
    caps = "".join(f" --cap-add {c}" for c in spec.cap_add)
    lines = [
        f"docker run --rm --init --network {network} \\",
        f'  --user "$(id -u):$(id -g)" --cap-drop ALL{caps} --security-opt no-new-privileges \\',
        f"  --memory {spec.mem_limit} --memory-swap {spec.mem_limit} "
        f"--cpus {spec.nano_cpus / 1e9:g} --pids-limit {spec.pids_limit} \\",
    ]
    if spec.read_only_root:
        lines.append("  --read-only --tmpfs /tmp:rw,exec,nosuid,mode=1777 \\")
    return lines
