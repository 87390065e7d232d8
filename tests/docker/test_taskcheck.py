"""`cab tasks check` in Docker: every task is honest in its real image (untouched fails,
oracle passes with exactly expected_tests tests; refusal inverted), and a dishonest copy
of a task is caught there too. The real CLI runs as a subprocess, as CI runs it."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from runner import images
from runner.tasks import discover, get_task

pytestmark = pytest.mark.docker


@pytest.fixture(scope="module")
def toolbox(docker_client):
    return images.ensure("toolbox")


def cab(*args: str) -> subprocess.CompletedProcess:
    """`cab tasks ARGS` as a subprocess; `.args[-1]` is then its pid, which labels its
    containers (cab.pid), so a check running beside this one is not counted."""
    with subprocess.Popen(
        [sys.executable, "-m", "cab", "tasks", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as proc:
        try:
            out, err = proc.communicate(timeout=900)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, err = proc.communicate()
        return subprocess.CompletedProcess([*proc.args, str(proc.pid)], proc.returncode, out, err)


def test_whole_suite_is_honest_in_docker(toolbox, docker_client):
    proc = cab("check", "--sandbox", "docker")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = proc.stdout.splitlines()
    for task in discover():
        line = next(ln for ln in lines if ln.split()[1:2] == [task.id])
        assert line.startswith("PASS"), line
        n = task.test.expected_tests
        if task.refusal.expected:
            assert f"untouched: pass ({n}/{n} passed, exit 0)" in line
        else:
            assert "untouched: fail" in line and f"oracle: pass ({n}/{n} passed, exit 0)" in line
    assert lines[-1].endswith("(sandbox: docker)")
    mine = ["cab.taskcheck", f"cab.pid={proc.args[-1]}"]
    leftovers = docker_client.containers.list(
        all=True, ignore_removed=True, filters={"label": mine}
    )
    assert leftovers == []


def test_a_task_counting_the_wrong_number_of_tests_fails_in_docker(toolbox, tmp_path: Path):
    src = get_task("polyglot/js-querystring-parse").root
    bad = tmp_path / "tasks" / "polyglot" / "js-querystring-parse"
    shutil.copytree(src, bad)
    spec = bad / "task.toml"
    spec.write_text(spec.read_text().replace("expected_tests = 6", "expected_tests = 7"))
    proc = cab("--tasks-dir", str(tmp_path / "tasks"), "check", "--sandbox", "docker")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "FAIL  polyglot/js-querystring-parse" in proc.stdout
    assert "the oracle must pass exactly 7 tests (ran 6, failed 0, skipped 0)" in proc.stdout
