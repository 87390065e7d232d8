"""Isolation against the real engine: the agent container's only door is the proxy.

The proxy listens on 127.0.0.1 and on a Unix socket; the sidecar serves that socket on the
loopback of a namespace with nothing but `lo`, and the command runs in that namespace. A
server a test starts on the host's 127.0.0.1 (random port) must stay unreachable from
inside. Every address any test here connects to is a loopback one or a Unix socket.
"""

from __future__ import annotations

import html
import json
import os
import socket
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from proxy.server import FakeUpstreamServer, ProxyServer
from runner import images
from runner.cell import CellOptions, run_cell
from runner.models import resolve_model
from runner.sandbox import Mount, RunSpec
from runner.sandbox.docker import DockerSandbox
from runner.sandbox.isolation import LOOPBACK_PORT, SOCKET_NAME
from runner.tasks import get_task

pytestmark = pytest.mark.docker

TOOLBOX = "toolbox"
ROOT = Path(__file__).resolve().parents[2]
#: The reference agent's scripts (config/scripts/<task>.toml), served by the fake.
SCRIPTS = ROOT / "config" / "scripts"
#: GET /healthz through the agent's own 127.0.0.1:<port>, with bash's /dev/tcp (no curl).
HEALTHZ = (
    f"exec 3<>/dev/tcp/127.0.0.1/{LOOPBACK_PORT} && "
    'printf "GET /healthz HTTP/1.0\\r\\nHost: x\\r\\n\\r\\n" >&3 && cat <&3'
)


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
    assert (
        docker_client.containers.list(
            all=True, ignore_removed=True, filters={"label": f"cab.test={run_id}"}
        )
        == []
    )


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


# ---- whole cells ---------------------------------------------------------------------

TASK = "polyglot/go-http-handler-fix"
#: The provider key the proxy forwards upstream; the agent must never see it.
KEY_ENV = "CAB_TEST_ISOLATION_PROVIDER_KEY"
PROVIDER_KEY = "sk-provider-key-isolation-test-7731"


def _cell(tmp_path, scripts: Path, probe_ports: list[int], monkeypatch) -> tuple[dict, set]:
    """One reference-agent cell, isolated, against the fake upstream serving `scripts` as
    an ordinary endpoint with a provider key (held by the proxy only)."""
    monkeypatch.setenv(KEY_ENV, PROVIDER_KEY)
    with FakeUpstreamServer(scripts_dir=scripts) as fake:
        model = resolve_model(f"scripted/{TASK}", fake.base_url + "/v1", KEY_ENV)
        opts = CellOptions(
            out_root=tmp_path / "runs",
            sandbox="docker",
            probe_ports=[*probe_ports, fake.port],
            sweep_id=f"iso-{uuid.uuid4().hex[:8]}",
        )
        record = run_cell("reference", model, get_task(TASK), opts).model_dump(mode="json")
        return record, set(fake.state.authorizations)


def test_reference_agent_solves_the_task_isolated(
    docker_client, tmp_path, host_service, assert_isolated, monkeypatch
):
    images.ensure("sidecar")
    record, seen_keys = _cell(tmp_path, SCRIPTS, [host_service.port], monkeypatch)
    assert record["scores"]["pass_rate"]["pass"] == 1, record["facts"]["agent"]
    calls = record["facts"]["calls"]
    assert len(calls) == 4 and all(c["outcome"] == "ok" for c in calls)
    assert record["isolation"]["forwarder"]["connections_accepted"] >= len(calls) // 2
    assert_isolated(record)
    assert seen_keys == {f"Bearer {PROVIDER_KEY}"}  # the key went upstream, from the proxy
    # the cell page shows how it was confined, and "Run it yourself" repeats it
    sweep = next((tmp_path / "runs").iterdir())
    site = tmp_path / "site"
    proc = subprocess.run(
        [sys.executable, "-m", "cab", "report", str(sweep), "--out", str(site)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    page = next(p for p in site.rglob("*.html") if "Run it yourself" in p.read_text())
    text = html.unescape(page.read_text())
    assert "interfaces seen inside: lo;" in text
    assert f"127.0.0.1:{host_service.port}" in text
    assert '--network "container:$sidecar"' in text and "--cap-drop ALL" in text
    assert PROVIDER_KEY not in text


BYPASS = r"""
echo "== env"; env | grep -i -E 'key|token|secret|api' | sort
echo "== sockets"; ls -l /var/run/docker.sock /run/docker.sock 2>&1
find / -xdev -type s 2>/dev/null | head -20
echo "== interfaces"; ls /sys/class/net
echo "== ports"
for p in PORTS 22 80 443 2375 2376 8080; do
  if (exec 3<>/dev/tcp/127.0.0.1/$p) 2>/dev/null; then echo "port $p open"; else echo "port $p refused"; fi
done
"""


def test_an_agent_that_tries_to_bypass_the_proxy_finds_nothing(
    docker_client, tmp_path, host_service, assert_isolated, monkeypatch
):
    """A scripted reference agent looks for a way around the proxy: the host's loopback
    ports (a test service, the fake provider's own port, the usual ones), a provider key in
    its environment, an engine socket. It finds its session key and nothing else, and
    the attempt is in its log."""
    images.ensure("sidecar")
    scripts = tmp_path / "scripts"
    (scripts / "polyglot").mkdir(parents=True)

    def write_script(fake_port: int) -> None:
        ports = f"{host_service.port} {fake_port}"
        command = BYPASS.replace("PORTS", ports)
        (scripts / f"{TASK}.toml").write_text(
            "[[turns]]\ncontent = 'Looking around first.'\n[[turns.tool_calls]]\n"
            f"name = 'bash'\n[turns.tool_calls.arguments]\ncommand = '''{command}'''\n\n"
            "[[turns]]\ncontent = 'Nothing to use. Done.'\n"
        )

    # the fake's port is known only once it runs: start it, write the script, then the cell
    monkeypatch.setenv(KEY_ENV, PROVIDER_KEY)
    with FakeUpstreamServer(scripts_dir=scripts) as fake:
        write_script(fake.port)
        model = resolve_model(f"scripted/{TASK}", fake.base_url + "/v1", KEY_ENV)
        opts = CellOptions(out_root=tmp_path / "runs", sandbox="docker", sweep_id="bypass")
        opts.probe_ports = [host_service.port, fake.port]
        record = run_cell("reference", model, get_task(TASK), opts).model_dump(mode="json")
    cell_dir = next((tmp_path / "runs").rglob("cell.json")).parent
    log = (cell_dir / "agent.log").read_text()
    assert "== env" in log and "== ports" in log  # the attempt is in the agent's log
    tool = next(json.loads(line) for line in log.splitlines() if '"event": "tool"' in line)
    out = tool["output"]
    env = out.split("== env")[1].split("== sockets")[0]
    found = dict(line.split("=", 1) for line in env.splitlines() if "=" in line)
    assert sorted(found) == ["OPENAI_API_BASE", "OPENAI_API_KEY"]
    assert found["OPENAI_API_KEY"].startswith("cab-")  # its own session key, nothing more
    assert found["OPENAI_API_BASE"] == f"http://127.0.0.1:{LOOPBACK_PORT}/v1"
    assert PROVIDER_KEY not in log
    assert "No such file" in out.split("== sockets")[1]
    assert "proxy.sock" not in out  # the proxy's socket is the sidecar's, not the agent's
    assert out.split("== interfaces")[1].split("== ports")[0].split() == ["lo"]
    assert "open" not in out.split("== ports")[1]
    assert f"port {host_service.port} refused" in out and f"port {fake.port} refused" in out
    assert_isolated(record)
    assert record["facts"]["calls"] and all(c["outcome"] == "ok" for c in record["facts"]["calls"])


def test_a_missing_sidecar_image_is_named_and_nothing_is_left(
    docker_client, tmp_path, socket_dir, run_id, monkeypatch
):
    from runner.sandbox import docker as docker_sandbox

    real = docker_sandbox.images.resolve
    missing = f"codingagentbench/sidecar-missing-{run_id}:0.0.0"
    monkeypatch.setattr(
        docker_sandbox.images, "resolve", lambda n: missing if n == "sidecar" else real(n)
    )
    spec = _spec(tmp_path, "true", run_id, network_mode="isolated", proxy_socket_dir=socket_dir)
    result = DockerSandbox(docker_client).run(spec)
    assert result.exit_code is None and missing in result.error
    assert (
        docker_client.containers.list(
            all=True, ignore_removed=True, filters={"label": f"cab.test={run_id}"}
        )
        == []
    )
