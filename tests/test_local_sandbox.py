"""LocalSandbox: the same contract as docker's, as a host subprocess (not isolated)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import structlog

from runner.errors import UnknownNameError
from runner.sandbox import Mount, RunSpec, get_sandbox
from runner.sandbox.local import LocalSandbox, map_paths, path_map
from tests.interrupt import sigint_default


def spec(workspace: Path, command: list[str], **kw) -> RunSpec:
    return RunSpec(image="ignored:0", command=command, workspace=workspace, **kw)


def alive(pid: int) -> bool:
    """A process that exists and is not a zombie."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False
    return "\nState:\tZ" not in status


def test_exit_codes_streams_and_log(tmp_path):
    log = tmp_path / "out" / "agent.log"
    r = LocalSandbox().run(
        spec(tmp_path, ["bash", "-c", "echo o; echo e >&2; exit 3"], log_path=log)
    )
    assert (r.exit_code, r.timed_out, r.error) == (3, False, None)
    assert (r.stdout, r.stderr) == ("o\n", "e\n")
    assert (r.sandbox, r.isolated, r.image, r.image_digest) == ("local", False, None, None)
    assert log.read_text() == "o\ne\n"
    wall_ms = (r.ended_at - r.started_at).total_seconds() * 1000
    assert 0 < r.container_active_ms <= wall_ms
    assert LocalSandbox().run(spec(tmp_path, ["true"])).exit_code == 0


def test_killed_by_signal_reports_128_plus_signal(tmp_path):
    r = LocalSandbox().run(spec(tmp_path, ["bash", "-c", "kill -TERM $$"]))
    assert r.exit_code == 143


def test_container_paths_map_to_host_folders(tmp_path):
    ws, data = tmp_path / "ws", tmp_path / "data"
    (ws / "sub").mkdir(parents=True)
    data.mkdir()
    (data / "in.txt").write_text("from-host")
    r = LocalSandbox().run(
        spec(
            ws,
            ["bash", "-c", "pwd; echo $CAB_OUT; cat /data/in.txt; echo > /workspace/made"],
            env={"CAB_OUT": "--out=/workspace/sub/x"},
            workdir="/workspace/sub",
            mounts=[Mount(source=data, target="/data")],
        )
    )
    assert r.exit_code == 0, r.stderr
    assert r.stdout.splitlines() == [str(ws / "sub"), f"--out={ws}/sub/x", "from-host"]
    assert (ws / "made").exists()


def test_map_paths_only_rewrites_whole_path_prefixes(tmp_path):
    pairs = path_map(spec(tmp_path, ["x"], mounts=[Mount(source=tmp_path / "d", target="/work")]))
    assert map_paths("/workspace", pairs) == str(tmp_path)
    assert map_paths("cd /workspace/a && ls", pairs) == f"cd {tmp_path}/a && ls"
    assert map_paths("/workspacex /srv/workspace", pairs) == "/workspacex /srv/workspace"
    assert map_paths("PATH=/bin:/work/bin", pairs) == f"PATH=/bin:{tmp_path}/d/bin"


def test_timeout_kills_the_whole_process_group(tmp_path):
    script = "sleep 300 & echo $! > /workspace/child.pid; wait"
    r = LocalSandbox().run(spec(tmp_path, ["bash", "-c", script], timeout_s=1))
    assert r.timed_out is True and r.exit_code == 137
    child = int((tmp_path / "child.pid").read_text())
    for _ in range(50):  # the kernel may take a moment to reap
        if not alive(child):
            break
        time.sleep(0.05)
    assert not alive(child)


def test_background_children_do_not_outlive_the_run(tmp_path):
    script = "sleep 300 >/dev/null 2>&1 & echo $! > /workspace/child.pid; echo started"
    r = LocalSandbox().run(spec(tmp_path, ["bash", "-c", script], timeout_s=60))
    assert (r.timed_out, r.exit_code, r.stdout) == (False, 0, "started\n")
    child = int((tmp_path / "child.pid").read_text())
    for _ in range(50):
        if not alive(child):
            break
        time.sleep(0.05)
    assert not alive(child)


def test_host_secrets_are_not_inherited(tmp_path, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-host-secret-do-not-leak")
    r = LocalSandbox().run(spec(tmp_path, ["env"], env={"CAB_GIVEN": "1"}))
    assert "sk-host-secret" not in r.stdout
    assert "CAB_GIVEN=1" in r.stdout and "PATH=" in r.stdout


def test_missing_executable_is_an_error(tmp_path):
    r = LocalSandbox().run(spec(tmp_path, ["cab-no-such-binary"]))
    assert r.exit_code is None
    assert "cab-no-such-binary" in r.error


def test_get_sandbox_kinds(monkeypatch):
    assert get_sandbox("local").isolated is False
    assert get_sandbox("docker").name == "docker"
    with pytest.raises(UnknownNameError, match="bogus"):
        get_sandbox("bogus")


def test_auto_falls_back_to_local_with_a_warning(tmp_path, monkeypatch):
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-docker.sock")
    with structlog.testing.capture_logs() as logs:
        sb = get_sandbox("auto")
    assert sb.name == "local" and sb.isolated is False
    warning = [e for e in logs if e["event"] == "sandbox_not_isolated"]
    assert warning and warning[0]["log_level"] == "warning"


def test_ctrl_c_kills_the_process_group(tmp_path):
    """A user's Ctrl-C on the harness must not leave the command's children running."""
    import os
    import signal
    import subprocess
    import sys

    code = (
        "from runner.sandbox import RunSpec; from runner.sandbox.local import LocalSandbox;"
        "LocalSandbox().run(RunSpec(image='x:0', command=['bash', '-c',"
        " 'sleep 300 & echo $! > /workspace/child.pid; wait'],"
        f" workspace={str(tmp_path)!r}))"
    )
    proc = subprocess.Popen([sys.executable, "-c", code], preexec_fn=sigint_default)
    pid_file = tmp_path / "child.pid"
    try:
        for _ in range(200):  # bounded: at most ~20 s
            if pid_file.exists() and pid_file.read_text().strip():
                break
            time.sleep(0.1)
        child = int(pid_file.read_text())
        assert alive(child)
        os.kill(proc.pid, signal.SIGINT)
        assert proc.wait(timeout=60) != 0
    finally:
        if proc.poll() is None:
            proc.kill()
    for _ in range(50):
        if not alive(child):
            break
        time.sleep(0.05)
    assert not alive(child)


def test_a_ctrl_c_while_the_command_starts_is_held_until_its_pid_is_known():
    """A CI run lost the command's process group: Ctrl-C came inside Popen, after the
    fork, and the pid never reached the code that kills the group. The sandbox holds a
    Ctrl-C for that moment and raises it once the pid is known (with the handler the
    harness had: Python's, here; a harness started with SIGINT ignored keeps ignoring)."""
    import os
    import signal

    from runner.sandbox.local import _CtrlCHeld

    before = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        held = _CtrlCHeld()
        os.kill(os.getpid(), signal.SIGINT)  # during the start: held, not raised
        time.sleep(0.05)
        assert held.came
        with pytest.raises(KeyboardInterrupt):
            held.release()
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
        quiet = _CtrlCHeld()
        quiet.release()  # nothing came: nothing raised
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        ignored = _CtrlCHeld()  # nothing to hold: the command inherits the ignore
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(0.05)
        ignored.release()
        assert not ignored.came and signal.getsignal(signal.SIGINT) == signal.SIG_IGN
    finally:
        signal.signal(signal.SIGINT, before)
