"""The Sandbox protocol: as small as mini-swe-agent's environments.

Commands and env values are written against the container's paths (`/workspace`, and
the targets of extra mounts); a sandbox that runs on the host (local) maps those paths
to the host folders itself, so adapters and the cell pipeline never care which it is.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Protocol

from pydantic import BaseModel, Field

from runner.confinement import LOOPBACK_PORT, IsolationFacts
from runner.tasks import Task

WORKSPACE = "/workspace"


class Mount(BaseModel):
    source: Path = Field(description="host path")
    target: str = Field(description="path inside the sandbox")
    read_only: bool = False


class RunSpec(BaseModel):
    image: str
    command: list[str]
    workspace: Path = Field(description="host folder seen at /workspace")
    workdir: str = WORKSPACE
    mounts: list[Mount] = Field(default_factory=list)
    env: dict[str, str] = Field(default_factory=dict)
    network_mode: str = Field(
        "none",
        description="isolated (the proxy's socket on the container's own loopback, through "
        "the sidecar; needs proxy_socket_dir) | none | host | another docker network mode",
    )
    proxy_socket_dir: Path | None = Field(
        None, description="host folder holding the proxy's Unix socket (isolated runs)"
    )
    loopback_port: int = Field(
        LOOPBACK_PORT, description="where the proxy is, on the agent's 127.0.0.1"
    )
    isolation_check: bool = Field(
        False, description="run the in-container check (interfaces, uid, caps) before the command"
    )
    probe_ports: list[int] = Field(
        default_factory=list, description="host 127.0.0.1 ports the check tries to reach"
    )
    user: str | None = Field(None, description="uid:gid; None: see sandbox.isolation.run_as")
    cap_add: list[str] = Field(default_factory=list, description="added back after dropping ALL")
    read_only_root: bool = Field(False, description="read-only root fs, /tmp a tmpfs")
    timeout_s: float = 600
    mem_limit: str = "4g"
    nano_cpus: int = 2_000_000_000
    pids_limit: int = 1024
    labels: dict[str, str] = Field(default_factory=dict)
    log_path: Path | None = Field(None, description="where stdout+stderr are written")
    name: str | None = None


class RunResult(BaseModel):
    sandbox: str = Field(description="docker | local")
    isolated: bool
    exit_code: int | None = None
    timed_out: bool = False
    started_at: datetime
    ended_at: datetime
    container_active_ms: float | None = Field(
        None, description="from the engine's own start/finish times (docker)"
    )
    image: str | None = None
    image_digest: str | None = None
    stdout: str = ""
    stderr: str = ""
    error: str | None = Field(None, description="engine/image failure: the command never ran")
    network_mode: str | None = None
    isolation: IsolationFacts | None = Field(
        None, description="how the container was confined, with the evidence (docker)"
    )
    oom_killed: bool = Field(False, description="the engine killed it for exceeding mem_limit")
    signal: int | None = Field(None, description="the signal that ended the command, if one did")
    killed_externally: bool = Field(
        False, description="ended by a kill that was not the harness's (not timeout, not OOM)"
    )
    container_started_at: datetime | None = Field(
        None, description="when the command started (the engine's State.StartedAt)"
    )
    container_ended_at: datetime | None = Field(None, description="... and when it ended")
    docker_sock_mounted: bool | None = Field(
        None,
        description="docker: a docker.sock among the container's inspected mounts; "
        "local: the host's Docker socket is writable by the process",
    )
    read_only: bool | None = Field(
        None, description="docker: HostConfig.ReadonlyRootfs; local: False (the host's own files)"
    )


def exit_facts(result: RunResult) -> None:
    """The signal from a 128+N exit code, and whether the kill was someone else's: exit
    137 (SIGKILL) that was neither the harness's timeout nor the engine's OOM killer."""
    code = result.exit_code
    if code is not None and code > 128:
        result.signal = code - 128
    result.killed_externally = result.signal == 9 and not result.timed_out and not result.oom_killed


class Sandbox(Protocol):
    name: str
    isolated: bool

    def preflight(self, task: Task) -> None:
        """Raise SandboxError, before the agent runs, when this sandbox cannot run the
        task's tests (the local sandbox's host toolchain); the cell is then infra:harness."""
        ...

    def run(self, spec: RunSpec) -> RunResult:
        """Run the command to completion (or kill it at the timeout). Never raises for the
        command's own failure; `error` is set when the sandbox could not run it at all."""
        ...

    def image_digest(self, image: str) -> str | None: ...

    def cleanup(self, labels: dict[str, str]) -> int:
        """Remove leftovers carrying these labels; returns how many were removed."""
        ...
