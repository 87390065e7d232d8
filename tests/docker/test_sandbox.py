"""DockerSandbox against the real engine: what a cell's container does and leaves behind.

No __init__.py in this folder on purpose: a package named `docker` would shadow the SDK.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import docker
import pytest

from runner import images
from runner.sandbox import Mount, RunSpec
from runner.sandbox.docker import DockerSandbox
from tests.interrupt import sigint_default

pytestmark = pytest.mark.docker

BASE = "debian:bookworm-slim"


@pytest.fixture
def sandbox(docker_client):
    return DockerSandbox(docker_client)


def spec(workspace: Path, command: list[str], **kw) -> RunSpec:
    return RunSpec(image=BASE, command=command, workspace=workspace, **kw)


def labelled(client, key: str, value: str) -> list:
    return client.containers.list(
        all=True, ignore_removed=True, filters={"label": f"{key}={value}"}
    )


def test_exit_code_streams_log_and_timing(sandbox, tmp_path, docker_client, run_id):
    log = tmp_path / "logs" / "agent.log"
    ws = tmp_path / "ws"
    ws.mkdir()
    # the sleep: a command that ends within the engine's start bookkeeping can get a
    # FinishedAt at or before its StartedAt under load (seen with 4 parallel workers)
    script = "echo out-line; echo err-line >&2; sleep 0.2; exit 3"
    r = sandbox.run(spec(ws, ["bash", "-c", script], log_path=log, labels={"cab.test": run_id}))
    assert r.error is None
    assert (r.exit_code, r.timed_out, r.isolated, r.sandbox) == (3, False, True, "docker")
    assert r.stdout == "out-line\n" and r.stderr == "err-line\n"
    assert "out-line" in log.read_text() and "err-line" in log.read_text()
    assert r.image == BASE
    assert r.image_digest == docker_client.images.get(BASE).id
    wall_ms = (r.ended_at - r.started_at).total_seconds() * 1000
    assert 0 < r.container_active_ms <= wall_ms
    assert labelled(docker_client, "cab.test", run_id) == []  # removed afterwards


def test_timeout_kills_and_removes_the_container(sandbox, tmp_path, docker_client, run_id):
    r = sandbox.run(spec(tmp_path, ["sleep", "300"], timeout_s=1, labels={"cab.test": run_id}))
    assert r.timed_out is True
    assert r.exit_code == 137 and r.error is None
    assert r.container_active_ms < 300_000
    assert labelled(docker_client, "cab.test", run_id) == []


def test_labels_present_while_running(sandbox, tmp_path, docker_client, run_id):
    labels = {"cab.test": run_id, "cab.cell_id": f"s1/tui/m/cat/{run_id}", "cab.sweep_id": "s1"}
    wait_for_go = "while [ ! -f /workspace/go ]; do sleep 0.05; done; echo released"
    results = []
    worker = threading.Thread(
        target=lambda: results.append(
            sandbox.run(spec(tmp_path, ["bash", "-c", wait_for_go], timeout_s=60, labels=labels))
        )
    )
    worker.start()
    try:
        seen = []
        for _ in range(200):  # bounded: at most ~20 s
            seen = labelled(docker_client, "cab.test", run_id)
            if seen and seen[0].status == "running":
                break
            time.sleep(0.1)
        assert seen, "the container never showed up"
        got = seen[0].labels
        assert got["cab.managed"] == "1"
        assert got["cab.cell_id"] == labels["cab.cell_id"]
        assert got["cab.sweep_id"] == "s1"
    finally:
        (tmp_path / "go").touch()
        worker.join(timeout=90)
    assert results[0].exit_code == 0 and results[0].stdout == "released\n"
    assert labelled(docker_client, "cab.test", run_id) == []


def test_writes_outside_the_workspace_do_not_reach_the_host(sandbox, tmp_path, run_id):
    """The command runs as a non-root uid: /etc is not even writable; /tmp is, but stays
    inside the container."""
    name = f"cab-escape-{run_id}"
    script = (
        f"! (echo x > /etc/{name}) 2>/dev/null && echo x > /tmp/{name} "
        "&& echo kept > /workspace/made.txt"
    )
    r = sandbox.run(spec(tmp_path, ["bash", "-c", script], labels={"cab.test": run_id}))
    assert r.exit_code == 0, r.stderr
    assert (tmp_path / "made.txt").read_text() == "kept\n"
    assert not Path(f"/etc/{name}").exists()
    assert not Path(f"/tmp/{name}").exists()


def test_env_workdir_and_mounts(sandbox, tmp_path, run_id):
    ws, data = tmp_path / "ws", tmp_path / "data"
    (ws / "sub").mkdir(parents=True)
    data.mkdir()
    (data / "in.txt").write_text("from-host")
    script = 'echo "$CAB_X"; pwd; cat /data/in.txt; echo; touch /data/nope || echo read-only'
    r = sandbox.run(
        spec(
            ws,
            ["bash", "-c", script],
            env={"CAB_X": "value with spaces"},
            workdir="/workspace/sub",
            mounts=[Mount(source=data, target="/data", read_only=True)],
            labels={"cab.test": run_id},
        )
    )
    assert r.stdout.splitlines() == [
        "value with spaces",
        "/workspace/sub",
        "from-host",
        "read-only",
    ]
    assert not (data / "nope").exists()


def test_network_none_has_only_loopback(sandbox, tmp_path, run_id):
    r = sandbox.run(
        spec(tmp_path, ["ls", "/sys/class/net"], network_mode="none", labels={"cab.test": run_id})
    )
    assert r.exit_code == 0
    assert r.stdout.split() == ["lo"]
    assert r.network_mode == "none"


def test_missing_image_is_an_error_not_an_exception(sandbox, tmp_path, docker_client):
    r = sandbox.run(RunSpec(image="cab-no-such-image:0.0.0", command=["true"], workspace=tmp_path))
    assert r.exit_code is None
    assert "cab-no-such-image:0.0.0" in r.error and "cab images build" in r.error
    assert r.image_digest is None


def test_missing_executable_is_an_error(sandbox, tmp_path, run_id):
    r = sandbox.run(spec(tmp_path, ["cab-no-such-binary"], labels={"cab.test": run_id}))
    assert r.exit_code is None
    assert "cab-no-such-binary" in r.error


def test_unreachable_engine_is_an_error(tmp_path):
    client = docker.DockerClient(base_url=f"unix://{tmp_path}/no-docker.sock", version="1.41")
    r = DockerSandbox(client).run(spec(tmp_path, ["true"]))
    assert r.exit_code is None
    assert r.error and "docker could not run the command" in r.error


def test_cleanup_removes_leftovers_by_label(sandbox, docker_client, run_id):
    sweep = f"sweep-{run_id}"
    for _ in range(2):  # as if a crashed run had left them behind
        docker_client.containers.create(
            BASE,
            ["sleep", "300"],
            labels={"cab.managed": "1", "cab.sweep_id": sweep, "cab.test": run_id},
        )
    other = docker_client.containers.create(
        BASE, ["true"], labels={"cab.managed": "1", "cab.sweep_id": "other", "cab.test": run_id}
    )
    assert sandbox.cleanup({"cab.sweep_id": sweep}) == 2
    assert labelled(docker_client, "cab.sweep_id", sweep) == []
    assert [c.id for c in labelled(docker_client, "cab.test", run_id)] == [other.id]


def test_image_digest_is_the_local_id(sandbox, docker_client):
    assert sandbox.image_digest(BASE) == docker_client.images.get(BASE).id
    assert sandbox.image_digest("cab-no-such-image:0.0.0") is None


@pytest.fixture(scope="session")
def toolbox(docker_client):
    return images.ensure("toolbox")


def test_toolbox_runs_go_node_python_and_git(toolbox, tmp_path, run_id):
    (tmp_path / "go.mod").write_text("module m\n\ngo 1.19\n")
    (tmp_path / "m_test.go").write_text(
        'package m\n\nimport "testing"\n\nfunc TestOk(t *testing.T) {}\n'
    )
    (tmp_path / "a.test.js").write_text(
        "const test = require('node:test');\ntest('ok', () => {});\n"
    )
    (tmp_path / "test_a.py").write_text("def test_ok():\n    assert True\n")
    script = (
        'set -e; git --version; go test -json ./... | grep -q \'"Action":"pass"\'; echo go-ok;'
        " node --test --test-reporter=tap a.test.js | grep -q '^ok 1'; echo node-ok;"
        " python3 -m pytest -q --junitxml=/tmp/j.xml test_a.py >/dev/null; echo py-ok"
    )
    r = DockerSandbox().run(
        RunSpec(
            image=toolbox,
            command=["bash", "-c", script],
            workspace=tmp_path,
            network_mode="none",
            labels={"cab.test": run_id},
        )
    )
    assert r.error is None, r.error
    assert r.exit_code == 0, r.stdout + r.stderr
    assert r.stdout.split()[-3:] == ["go-ok", "node-ok", "py-ok"]
    assert r.image_digest == images.digest(toolbox)


def test_auto_picks_docker_when_the_engine_answers(docker_client):
    from runner.sandbox import get_sandbox

    sb = get_sandbox("auto")
    assert (sb.name, sb.isolated) == ("docker", True)


def test_memory_limit_kills_and_says_so(sandbox, tmp_path, run_id):
    hog = "head -c 300m /dev/zero | tail"  # tail holds the whole 'line' in memory
    r = sandbox.run(
        spec(tmp_path, ["bash", "-c", hog], mem_limit="64m", labels={"cab.test": run_id})
    )
    assert r.oom_killed is True
    assert r.exit_code == 137 and r.timed_out is False and r.error is None


def test_an_exit_137_is_an_oom_kill_only_when_the_engine_logged_one(
    sandbox, tmp_path, docker_client, run_id
):
    """The engine's OOMKilled flag races the exit under load (a CI run saw exit 137 with
    the flag false for this very hog): the sandbox then reads the engine's event log,
    which has the OOM either way, and a SIGKILL that was no OOM stays no OOM."""
    killed = sandbox.run(spec(tmp_path, ["bash", "-c", "kill -9 $$"], labels={"cab.test": run_id}))
    assert (killed.exit_code, killed.oom_killed, killed.timed_out) == (137, False, False)
    for command, oom in ((["bash", "-c", "head -c 300m /dev/zero | tail"], True),
                         (["bash", "-c", "kill -9 $$"], False)):  # fmt: skip
        started = datetime.now(UTC)
        box = docker_client.containers.run(
            BASE, command, mem_limit="64m", memswap_limit="64m", network_mode="none",
            init=True, detach=True, labels={"cab.test": run_id},
        )  # fmt: skip
        try:
            assert box.wait(timeout=60)["StatusCode"] == 137
            assert sandbox.oom_event(box.id, started) is oom
        finally:
            box.remove(force=True)


def test_ctrl_c_still_removes_the_container(tmp_path, docker_client, run_id):
    """A user's Ctrl-C on the harness must not leave the container running."""
    import os
    import signal
    import subprocess
    import sys

    code = (
        "from runner.sandbox import RunSpec; from runner.sandbox.docker import DockerSandbox;"
        f"DockerSandbox().run(RunSpec(image={BASE!r}, command=['sleep', '300'],"
        f" workspace={str(tmp_path)!r}, labels={{'cab.test': {run_id!r}}}))"
    )
    proc = subprocess.Popen([sys.executable, "-c", code], preexec_fn=sigint_default)
    try:
        for _ in range(200):  # bounded: at most ~20 s
            running = labelled(docker_client, "cab.test", run_id)
            if running and running[0].status == "running":
                break
            time.sleep(0.1)
        assert running, "the container never started"
        os.kill(proc.pid, signal.SIGINT)
        assert proc.wait(timeout=60) != 0  # interrupted
    finally:
        if proc.poll() is None:
            proc.kill()
    assert labelled(docker_client, "cab.test", run_id) == []


def test_exposure_is_read_from_the_inspected_container(sandbox, tmp_path, run_id):
    """docker_sock_mounted and read_only come from the engine's inspect data: a file named
    docker.sock mounted in is seen (a stand-in, never the engine's real socket)."""
    ws = tmp_path / "ws"
    ws.mkdir()
    stand_in = tmp_path / "sock" / "docker.sock"
    stand_in.parent.mkdir()
    stand_in.write_text("not a socket")
    labels = {"cab.test": run_id}
    plain = sandbox.run(spec(ws, ["true"], labels=labels))
    assert (plain.docker_sock_mounted, plain.read_only) == (False, False)
    mount = Mount(source=stand_in, target="/var/run/docker.sock", read_only=True)
    exposed = sandbox.run(spec(ws, ["true"], labels=labels, mounts=[mount]))
    assert exposed.error is None and exposed.docker_sock_mounted is True


class RemovedByOthers(DockerSandbox):
    """Someone else (another process's cleanup) removes the container the moment the
    command ends, before its output is read."""

    def _wait(self, container, timeout_s: float):
        waited = super()._wait(container, timeout_s)
        self.client.api.remove_container(container.id, force=True)
        return waited


def test_a_container_removed_before_its_logs_are_read_keeps_its_exit_code(
    tmp_path, docker_client, run_id
):
    sandbox = RemovedByOthers(docker_client)
    r = sandbox.run(spec(tmp_path, ["bash", "-c", "echo hi; exit 5"], labels={"cab.test": run_id}))
    assert r.error is None  # it ran to its end: not "docker could not run the command"
    assert r.exit_code == 5 and not r.timed_out
    assert "removed before its output was read" in r.stderr
    assert labelled(docker_client, "cab.test", run_id) == []


def test_cleanup_of_one_run_leaves_another_run_of_the_same_cell_alone(
    sandbox, tmp_path, docker_client, run_id
):
    cell = {"cab.test": run_id, "cab.cell_id": f"s/tui/m/cat/{run_id}", "cab.sweep_id": "s"}
    other = docker_client.containers.create(
        BASE, ["sleep", "60"], labels={**cell, "cab.managed": "1", "cab.run": "other"}
    )
    assert sandbox.cleanup({**cell, "cab.run": "mine"}) == 0
    other.reload()  # still there
    assert sandbox.cleanup({**cell, "cab.run": "other"}) == 1
    assert labelled(docker_client, "cab.test", run_id) == []
