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
from runner.sandbox import RunSpec, Sandbox
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


def network_note(network_mode: str, isolated: bool) -> str:
    """The record's one-line `network` fact."""
    if not isolated:
        return "local process: shares the host network (not isolated)"
    if network_mode == "isolated":
        return (
            f"isolated: only loopback; the proxy on 127.0.0.1:{LOOPBACK_PORT} through the "
            "sidecar (its Unix socket), nothing else reachable"
        )
    if network_mode == "host":
        return "host network (opted in): the agent reaches the proxy and the host's network"
    return f"docker network '{network_mode}'"


# ---- "Run it yourself": the same confinement, as docker commands -----------------------

#: The sidecar's name in the reproduce commands.
SIDECAR_NAME = "cab-sidecar"
#: The key an isolated agent gets when reproduced: the proxy holds the real one.
REPRODUCE_KEY = "cab-reproduce"


def reproduce_before(spec: RunSpec, sidecar_image: str, recorded_user: str | None) -> list[str]:
    """Shell lines before the agent's docker run: for an isolated run, the proxy on a Unix
    socket (holding the key) and the sidecar serving it; always, a word on the uid."""
    uid = f"# the agent runs as your uid, so the workspace stays yours (here: {recorded_user})"
    if spec.network_mode != "isolated":
        return [uid]
    socat = " ".join(sidecar_command(spec.loopback_port))
    return [
        "# 1. the proxy holds your key and serves a Unix socket (the agent never sees the key)",
        'mkdir -p "$PWD/cab-proxy" && chmod 755 "$PWD/cab-proxy"',
        'cab proxy --upstream "$YOUR_ENDPOINT" --upstream-key-env YOUR_KEY_ENV \\',
        '  --unix-socket "$PWD/cab-proxy/proxy.sock" &',
        f"# 2. the sidecar: a namespace with only lo; the socket on its 127.0.0.1:{spec.loopback_port}",
        f"docker run -d --name {SIDECAR_NAME} --network none --user {SIDECAR_USER} \\",
        "  --cap-drop ALL --security-opt no-new-privileges --read-only \\",
        "  --memory 64m --pids-limit 256 \\",
        f'  -v "$PWD/cab-proxy:{SIDECAR_SOCKET_DIR}:ro" \\',
        f"  {sidecar_image} {socat}",
        "# 3. the agent joins the sidecar's namespace (Docker Desktop on macOS: see",
        "#    docs/isolation.md, host Unix sockets do not cross into its VM reliably)",
        uid,
    ]


def reproduce_flags(spec: RunSpec) -> list[str]:
    """The agent's docker run flags: network, user, capabilities, limits."""
    network = f"container:{SIDECAR_NAME}" if spec.network_mode == "isolated" else spec.network_mode
    cpus = spec.nano_cpus / 1_000_000_000
    caps = "".join(f" --cap-add {c}" for c in spec.cap_add)
    flags = [
        f"--network {network} --init \\",
        '--user "$(id -u):$(id -g)" \\',
        f"--cap-drop ALL{caps} --security-opt no-new-privileges \\",
        f"--memory {spec.mem_limit} --memory-swap {spec.mem_limit} --cpus {cpus:g} "
        f"--pids-limit {spec.pids_limit} \\",
    ]
    if spec.read_only_root:
        flags.append("--read-only --tmpfs /tmp:rw,exec,nosuid,mode=1777 \\")
    return ["  " + f for f in flags]


def reproduce_after(spec: RunSpec) -> list[str]:
    return [f"docker rm -f {SIDECAR_NAME}"] if spec.network_mode == "isolated" else []
