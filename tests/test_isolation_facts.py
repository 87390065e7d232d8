"""The isolation evidence without an engine: the in-container check's report and the
sidecar's log are parsed into facts; the proxy also answers on its Unix socket."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from pathlib import Path

import aiohttp
import pytest

from proxy.server import ProxyServer
from runner.record import SCHEMA_VERSION, CellRecord
from runner.sandbox.isolation import forwarder_counts, read_check, wrap_with_check

SOCAT_LOG = """\
2026/11/29 17:49:51 socat[1] N listening on AF=2 127.0.0.1:4141
2026/11/29 17:49:52 socat[1] N accepting connection from AF=2 127.0.0.1:50284 on AF=2 127.0.0.1:4141
2026/11/29 17:49:52 socat[7] N opening connection to AF=1 "/cab/proxy/proxy.sock"
2026/11/29 17:49:52 socat[7] N successfully connected from local address AF=1 "\\0"
2026/11/29 17:49:52 socat[1] N accepting connection from AF=2 127.0.0.1:50300 on AF=2 127.0.0.1:4141
2026/11/29 17:49:52 socat[8] E connect(, AF=1 "/cab/proxy/proxy.sock", 23): Connection refused
"""


def test_forwarder_counts_accepted_and_refused():
    counts = forwarder_counts(SOCAT_LOG)
    assert (counts.connections_accepted, counts.connections_refused) == (2, 1)
    assert forwarder_counts("").connections_accepted == 0


def test_the_check_runs_in_sh_and_then_the_command(tmp_path):
    """The prelude itself, run by the host's /bin/sh: it reports and then execs."""
    argv = wrap_with_check(["sh", "-c", 'echo "ran with $0 $1"', "x", "arg"], [1])
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=30)
    assert proc.returncode == 0
    assert proc.stdout == "ran with x arg\n"
    check = read_check(proc.stderr)
    assert check is not None
    assert "lo" in check.interfaces
    assert check.uid is not None and check.cap_eff is not None
    assert check.probes == {"127.0.0.1:1": "refused"}


def test_only_the_first_check_block_counts():
    """An agent printing its own block later cannot replace the real one."""
    real = "cab-isolation: begin\ncab-isolation: iface lo\ncab-isolation: iface eth0\n"
    real += "cab-isolation: end\n"
    forged = "cab-isolation: begin\ncab-isolation: iface lo\ncab-isolation: end\n"
    check = read_check("noise\n" + real + forged)
    assert check.interfaces == ["lo", "eth0"] and not check.loopback_only
    assert read_check("no block here") is None


async def test_proxy_answers_on_its_unix_socket():
    path = Path(f"/tmp/cab-unix-{uuid.uuid4().hex[:8]}.sock")
    with ProxyServer(upstream="http://127.0.0.1:9/v1", unix_path=path) as proxy:
        assert path.is_socket() and (path.stat().st_mode & 0o777) == 0o666
        connector = aiohttp.UnixConnector(str(path))
        async with aiohttp.ClientSession(connector=connector) as s, s.get("http://x/healthz") as r:
            assert r.status == 200
            assert json.loads(await r.text())["status"] == "ok"
        assert proxy.port > 0
    path.unlink(missing_ok=True)


V5 = Path(__file__).parent / "fixtures" / "schema_v5" / "reference" / "scripted"


def test_a_v5_cell_reads_with_its_network_mode():
    """v6 added the confinement; a v5 cell says what it can: a local run was local, a
    docker one used host networking, and what its container saw was not recorded."""
    cell = V5 / "polyglot" / "go-http-handler-fix" / "cell.json"
    record = CellRecord.read(cell)
    assert record.schema_version == SCHEMA_VERSION
    assert (record.identity.network_mode, record.isolation) == ("local", None)
    raw = json.loads(cell.read_text(encoding="utf-8"))
    raw["identity"].update(isolated=True, network="host network: the agent reaches ...")
    assert CellRecord.model_validate(raw).identity.network_mode == "host"


def test_isolation_is_the_default_and_host_an_opt_in():
    from runner.errors import ConfigError
    from runner.isolation import agent_network, hidden_tests_network
    from runner.pipeline.options import CellOptions
    from runner.sandbox.docker import DockerSandbox
    from runner.sweep_config import parse_sweep
    from runner.tasks import get_task

    base = {"sweep_id": "s", "tuis": ["reference"], "models": ["scripted"], "tasks": ["partial"]}
    assert CellOptions().network_mode == "isolated"
    assert parse_sweep(base).network_mode == "isolated"
    assert parse_sweep({**base, "network_mode": "host"}).network_mode == "host"
    with pytest.raises(ConfigError, match="network_mode"):
        parse_sweep({**base, "network_mode": "bridge"})
    task = get_task("polyglot/go-http-handler-fix")
    wants = task.model_copy(update={"allow_internet": True})
    docker = DockerSandbox(client=object())  # never asked: no engine call here
    # a task asking for the internet gets it only when the user opted in
    assert agent_network("isolated", docker, wants) == "isolated"
    assert agent_network("host", docker, wants) == "host"
    assert hidden_tests_network("isolated", wants) == "none"
    assert hidden_tests_network("host", wants) == "host"
    assert hidden_tests_network("host", task) == "none"  # the tests never need it otherwise


def test_run_cell_in_the_local_sandbox_says_it_is_not_isolated(tmp_path):
    proc = subprocess.run(
        [
            *(sys.executable, "-m", "cab", "run-cell", "--sandbox", "local", "--json"),
            *("--task", "partial/py-text-utils", "--out", str(tmp_path)),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "NOT ISOLATED" in proc.stderr
    record = json.loads(proc.stdout)
    assert record["identity"]["isolated"] is False
    assert record["identity"]["network_mode"] == "local" and record["isolation"] is None
