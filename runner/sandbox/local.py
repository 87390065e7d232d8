"""LocalSandbox: the command as a subprocess on the host — not isolated.

For machines without a Docker engine and for quick iteration. Commands and env values
are written against container paths (/workspace and each mount's target); here those
paths are rewritten to the host folders. The process gets its own process group, and
when it ends or times out the whole group is killed, as a container's teardown would.

The environment is the spec's env over a short allowlist of the host's (PATH, HOME,
locale, ...), not all of it: the host may hold a provider key the agent must not see.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from runner.errors import SandboxError
from runner.sandbox.base import WORKSPACE, RunResult, RunSpec, exit_facts
from runner.sandbox.toolchains import missing_toolchain
from runner.tasks import Task

#: Host variables a local command inherits; everything else comes from spec.env.
INHERITED_ENV = ("PATH", "HOME", "USER", "LANG", "LC_ALL", "TERM", "TMPDIR", "SHELL")


def path_map(spec: RunSpec) -> list[tuple[str, str]]:
    """(container path, host path) pairs, longest container path first."""
    pairs = [(WORKSPACE, str(Path(spec.workspace).resolve()))]
    pairs += [(m.target.rstrip("/"), str(Path(m.source).resolve())) for m in spec.mounts]
    return sorted(pairs, key=lambda p: len(p[0]), reverse=True)


def _literal(value: str) -> Callable[[re.Match[str]], str]:
    """A re.sub replacement that inserts `value` as is (no backslash or group escapes)."""
    return lambda _match: value


def map_paths(text: str, pairs: list[tuple[str, str]]) -> str:
    """Rewrite each container path where it appears as a whole path prefix: at the start
    of a word (or after '=' or ':') and followed by '/', the end, or a non-path char."""
    for target, source in pairs:
        pattern = rf"(?<![\w.\-/]){re.escape(target)}(?=/|$|[^\w.\-])"
        text = re.sub(pattern, _literal(source), text)
    return text


def _exit_code(returncode: int) -> int:
    """Killed by signal N -> 128+N, as a shell (and docker) reports it."""
    return 128 - returncode if returncode < 0 else returncode


def docker_socket_writable() -> bool:
    """Whether a process of this user can drive the host's Docker engine through its
    socket (DOCKER_HOST's unix path, else /var/run/docker.sock)."""
    host = os.environ.get("DOCKER_HOST", "")
    path = host.removeprefix("unix://") if host.startswith("unix://") else "/var/run/docker.sock"
    return os.path.exists(path) and os.access(path, os.W_OK)


def _kill_group(pgid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)


class _CtrlCHeld:
    """Holds a Ctrl-C that comes while the command is being started, until its pid is
    known. Raised inside `Popen`, after the fork, it lost the pid: the command's process
    group outlived the harness (a CI run saw it). Only the main thread gets SIGINT, so
    only there is anything held."""

    def __init__(self) -> None:
        self.came = False
        # ignored (a harness started in the background): nothing to hold, and the command
        # inherits the ignore as before
        self.held = (
            threading.current_thread() is threading.main_thread()
            and signal.getsignal(signal.SIGINT) != signal.SIG_IGN
        )
        self.previous: Any = signal.signal(signal.SIGINT, self._hold) if self.held else None

    def _hold(self, signum: int, frame: object) -> None:
        self.came = True

    def release(self) -> None:
        """Put the handler back; a Ctrl-C that came meanwhile is raised again now."""
        if not self.held:
            return
        # None: a handler set outside Python, which cannot be put back; the default then
        previous = signal.default_int_handler if self.previous is None else self.previous
        signal.signal(signal.SIGINT, previous)
        self.held = False
        if self.came:
            signal.raise_signal(signal.SIGINT)


class LocalSandbox:
    name = "local"
    isolated = False

    def preflight(self, task: Task) -> None:
        """The tests run with the host's tools: a missing toolchain is said before the agent
        runs, as our failure (infra:harness), not the agent's."""
        problem = missing_toolchain(task.language)
        if problem is not None:
            raise SandboxError(problem)

    def image_digest(self, image: str) -> str | None:
        return None

    def cleanup(self, labels: dict[str, str]) -> int:
        return 0  # every run's process group is killed when the run ends

    def run(self, spec: RunSpec) -> RunResult:
        pairs = path_map(spec)
        argv = [map_paths(a, pairs) for a in spec.command]
        env = {k: os.environ[k] for k in INHERITED_ENV if k in os.environ}
        env |= {k: map_paths(v, pairs) for k, v in spec.env.items()}
        cwd = map_paths(spec.workdir, pairs)
        started = datetime.now(UTC)
        result = RunResult(
            sandbox=self.name,
            isolated=False,
            started_at=started,
            ended_at=started,
            network_mode="host",
            docker_sock_mounted=docker_socket_writable(),
            read_only=False,
        )
        # Files, not pipes: a background child holding a pipe open would block reading.
        with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
            t0 = time.monotonic()
            held = _CtrlCHeld()
            try:
                proc = subprocess.Popen(
                    argv,
                    cwd=cwd,
                    env=env,
                    stdin=subprocess.DEVNULL,
                    stdout=out,
                    stderr=err,
                    start_new_session=True,
                )
            except BaseException as exc:
                held.release()
                if not isinstance(exc, OSError):
                    raise
                result.error = f"the command could not be started: {exc}"
                result.ended_at = datetime.now(UTC)
                return result
            try:
                held.release()  # a Ctrl-C during the start is raised here: the pid is known
                proc.wait(timeout=spec.timeout_s)
            except subprocess.TimeoutExpired:
                result.timed_out = True
            finally:
                _kill_group(proc.pid)  # also on Ctrl-C: nothing of the run outlives it
                proc.wait()
            result.container_active_ms = round((time.monotonic() - t0) * 1000, 3)
            result.exit_code = _exit_code(proc.returncode)
            result.container_started_at, result.container_ended_at = started, datetime.now(UTC)
            exit_facts(result)
            out.seek(0)
            err.seek(0)
            result.stdout = out.read().decode("utf-8", "replace")
            result.stderr = err.read().decode("utf-8", "replace")
        if spec.log_path is not None:
            Path(spec.log_path).parent.mkdir(parents=True, exist_ok=True)
            Path(spec.log_path).write_text(result.stdout + result.stderr)
        result.ended_at = datetime.now(UTC)
        return result
