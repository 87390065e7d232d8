"""The confinement facts a cell records (data only: the report reads them). The sandbox
fills them in (runner/sandbox/isolation.py); docs/isolation.md says what each means."""

from __future__ import annotations

from pydantic import BaseModel, Field

#: The port the sidecar serves the proxy on, inside the agent's namespace.
LOOPBACK_PORT = 4141


class ForwarderCounts(BaseModel):
    """What the sidecar's socat logged: connections from the agent it accepted, and how
    many of those the proxy's socket refused (the proxy could not be reached)."""

    connections_accepted: int = 0
    connections_refused: int = 0


class NetCheck(BaseModel):
    """What the agent's own container saw, just before the agent command started."""

    interfaces: list[str] = Field(description="/sys/class/net and /proc/net/dev, merged")
    loopback_only: bool
    uid: str | None = None
    cap_eff: str | None = Field(None, description="effective capabilities (hex)")
    no_new_privs: bool | None = None
    docker_socket: bool = Field(False, description="a Docker socket was found")
    probes: dict[str, str] = Field(
        default_factory=dict, description="'127.0.0.1:port' -> open | refused | unprobed"
    )


class IsolationFacts(BaseModel):
    """How the agent's container was confined, and the evidence that it was."""

    network_mode: str = Field(description="isolated | host | none | a docker network mode")
    engine_network_mode: str | None = Field(None, description="what the engine was given")
    loopback_port: int | None = Field(None, description="the proxy, on the agent's 127.0.0.1")
    sidecar_image: str | None = None
    forwarder: ForwarderCounts | None = None
    check: NetCheck | None = None
    user: str | None = None
    cap_drop: list[str] = Field(default_factory=list)
    cap_add: list[str] = Field(default_factory=list)
    no_new_privileges: bool = False
    read_only_root: bool = False
    docker_sock_mounted: bool = False
    mem_limit: str | None = None
    nano_cpus: int | None = None
    pids_limit: int | None = None
