"""Harbor-format tasks in real Docker (tasks-harbor/): each task's image builds offline,
`cab tasks check` proves them (oracle reward 1, untouched reward 0), and cells run in the
task's own image with the agent layered on: the reference agent with the scripted model
solves two and half-solves the partial-credit one; oracle passes, nop fails."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from runner.cell import CellOptions, run_cell
from runner.errors import SandboxError
from runner.harness import Harness
from runner.models import resolve_model
from runner.taskformats import harbor
from runner.taskformats.harbor_run import ensure_image
from runner.tasks import get_task, select

pytestmark = pytest.mark.docker

ROOT = Path(__file__).resolve().parents[2]
HARBOR = ROOT / "tasks-harbor"


@pytest.fixture(scope="module")
def harness():
    with Harness() as h:
        yield h


def test_cab_tasks_check_proves_our_harbor_tasks(cache_dir, docker_client):
    proc = subprocess.run(
        [sys.executable, "-m", "cab", "tasks", "check", "--tasks-dir", str(HARBOR), "-j", "3"],
        capture_output=True,
        text=True,
        timeout=1200,
        env={**os.environ, "CAB_CACHE_DIR": str(cache_dir)},
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    for name in ("word-stats", "partial-fixes", "offline-config"):
        line = next(ln for ln in proc.stdout.splitlines() if f"tasks-harbor/{name} " in ln)
        assert line.startswith("PASS"), line
        assert "untouched: fail (reward 0)" in line and "oracle: pass (reward 1)" in line
    assert "3/3 tasks honest" in proc.stdout


@pytest.mark.parametrize(
    ("name", "passed", "partial"),
    [("word-stats", 1, 1), ("offline-config", 1, 1), ("partial-fixes", 0, 0.667)],
)
def test_reference_agent_runs_in_the_task_image(
    name, passed, partial, cache_dir, harness, tmp_path, docker_client
):
    task = get_task(f"tasks-harbor/{name}", HARBOR)
    opts = CellOptions(sweep_id=f"t-harbor-{uuid.uuid4().hex[:8]}", out_root=tmp_path)
    opts.sandbox = "docker"
    record = run_cell("reference", resolve_model("scripted"), task, opts, harness)
    scores = record.scores.model_dump(mode="json") if record.scores else {}
    assert scores["verdict"]["verdict"] == "capability"
    assert record.identity.exit_code == 0, record.facts.agent.stderr_tail
    assert scores["pass_rate"]["pass"] == passed, scores["pass_rate"]
    assert scores["pass_rate"]["partial_score"] == partial
    assert scores["pass_rate"]["report_format"] == "harbor-reward"
    # the agent ran in the task's image with the reference agent layered on, in WORKDIR
    assert (record.identity.container_image or "").startswith("cab-derived/")
    container = next(s for s in record.spans if s.kind == "container")
    assert container.attrs["image"].endswith(task.image.replace(":", "-").replace("/", "-"))
    assert record.calls and all(c.outcome == "ok" for c in record.calls)
    assert scores["blast_radius"]["total_changes"] >= 1
    label = {"label": f"cab.cell_id={record.cell_id}"}
    assert docker_client.containers.list(all=True, ignore_removed=True, filters=label) == []


@pytest.mark.parametrize(("tui", "passed"), [("oracle", 1), ("nop", 0)])
def test_oracle_passes_and_nop_fails(tui, passed, cache_dir, harness, tmp_path, docker_client):
    task = get_task("tasks-harbor/offline-config", HARBOR)
    opts = CellOptions(
        sweep_id=f"t-harbor-prove-{uuid.uuid4().hex[:8]}", out_root=tmp_path, sandbox="docker"
    )
    record = run_cell(tui, resolve_model("none"), task, opts, harness)
    scores = record.scores.model_dump(mode="json") if record.scores else {}
    assert scores["verdict"]["verdict"] == "capability"
    assert scores["pass_rate"]["pass"] == passed, scores["pass_rate"]
    assert record.calls == []
    assert record.identity.container_image == task.image  # no CLI layered for these


def test_a_missing_docker_image_and_compose_are_clear_errors(cache_dir, tmp_path, docker_client):
    src = HARBOR / "offline-config"
    for name in ("prebuilt", "compose"):
        shutil.copytree(src, tmp_path / "ds" / name)
    prebuilt = tmp_path / "ds" / "prebuilt" / "task.toml"
    prebuilt.write_text(
        prebuilt.read_text().replace(
            "allow_internet = false", 'allow_internet = false\ndocker_image = "cab-none/absent:1"'
        )
    )
    compose = tmp_path / "ds" / "compose"
    (compose / "environment" / "docker-compose.yaml").write_text("services: {}\n")
    tasks = {t.name: t for t in select(None, tmp_path / "ds")}
    assert set(tasks) == {"prebuilt", "compose"} and tasks["prebuilt"].category == "ds"
    with pytest.raises(SandboxError, match="cab-none/absent:1 is not present locally"):
        ensure_image(tasks["prebuilt"])
    assert "docker-compose" in (tasks["compose"].unsupported or "")
    assert harbor.unsupported_reason(compose, harbor.read_spec(compose))


def test_a_real_cli_solves_a_harbor_task_in_the_task_image(cache_dir, tmp_path, docker_client):
    """mini-swe-agent (PyPI), layered on the task's own Debian image, driven by the fake
    provider through our proxy with its own CLI-shaped script."""
    from proxy.server import FakeUpstreamServer
    from runner import images

    images.ensure("mini-swe-agent")  # its Dockerfile is what gets layered on the task image
    scripts = ROOT / "config" / "scripts" / "clis" / "mini-swe-agent"
    key_env, key = "CAB_TEST_HARBOR_KEY", "sk-harbor-provider-key-0451"
    with FakeUpstreamServer(scripts_dir=scripts) as fake:
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "cab",
                "run-cell",
                "--tui",
                "mini-swe-agent",
                "--model",
                "scripted/tasks-harbor/offline-config",
                "--endpoint",
                fake.base_url + "/v1",
                "--key-env",
                key_env,
                "--task",
                "tasks-harbor/offline-config",
                "--tasks-dir",
                str(HARBOR),
                "--out",
                str(tmp_path),
                "--sandbox",
                "docker",
                "--json",
            ],
            cwd=ROOT,
            env={**os.environ, key_env: key, "CAB_CACHE_DIR": str(cache_dir)},
            capture_output=True,
            text=True,
            timeout=1200,
        )
    assert proc.returncode == 0, proc.stderr[-3000:]
    record = json.loads(proc.stdout)
    assert record["scores"]["pass_rate"]["pass"] == 1, record["scores"]["pass_rate"]
    assert record["scores"]["verdict"]["verdict"] == "capability"
    assert record["identity"]["container_image"].startswith("cab-derived/mini-swe-agent:")
    assert len(record["facts"]["calls"]) == 3
    assert all(c["outcome"] == "ok" for c in record["facts"]["calls"])


def test_a_terminal_bench_2_shaped_task_whose_image_ends_as_another_user(
    cache_dir, tmp_path, docker_client
):
    """task.toml in Terminal-Bench 2.x's shape (`version = "2.0"`, `network_mode`,
    `workdir`, `env = []`) and a Dockerfile that ends `USER nobody`: mini-swe-agent is
    still layered on the image (its install steps run as root, as on the toolbox) and
    solves the task there, with no network for the verifier."""
    from proxy.server import FakeUpstreamServer
    from runner import images

    images.ensure("mini-swe-agent")
    task_dir = tmp_path / "tasks-harbor" / "offline-config"
    shutil.copytree(HARBOR / "offline-config", task_dir)
    dockerfile = task_dir / "environment" / "Dockerfile"
    dockerfile.write_text(dockerfile.read_text() + "USER nobody\n")
    (task_dir / "task.toml").write_text(
        'version = "2.0"\n[metadata]\ncategory = "system-administration"\n'
        "[verifier]\ntimeout_sec = 60.0\nenv = []\n[agent]\ntimeout_sec = 300.0\n"
        '[environment]\ncpus = 1\nmemory_mb = 512\nnetwork_mode = "no-network"\n'
        'workdir = "/srv/app"\n[environment.env]\nAPP_HOME = "/srv/app"\n'
    )
    task = get_task("tasks-harbor/offline-config", tmp_path / "tasks-harbor")
    assert task.harbor is not None and not task.allow_internet
    assert task.harbor.workdir == "/srv/app" and not task.harbor.allow_internet
    scripts = ROOT / "config" / "scripts" / "clis" / "mini-swe-agent"
    key_env = "CAB_TEST_HARBOR_KEY"
    with FakeUpstreamServer(scripts_dir=scripts) as fake:
        proc = subprocess.run(
            [sys.executable, "-m", "cab", "run-cell", "--tui", "mini-swe-agent",
             "--model", "scripted/tasks-harbor/offline-config",
             "--endpoint", fake.base_url + "/v1", "--key-env", key_env,
             "--task", "tasks-harbor/offline-config", "--tasks-dir", str(tmp_path / "tasks-harbor"),
             "--out", str(tmp_path / "runs"), "--sandbox", "docker", "--json"],
            cwd=ROOT,
            env={**os.environ, key_env: "sk-harbor-provider-key-0452",
                 "CAB_CACHE_DIR": str(cache_dir)},
            capture_output=True,
            text=True,
            timeout=1200,
        )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    record = json.loads(proc.stdout)
    assert record["scores"]["pass_rate"]["pass"] == 1, record["scores"]["pass_rate"]
    assert record["identity"]["container_image"].startswith("cab-derived/mini-swe-agent:")


def test_cab_images_build_makes_each_task_image_and_the_agent_on_it(cache_dir, docker_client):
    args = ["images", "build", "--tasks-dir", str(HARBOR), "--tui", "reference", "--tui", "nop"]
    proc = subprocess.run(
        [sys.executable, "-m", "cab", *args],
        capture_output=True,
        text=True,
        timeout=1200,
        env={**os.environ, "CAB_CACHE_DIR": str(cache_dir)},
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    lines = [ln.split("\t") for ln in proc.stdout.splitlines()]
    tasks = [tag for tag, what in lines if what.startswith("task image of tasks-harbor/")]
    layered = [tag for tag, what in lines if what.startswith("reference on cab-harbor/")]
    assert len(tasks) == 3 and len(layered) == 3
    assert all(docker_client.images.get(tag) for tag in tasks + layered)
