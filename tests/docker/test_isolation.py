"""Isolation against the real engine: the agent container's only door is the proxy.

The proxy listens on 127.0.0.1 and on a Unix socket; the sidecar serves that socket on the
loopback of a namespace with nothing but `lo`, and the command runs in that namespace. A
server a test starts on the host's 127.0.0.1 (random port) must stay unreachable from
inside. Every address any test here connects to is a loopback one or a Unix socket.
"""

from __future__ import annotations

import os
import socket
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from proxy.server import ProxyServer
from runner import images
from runner.sandbox import Mount, RunSpec
from runner.sandbox.docker import DockerSandbox
from runner.sandbox.isolation import LOOPBACK_PORT, SOCKET_NAME

pytestmark = pytest.mark.docker

TOOLBOX = "toolbox"
#: GET /healthz through the agent's own 127.0.0.1:<port>, with bash's /dev/tcp (no curl).
HEALTHZ = (
    f"exec 3<>/dev/tcp/127.0.0.1/{LOOPBACK_PORT} && "
    'printf "GET /healthz HTTP/1.0\\r\\nHost: x\\r\\n\\r\\n" >&3 && cat <&3'
)


class HostService:
    """A TCP server on the host's 127.0.0.1 that counts the connections it accepted."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.accepted = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.accepted += 1
            conn.close()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self.sock.close()


@pytest.fixture
def host_service() -> Iterator[HostService]:
    service = HostService()
    yield service
    service.close()


@pytest.fixture
def socket_dir(tmp_path_factory) -> Path:
    # short: a Unix socket path must fit in 108 bytes
    path = Path(f"/tmp/cab-iso-{uuid.uuid4().hex[:8]}")
    path.mkdir(mode=0o755)
    yield path
    for child in path.iterdir():
        child.unlink()
    path.rmdir()


@pytest.fixture
def proxy(socket_dir: Path) -> Iterator[ProxyServer]:
    server = ProxyServer(upstream="http://127.0.0.1:9/v1", unix_path=socket_dir / SOCKET_NAME)
    with server:
        yield server


@pytest.fixture
def run_id(docker_client):
    value = uuid.uuid4().hex[:12]
    yield value
    for c in docker_client.containers.list(all=True, filters={"label": f"cab.test={value}"}):
        c.remove(force=True)


def _spec(tmp_path: Path, command: str, run_id: str, **kw) -> RunSpec:
    ws = tmp_path / "ws"
    ws.mkdir(exist_ok=True)
    return RunSpec(
        image=images.ensure(TOOLBOX),
        command=["bash", "-c", command],
        workspace=ws,
        labels={"cab.test": run_id},
        timeout_s=120,
        **kw,
    )


def test_isolated_command_reaches_the_proxy_and_nothing_else(
    docker_client, tmp_path, proxy, socket_dir, host_service, run_id
):
    images.ensure("sidecar")
    spec = _spec(
        tmp_path,
        f"{HEALTHZ}; echo; touch /workspace/written; id -u",
        run_id,
        network_mode="isolated",
        proxy_socket_dir=socket_dir,
        isolation_check=True,
        probe_ports=[host_service.port, proxy.port],
    )
    result = DockerSandbox(docker_client).run(spec)
    assert result.error is None, result.stderr
    assert result.exit_code == 0, result.stderr
    assert '"status": "ok"' in result.stdout  # the proxy's /healthz, through the sidecar
    facts = result.isolation
    assert facts is not None and facts.check is not None
    assert facts.network_mode == "isolated"
    assert facts.engine_network_mode.startswith("container:")
    # inside the agent's own container: only lo, no capabilities, no new privileges
    assert facts.check.interfaces == ["lo"] and facts.check.loopback_only
    assert facts.check.cap_eff == "0000000000000000"
    assert facts.check.no_new_privs is True
    assert facts.check.docker_socket is False
    assert facts.check.uid not in (None, "0")
    # the host's loopback services (a test server, the proxy's own TCP port) are not there
    assert facts.check.probes == {
        f"127.0.0.1:{host_service.port}": "refused",
        f"127.0.0.1:{proxy.port}": "refused",
    }
    assert host_service.accepted == 0
    assert facts.forwarder is not None
    assert facts.forwarder.connections_accepted == 1
    assert facts.forwarder.connections_refused == 0
    # the harness can read (and delete) what the non-root container wrote
    assert (spec.workspace / "written").is_file()
    assert result.stdout.strip().splitlines()[-1] == facts.check.uid
    # nothing of the run is left: no agent container, no sidecar
    assert docker_client.containers.list(all=True, filters={"label": f"cab.test={run_id}"}) == []


def test_forwarder_counts_what_the_proxy_refused(docker_client, tmp_path, socket_dir, run_id):
    """No proxy behind the socket: the sidecar accepts, the socket refuses, and the counts
    say so (the evidence for "the agent could not reach the proxy")."""
    images.ensure("sidecar")
    stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stale.bind(str(socket_dir / SOCKET_NAME))  # bound, never listening: connect is refused
    os.chmod(socket_dir / SOCKET_NAME, 0o666)
    try:
        spec = _spec(
            tmp_path,
            f"for i in 1 2; do ({HEALTHZ}) || true; done; echo done",
            run_id,
            network_mode="isolated",
            proxy_socket_dir=socket_dir,
        )
        result = DockerSandbox(docker_client).run(spec)
    finally:
        stale.close()
    assert result.error is None and result.exit_code == 0, result.stderr
    assert "status" not in result.stdout
    assert result.isolation.forwarder.connections_accepted == 2
    assert result.isolation.forwarder.connections_refused == 2


def test_test_containers_have_no_network_and_least_privilege(docker_client, tmp_path, run_id):
    """network none (the hidden tests' mode): only lo, and the same hardening."""
    spec = _spec(tmp_path, "touch /workspace/x && ls -l /workspace/x", run_id, isolation_check=True)
    result = DockerSandbox(docker_client).run(spec)
    assert result.exit_code == 0, result.stderr
    check = result.isolation.check
    assert check.interfaces == ["lo"] and check.cap_eff == "0000000000000000"
    assert result.isolation.forwarder is None and result.isolation.engine_network_mode == "none"


def test_read_only_root_keeps_workspace_and_tmp_writable(docker_client, tmp_path, run_id):
    spec = _spec(
        tmp_path,
        "touch /workspace/ok /tmp/ok && ! touch /etc/nope 2>/dev/null && echo fine",
        run_id,
        read_only_root=True,
    )
    result = DockerSandbox(docker_client).run(spec)
    assert (result.exit_code, result.stdout.strip()) == (0, "fine"), result.stderr


def test_an_engine_socket_is_never_mounted(docker_client, tmp_path, run_id):
    engine = tmp_path / "engine"
    engine.mkdir()
    fake_engine = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    fake_engine.bind(str(engine / "docker.sock"))
    try:
        spec = _spec(
            tmp_path,
            "true",
            run_id,
            mounts=[Mount(source=engine / "docker.sock", target="/var/run/docker.sock")],
        )
        result = DockerSandbox(docker_client).run(spec)
    finally:
        fake_engine.close()
    assert result.exit_code is None
    assert "engine socket" in result.error
