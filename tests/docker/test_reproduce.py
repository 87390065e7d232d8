"""The cell page's "Run it yourself" command, run by hand as a reader would: copied as
written into a shell in an empty folder outside the checkout, with its placeholders filled
in for a fake upstream (`cab fake-upstream` on 127.0.0.1). It must reproduce the fix."""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import sys
import uuid
from pathlib import Path

import docker
import pytest

from runner.cell import CellOptions, run_cell
from runner.models import resolve_model
from runner.sandbox.docker import DockerSandbox
from runner.tasks import get_task
from runner.testrun import run_hidden_tests

pytestmark = pytest.mark.docker

ROOT = Path(__file__).resolve().parents[2]
GO_TASK = "polyglot/go-http-handler-fix"


@pytest.fixture
def fake_upstream(tmp_path):
    """`cab fake-upstream` on a free port of 127.0.0.1; yields its OpenAI base URL."""
    proc = subprocess.Popen(
        [
            *(sys.executable, "-m", "cab", "fake-upstream", "--port", "0"),
            *("--scripts", str(ROOT / "config" / "scripts")),
        ],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()  # bounded: the server prints it once bound, or exits
        found = re.search(r"OpenAI base URL: (http://127\.0\.0\.1:\d+/v1)", line)
        assert found, f"cab fake-upstream did not start: {line!r}"
        yield found.group(1)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture
def reader_dir(tmp_path, docker_client):
    """An empty folder outside the checkout; containers mounting it are removed after."""
    folder = tmp_path / f"reader-{uuid.uuid4().hex[:8]}"
    folder.mkdir()
    yield folder
    # ignore_removed: other tests' containers come and go while this lists them all
    for container in docker_client.containers.list(all=True, ignore_removed=True):
        sources = [m.get("Source", "") for m in container.attrs.get("Mounts", [])]
        if any(s.startswith(str(folder)) for s in sources):
            with contextlib.suppress(docker.errors.NotFound):
                container.remove(force=True)


def test_run_it_yourself_reproduces_the_scripted_fix(tmp_path, fake_upstream, reader_dir):
    task = get_task(GO_TASK)
    model = resolve_model("scripted")
    opts = CellOptions(sweep_id=f"t-repro-{uuid.uuid4().hex[:6]}", out_root=tmp_path / "runs")
    record = run_cell("reference", model, task, opts.model_copy(update={"sandbox": "docker"}))
    assert record.scores is not None and record.scores.pass_rate.pass_ == 1
    command = record.reproduce.docker_run
    assert "./cab-out gets the logs" in command
    assert '-v "$PWD/cab-out:/cab/out"' in command and "runs/" not in command

    script = reader_dir / "run-it-yourself.sh"
    script.write_text(command + "\n", encoding="utf-8")
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(tmp_path),
        "CAB_REPO": str(ROOT),
        "YOUR_ENDPOINT": fake_upstream,
        "YOUR_KEY": "sk-reader-key",
        "YOUR_MODEL_ID": model.upstream_model(task.id),
    }
    proc = subprocess.run(
        ["bash", "-e", script.name],
        cwd=reader_dir,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert (reader_dir / "cab-out" / "trajectory.json").is_file()
    before = (task.workspace_dir / "handler.go").read_text()
    assert (reader_dir / "workspace" / "handler.go").read_text() != before

    tests = run_hidden_tests(
        task, reader_dir / "workspace", DockerSandbox(), scratch=tmp_path / "hidden-tests"
    )
    assert tests.ran and tests.exit_code == 0, tests.stdout[-2000:]
