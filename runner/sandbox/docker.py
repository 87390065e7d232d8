"""DockerSandbox: one container per command, always removed afterwards.

The container runs the command over the workspace bind-mounted at /workspace, with the
spec's limits, env, network mode and labels (plus `cab.managed=1` so leftovers can be
found). It is killed at the timeout. Its active time comes from the engine's own
State.StartedAt/FinishedAt, so the harness's overhead is not billed to the agent.

Per-cell harness overhead matters for sweeps, so a run makes only the calls it needs:
create (which inspects, giving the exact image id used), start, wait, logs, remove;
never a pull. An engine or image failure is returned as `RunResult.error` with
`exit_code=None` — the command never ran — never raised.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import docker
import requests
import structlog

from runner import images
from runner.confinement import IsolationFacts
from runner.errors import SandboxError
from runner.sandbox.base import WORKSPACE, Mount, RunResult, RunSpec, exit_facts
from runner.sandbox.isolation import (
    Sidecar,
    confinement_flags,
    hand_over,
    hardening,
    is_docker_socket,
    read_check,
    run_as,
    wrap_with_check,
)
from runner.tasks import Task

log = structlog.get_logger(__name__)

#: Label every container we start carries, so `cleanup` and operators can find them.
MANAGED = {"cab.managed": "1"}
#: how long, after an exit 137 the engine did not flag as an OOM kill, its OOM event may
#: take to be logged
OOM_EVENT_GRACE_S = 2.0

#: tini (docker's --init) prints this when it cannot exec the command: it never ran.
_TINI_EXEC_FAILED = "[FATAL tini"
#: ... and the isolation check's shell prints this when the command it execs is missing.
_CHECK_EXEC_FAILED = "cab-isolation-check: "


def parse_engine_time(value: str | None) -> datetime | None:
    """Docker's RFC 3339 times carry nanoseconds and a Z; Python wants microseconds."""
    if not value or value.startswith("0001-"):
        return None
    head, _, frac = value.rstrip("Z").partition(".")
    frac = (frac + "000000")[:6]
    return datetime.fromisoformat(f"{head}.{frac}+00:00")


def inspected_exposure(attrs: dict) -> tuple[bool, bool]:
    """From the container's inspect data: is a Docker socket among its mounts (source or
    destination named docker.sock), and is its root filesystem read-only."""
    mounts = attrs.get("Mounts") or []
    sock = any(
        Path(m.get(side) or "").name == "docker.sock"
        for m in mounts
        for side in ("Source", "Destination")
    )
    return sock, bool((attrs.get("HostConfig") or {}).get("ReadonlyRootfs"))


def cli_flags(
    spec: RunSpec, source: Callable[[Mount], str], word: Callable[[str], str]
) -> list[str]:
    """The `docker run` command line (without image and command) that starts what `_create`
    starts: the "Run it yourself" text (runner/reproduce.py) is made from it, so keep the
    two in step. `source` names a mount's host folder, `word` quotes a value for the shell."""
    lines = [
        *confinement_flags(spec),
        f'  -v "$PWD/workspace:{WORKSPACE}" -w {word(spec.workdir)} \\',
    ]
    for mount in spec.mounts:
        ro = ":ro" if mount.read_only else ""
        lines.append(f'  -v "{source(mount)}:{mount.target}{ro}" \\')
    for key, value in sorted(spec.env.items()):
        lines.append(f"  -e {key}={word(value)} \\")
    return lines


class DockerSandbox:
    name = "docker"
    isolated = True

    def __init__(self, client: docker.DockerClient | None = None) -> None:
        self._client = client
        self._digests: dict[str, str] = {}

    @property
    def client(self) -> docker.DockerClient:
        if self._client is None:
            self._client = docker.from_env(timeout=60)
        return self._client

    def preflight(self, task: Task) -> None:
        """Nothing to check ahead: the task's image brings its toolchain, and a missing
        image or engine is reported by `run` as the run's error."""

    def image_digest(self, image: str) -> str | None:
        """The local image id ('sha256:...'), inspected once per image and cached."""
        if image not in self._digests:
            try:
                self._digests[image] = self.client.images.get(image).id
            except docker.errors.DockerException:
                return None
        return self._digests[image]

    def run(self, spec: RunSpec) -> RunResult:
        started = datetime.now(UTC)
        result = RunResult(
            sandbox=self.name,
            isolated=True,
            started_at=started,
            ended_at=started,
            image=spec.image,
            network_mode=spec.network_mode,
        )
        container = sidecar = None
        facts = result.isolation = self._isolation_facts(spec)
        try:
            hand_over(writable_folders(spec), facts.user or "")
            if spec.network_mode == "isolated":
                sidecar = self._sidecar(spec)
                facts.engine_network_mode = sidecar.create().network_mode
            container = self._create_beside(spec, facts, sidecar)
            result.image_digest = container.attrs.get("Image")
            result.docker_sock_mounted, result.read_only = inspected_exposure(container.attrs)
            facts.docker_sock_mounted = result.docker_sock_mounted
            self._digests[spec.image] = result.image_digest
            container.start()
            result.timed_out, waited_code = self._wait(container, spec.timeout_s)
            try:
                self._collect(container, spec, result)
            except docker.errors.APIError as exc:
                if not vanished(exc):
                    raise
                lost_output(result, waited_code, exc)
        except docker.errors.ImageNotFound:
            missing = spec.image
            if sidecar is not None and sidecar.container is None:
                missing = sidecar.image
            self._digests.pop(spec.image, None)
            result.error = (
                f"image {missing} not found locally (nothing is pulled): "
                "build it with `cab images build`"
            )
        except (docker.errors.DockerException, requests.exceptions.RequestException) as exc:
            result.error = f"docker could not run the command: {exc}"
        except (SandboxError, RuntimeError, OSError) as exc:
            result.error = f"the sandbox could not be set up: {exc}"
        finally:
            if container is not None:
                self._remove(container)
            if sidecar is not None:
                facts.forwarder = self._stop_sidecar(sidecar)
            result.ended_at = datetime.now(UTC)
        if result.error:
            result.exit_code = None
            log.warning("sandbox_error", image=spec.image, error=result.error)
        return result

    def _isolation_facts(self, spec: RunSpec) -> IsolationFacts:
        """How this run will be confined (filled in further as it runs)."""
        isolated = spec.network_mode == "isolated"
        return IsolationFacts(
            network_mode=spec.network_mode,
            engine_network_mode=None if isolated else spec.network_mode,
            loopback_port=spec.loopback_port if isolated else None,
            sidecar_image=images.resolve("sidecar") if isolated else None,
            user=run_as(spec.user),
            cap_drop=["ALL"],
            cap_add=list(spec.cap_add),
            no_new_privileges=True,
            read_only_root=spec.read_only_root,
            docker_sock_mounted=False,
            mem_limit=spec.mem_limit,
            nano_cpus=spec.nano_cpus,
            pids_limit=spec.pids_limit,
        )

    def _sidecar(self, spec: RunSpec) -> Sidecar:
        if spec.proxy_socket_dir is None:
            raise SandboxError("network_mode 'isolated' needs the proxy's socket folder")
        labels = {**spec.labels, **MANAGED}
        image = images.resolve("sidecar")
        return Sidecar(self.client, image, spec.proxy_socket_dir, spec.loopback_port, labels)

    def _create_beside(self, spec: RunSpec, facts: IsolationFacts, sidecar: Sidecar | None):
        """Create the command's container; with a sidecar, while the sidecar starts (the
        engine's start is most of the sidecar's cost, and the two do not depend on each
        other until the command's container starts)."""
        if sidecar is None:
            return self._create(spec, facts)
        with ThreadPoolExecutor(max_workers=1) as pool:
            started = pool.submit(sidecar.start)
            try:
                container = self._create(spec, facts)
            except BaseException:
                with contextlib.suppress(Exception):
                    started.result()  # the sidecar is removed by the caller either way
                raise
            try:
                started.result()  # raises what the sidecar's start raised
            except BaseException:
                self._remove(container)
                raise
            return container

    def _stop_sidecar(self, sidecar: Sidecar):
        try:
            return sidecar.stop()
        except (docker.errors.DockerException, requests.exceptions.RequestException) as exc:
            log.warning("sidecar_not_removed", error=str(exc))
            return None

    def _create(self, spec: RunSpec, facts: IsolationFacts):
        # A list of binds, not a dict keyed by host path: one folder may be mounted at two
        # places (a Harbor task's workspace is at /workspace and at its WORKDIR).
        volumes = [f"{Path(spec.workspace).resolve()}:{WORKSPACE}:rw"]
        for m in spec.mounts:
            if is_docker_socket(m.source):
                raise SandboxError(
                    f"refusing to mount an engine socket ({m.source}) into {m.target}"
                )
            volumes.append(f"{Path(m.source).resolve()}:{m.target}:{'ro' if m.read_only else 'rw'}")
        command = spec.command
        if spec.isolation_check:
            command = wrap_with_check(command, spec.probe_ports)
        return self.client.containers.create(
            spec.image,
            command,
            name=spec.name,
            working_dir=spec.workdir,
            environment=spec.env,
            volumes=volumes,
            network_mode=facts.engine_network_mode,
            user=facts.user,
            cap_add=spec.cap_add or None,
            read_only=spec.read_only_root,
            tmpfs={"/tmp": "rw,exec,nosuid,mode=1777"} if spec.read_only_root else None,
            mem_limit=spec.mem_limit,
            memswap_limit=spec.mem_limit,  # no swap on top: the limit is the limit
            nano_cpus=spec.nano_cpus,
            pids_limit=spec.pids_limit,
            labels={**spec.labels, **MANAGED},
            init=True,
            detach=True,
            **hardening(),
        )

    def _wait(self, container, timeout_s: float) -> tuple[bool, int | None]:
        """Wait for the command; kill it at the timeout. Returns (killed at the timeout,
        the exit code the engine's wait reported)."""
        try:
            return False, container.wait(timeout=timeout_s).get("StatusCode")
        except requests.exceptions.RequestException:
            pass  # the engine's wait outlived the timeout
        try:
            container.kill()
        except docker.errors.APIError as exc:
            if exc.status_code != 409:  # 409: it finished just now, on its own
                raise
            return False, container.wait(timeout=30).get("StatusCode")
        return True, container.wait(timeout=30).get("StatusCode")

    def _collect(self, container, spec: RunSpec, result: RunResult) -> None:
        out = container.logs(stdout=True, stderr=False).decode("utf-8", "replace")
        err = container.logs(stdout=False, stderr=True).decode("utf-8", "replace")
        result.stdout, result.stderr = out, err
        if spec.log_path is not None:
            both = container.logs(stdout=True, stderr=True).decode("utf-8", "replace")
            Path(spec.log_path).parent.mkdir(parents=True, exist_ok=True)
            Path(spec.log_path).write_text(both)
        container.reload()
        state = container.attrs["State"]
        result.exit_code = state.get("ExitCode")
        begun = parse_engine_time(state.get("StartedAt"))
        finished = parse_engine_time(state.get("FinishedAt"))
        if begun and finished:
            result.container_active_ms = round(
                max(0.0, (finished - begun).total_seconds() * 1000), 3
            )
        result.container_started_at, result.container_ended_at = begun, finished
        if state.get("OOMKilled"):
            result.oom_killed = True
        elif result.exit_code == 137 and not result.timed_out and begun is not None:
            result.oom_killed = self.oom_event(container.id, begun)
        exit_facts(result)
        if result.exit_code == 127 and err.startswith(_TINI_EXEC_FAILED):
            result.error = f"the command could not be started: {err.strip()}"
        if spec.isolation_check and result.isolation is not None:
            result.isolation.check = read_check(err)
            last = err.strip().splitlines()[-1:] or [""]
            if result.exit_code == 127 and last[0].startswith(_CHECK_EXEC_FAILED):
                result.error = f"the command could not be started: {last[0]}"

    def oom_event(self, container_id: str, since: datetime) -> bool:
        """Whether the engine logged an OOM kill in the container since `since`. Its
        `OOMKilled` flag races the exit: under load the OOM event can come after the exit
        was handled, and the flag stays false (an agent's own OOM would then read as a
        kill from outside, infra). The event log has it either way; a late event gets
        `OOM_EVENT_GRACE_S` to arrive."""
        until = datetime.now(UTC) + timedelta(seconds=OOM_EVENT_GRACE_S)
        try:
            events = self.client.events(  # as text: the SDK cuts a datetime to whole seconds
                since=f"{since.timestamp() - 1:.6f}",
                until=f"{until.timestamp():.6f}",
                filters={"container": container_id, "event": "oom"},
                decode=True,
            )
            return any(True for _ in events)
        except (docker.errors.APIError, requests.exceptions.RequestException) as exc:
            log.warning("oom_events_unread", container=container_id[:12], error=str(exc))
            return False

    def _remove(self, container) -> None:
        """Always remove: also after errors, timeouts and Ctrl-C (this runs in `finally`)."""
        try:
            container.remove(force=True)
        except docker.errors.NotFound:
            pass  # already gone
        except (docker.errors.APIError, requests.exceptions.RequestException) as exc:
            log.warning("container_not_removed", container=container.id[:12], error=str(exc))

    def cleanup(self, labels: dict[str, str]) -> int:
        """Remove every container (running or not) carrying all of these labels."""
        selector = [f"{k}={v}" for k, v in {**MANAGED, **labels}.items()]
        removed = 0
        # ignore_removed: one may go (its own run removing it) between listing and inspecting
        found = self.client.containers.list(
            all=True, filters={"label": selector}, ignore_removed=True
        )
        for container in found:
            with contextlib.suppress(docker.errors.NotFound):
                container.remove(force=True)
                removed += 1
        return removed


def vanished(exc: docker.errors.APIError) -> bool:
    """The container is gone (404) or being removed (409), by someone else: we remove ours
    only after reading it."""
    return isinstance(exc, docker.errors.NotFound) or (
        exc.status_code == 409 and "removal" in str(exc)
    )


def lost_output(result: RunResult, exit_code: int | None, exc: Exception) -> None:
    """The command ran to its end (the engine's wait gave its exit code) but its container
    vanished before its output was read: keep the exit code, say what was lost, and call
    it an error only when not even the exit code is known."""
    log.warning("container_vanished", error=str(exc))
    if exit_code is None:
        result.error = f"docker could not run the command: {exc}"
        return
    result.exit_code = exit_code
    result.stderr = (result.stderr or "") + (
        f"\n[cab] the container was removed before its output was read: {exc}\n"
    )
    exit_facts(result)


def writable_folders(spec: RunSpec) -> list[Path]:
    """The host folders a container may write: the workspace and the read-write mounts."""
    return [Path(spec.workspace), *(Path(m.source) for m in spec.mounts if not m.read_only)]
