"""Isolation: the proxy is the agent container's only door (docs/isolation.md).

An isolated run has two containers. The sidecar (images/sidecar: socat from Debian) runs
with `--network none`, so its network namespace holds only `lo`; it has the proxy's Unix
socket folder mounted (it alone) and serves that socket on 127.0.0.1:<port> of its
namespace. The agent container joins that namespace (`--network container:<sidecar>`):
it sees the same single `lo`, so `http://127.0.0.1:<port>/v1` reaches the proxy and no
other address exists. Nothing depends on what the agent image contains.

Every container we run (agent, sidecar, hidden tests) drops all capabilities, sets
`no-new-privileges`, and runs as a non-root uid (see `run_as`). A check run inside the
agent's own container, before its command, prints what it saw (interfaces, uid,
capabilities, a Docker socket, the probed host ports) to stderr; `read_check` parses it
back from the container's log, which the agent cannot rewrite.
"""

from __future__ import annotations

import os
import re
import shlex
import time
from pathlib import Path
from typing import Any

from runner.confinement import LOOPBACK_PORT, ForwarderCounts, NetCheck
from runner.sandbox.base import RunSpec

#: The proxy's Unix socket: this file name in the folder mounted at SIDECAR_SOCKET_DIR.
SOCKET_NAME = "proxy.sock"
SIDECAR_SOCKET_DIR = "/cab/proxy"
#: The uid:gid containers run as when the harness itself is root (see `run_as`).
AGENT_UID = 1000
#: The sidecar runs socat as nobody.
SIDECAR_USER = "65534:65534"
#: Lines of the in-container check start with this (on the agent's stderr).
CHECK_PREFIX = "cab-isolation:"
#: How long the sidecar may take to listen before the run is given up.
SIDECAR_READY_S = 10.0


# ---- the in-container check ------------------------------------------------------------

_CHECK = r"""{
echo "$P begin"
for f in /sys/class/net/*; do [ -e "$f" ] && echo "$P iface ${f##*/}"; done
while IFS=: read -r name rest; do
  case "$name" in *'|'*) ;; *) echo "$P dev ${name##* }" ;; esac
done < /proc/net/dev
while read -r key value rest; do
  case "$key" in CapEff:|NoNewPrivs:) echo "$P ${key%:} $value" ;; esac
done < /proc/self/status
echo "$P uid $(id -u 2>/dev/null)"
for s in /var/run/docker.sock /run/docker.sock /run/podman/podman.sock; do
  [ -S "$s" ] && echo "$P docker_socket $s"
done
for port in $PORTS; do
  if command -v bash >/dev/null 2>&1; then
    if bash -c "exec 3<>/dev/tcp/127.0.0.1/$port" 2>/dev/null; then r=open; else r=refused; fi
  else r=unprobed; fi
  echo "$P probe 127.0.0.1:$port $r"
done
echo "$P end"
} >&2
exec "$@"
"""


def wrap_with_check(command: list[str], probe_ports: list[int]) -> list[str]:
    """The agent command behind a POSIX-sh prelude that reports what the container sees
    (to stderr) and then execs the command unchanged. Needs only /bin/sh and its builtins
    (plus `id`; the port probes use bash's /dev/tcp where bash exists)."""
    ports = " ".join(str(int(p)) for p in probe_ports)
    script = f"P={shlex.quote(CHECK_PREFIX)}; PORTS={shlex.quote(ports)}\n{_CHECK}"
    return ["/bin/sh", "-c", script, "cab-isolation-check", *command]


def read_check(stderr: str) -> NetCheck | None:
    """The first complete check block in the agent's stderr (None when there is none)."""
    lines = stderr.splitlines()
    try:
        start = lines.index(f"{CHECK_PREFIX} begin")
        end = lines.index(f"{CHECK_PREFIX} end", start)
    except ValueError:
        return None
    interfaces: list[str] = []
    facts: dict[str, str] = {}
    probes: dict[str, str] = {}
    docker_socket = False
    for line in lines[start + 1 : end]:
        key, _, value = line.removeprefix(CHECK_PREFIX).strip().partition(" ")
        if key in ("iface", "dev") and value and value not in interfaces:
            interfaces.append(value)
        elif key == "probe":
            where, _, state = value.partition(" ")
            probes[where] = state
        elif key == "docker_socket":
            docker_socket = True
        else:
            facts[key] = value
    nnp = facts.get("NoNewPrivs")
    return NetCheck(
        interfaces=interfaces,
        loopback_only=interfaces == ["lo"],
        uid=facts.get("uid") or None,
        cap_eff=facts.get("CapEff"),
        no_new_privs=None if nnp is None else nnp == "1",
        docker_socket=docker_socket,
        probes=probes,
    )


# ---- the sidecar -----------------------------------------------------------------------

_ACCEPTED = re.compile(r" N accepting connection from ")
_REFUSED = re.compile(r" E connect\(.*" + re.escape(SOCKET_NAME))


def forwarder_counts(log: str) -> ForwarderCounts:
    """Count socat's (-d -d) log lines: one 'accepting connection' per connection, one
    'E connect(... proxy.sock ...)' per connection the proxy's socket refused."""
    return ForwarderCounts(
        connections_accepted=len(_ACCEPTED.findall(log)),
        connections_refused=len(_REFUSED.findall(log)),
    )


def sidecar_command(port: int = LOOPBACK_PORT) -> list[str]:
    """socat's arguments (its entrypoint is `socat -d -d`): listen on the namespace's
    loopback only, one forked child per connection, each to the proxy's socket."""
    return [
        f"TCP-LISTEN:{port},bind=127.0.0.1,fork,reuseaddr",
        f"UNIX-CONNECT:{SIDECAR_SOCKET_DIR}/{SOCKET_NAME}",
    ]


def hardening() -> dict[str, object]:
    """The engine options every container of ours gets: no capabilities beyond those the
    spec adds back, and no privilege gained through setuid binaries."""
    return {"cap_drop": ["ALL"], "security_opt": ["no-new-privileges"]}


class Sidecar:
    """One forwarder container per isolated run: start it, run the agent in its network
    namespace (`network_mode`), then `stop` it to read its connection counts."""

    def __init__(self, client, image: str, socket_dir: Path, port: int, labels: dict[str, str]):
        self.client, self.image, self.port = client, image, port
        self.socket_dir = Path(socket_dir).resolve()
        self.labels = {**labels, "cab.role": "sidecar"}
        self.container: Any = None

    @property
    def network_mode(self) -> str:
        assert self.container is not None, "sidecar not started"
        return f"container:{self.container.id}"

    def create(self) -> Sidecar:
        """Create the container (not started): its id is what the agent joins."""
        self.container = self.client.containers.create(
            self.image,
            sidecar_command(self.port),
            network_mode="none",
            user=SIDECAR_USER,
            read_only=True,
            volumes={str(self.socket_dir): {"bind": SIDECAR_SOCKET_DIR, "mode": "ro"}},
            mem_limit="64m",
            memswap_limit="64m",
            pids_limit=256,
            labels=self.labels,
            detach=True,
            **hardening(),
        )
        return self

    def start(self) -> Sidecar:
        """Start it and wait until socat listens (create first)."""
        assert self.container is not None, "sidecar not created"
        self.container.start()
        self._wait_listening()
        return self

    def _wait_listening(self) -> None:
        """socat logs 'listening on' once bound; the agent must not start before that."""
        assert self.container is not None
        deadline = time.monotonic() + SIDECAR_READY_S
        for _ in range(2000):  # bounded in count as well as in time
            log = self.container.logs().decode("utf-8", "replace")
            if " listening on " in log:
                return
            self.container.reload()
            if self.container.status not in ("created", "running") or time.monotonic() > deadline:
                raise RuntimeError(f"the isolation sidecar did not start listening: {log[-500:]}")
            time.sleep(0.01)

    def stop(self) -> ForwarderCounts:
        """Read the counts and remove the container (also after errors)."""
        if self.container is None:
            return ForwarderCounts()
        try:
            return forwarder_counts(self.container.logs().decode("utf-8", "replace"))
        finally:
            self.container.remove(force=True)
            self.container = None


# ---- users and ownership ---------------------------------------------------------------


def run_as(user: str | None = None) -> str:
    """The uid:gid a container runs as. The harness's own uid when it is not root, so what
    the container writes is the harness's to read, diff, copy and delete; when the harness
    is root, AGENT_UID (never root), and `hand_over` gives it the folders it writes."""
    if user:
        return user
    if os.getuid() == 0:
        return f"{AGENT_UID}:{AGENT_UID}"
    return f"{os.getuid()}:{os.getgid()}"


def hand_over(folders: list[Path], user: str) -> None:
    """chown -R the folders a container writes to its uid (only a root harness needs to:
    otherwise the container already runs as the harness's uid). Root reads them back."""
    if os.getuid() != 0:
        return
    uid, _, gid = user.partition(":")
    if not uid.isdigit() or uid == "0":
        return
    u, g = int(uid), int(gid or uid)
    for folder in folders:
        os.chown(folder, u, g, follow_symlinks=False)
        for path in Path(folder).rglob("*"):
            os.chown(path, u, g, follow_symlinks=False)


def is_docker_socket(path: Path) -> bool:
    """A mount source that is (or holds) an engine's socket: never given to a container."""
    path = Path(path)
    if path.is_socket() and ("docker" in path.name or "podman" in path.name):
        return True
    return path.is_dir() and any((path / n).is_socket() for n in ("docker.sock", "podman.sock"))


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


def confinement_flags(spec: RunSpec) -> list[str]:
    """The agent's `docker run` and its confinement flags, one line each (what `hardening`,
    `run_as` and the network plan give the engine; docker.cli_flags adds the rest)."""
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
