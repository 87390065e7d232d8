"""`cab doctor` as a newcomer runs it: what the demo needs with Docker up, with the engine
gone and with an image missing; a sweep whose endpoint is down or whose model id the
endpoint does not list is stopped before any cell (by `cab doctor sweep` and `cab sweep`)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from proxy.server import FakeUpstreamServer
from runner.harness import SCRIPTS_DIR

ROOT = Path(__file__).resolve().parents[1]
TASK = "polyglot/go-http-handler-fix"


def cab(*args: str, env: dict[str, str] | None = None, cwd: Path = ROOT):
    return subprocess.run(
        [sys.executable, "-m", "cab", *args],
        cwd=cwd,
        env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})},
        capture_output=True,
        text=True,
        timeout=120,
    )


def checks(out: str) -> dict[str, dict]:
    return {c["name"]: c for c in json.loads(out)["checks"]}


@pytest.mark.docker
def test_doctor_demo_is_all_green_with_docker_up_and_images_built():
    done = cab("doctor", "demo", "--json")
    assert done.returncode == 0, done.stdout + done.stderr
    found = checks(done.stdout)
    for name in ("python", "package dependencies", "docker engine", "image toolbox"):
        assert found[name]["required"] and found[name]["status"] == "ok", found[name]
    for c in found.values():  # a stale image still runs: it may warn, never fail
        if c["required"]:
            assert c["status"] == "ok" or c["name"].startswith("image "), c
    assert json.loads(done.stdout)["ok"] is True
    text = cab("doctor", "demo")
    assert text.returncode == 0 and "everything required is here" in text.stdout


def test_doctor_names_the_engine_and_how_to_start_it(tmp_path):
    closed = tmp_path / "docker.sock"
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(closed))  # a socket file nobody listens on
    sock.close()
    done = cab("doctor", "demo", env={"DOCKER_HOST": f"unix://{closed}"})
    assert done.returncode == 1, done.stdout + done.stderr
    line = next(ln for ln in done.stdout.splitlines() if "docker engine" in ln)
    assert "✗" in line and str(closed) in line and "Connection refused" in line
    assert "dockerd" in line and "DOCKER_HOST" in line
    assert "1 required missing: docker engine" in done.stdout

    demo = cab(
        "demo",
        "--sandbox",
        "docker",
        "--sweep-id",
        f"t-{uuid.uuid4().hex[:8]}",
        "--out",
        str(tmp_path / "runs"),
        env={"DOCKER_HOST": f"unix://{closed}"},
    )
    assert demo.returncode == 2 and "Traceback" not in demo.stdout + demo.stderr
    assert "no Docker engine answered" in demo.stderr and "cab doctor demo" in demo.stderr


@pytest.mark.docker
def test_doctor_names_the_build_command_of_a_missing_image(tmp_path):
    table = tmp_path / "images.toml"
    table.write_text(
        "[images.toolbox]\n"
        f'tag = "codingagentbench/toolbox:0.0.0-doctor-{uuid.uuid4().hex[:8]}"\n'
        'dockerfile = "images/toolbox"\n',
        encoding="utf-8",
    )
    done = cab("doctor", "demo", env={"CAB_IMAGES_CONFIG": str(table)})
    assert done.returncode == 1, done.stdout + done.stderr
    line = next(ln for ln in done.stdout.splitlines() if "image toolbox" in ln)
    assert "required" in line and "is not built" in line
    assert "→ cab images build toolbox" in line


def closed_port() -> int:
    """A 127.0.0.1 port nothing listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def sweep_file(tmp_path: Path, models: list[str]) -> Path:
    path = tmp_path / "sweep.toml"
    path.write_text(
        f'sweep_id = "t-doctor-{uuid.uuid4().hex[:8]}"\n'
        'tuis = ["reference"]\n'
        f"models = [{', '.join(models)}]\n"
        f'tasks = ["{TASK}"]\n'
        'sandbox = "local"\n',
        encoding="utf-8",
    )
    return path


def test_an_unreachable_endpoint_stops_the_sweep_before_any_cell(tmp_path):
    url = f"http://127.0.0.1:{closed_port()}/v1"
    path = sweep_file(tmp_path, [f'{{name = "down", endpoint = "{url}", model_id = "m"}}'])
    doctor = cab("doctor", "sweep", str(path))
    assert doctor.returncode == 1, doctor.stdout + doctor.stderr
    line = next(ln for ln in doctor.stdout.splitlines() if "model down: endpoint" in ln)
    assert "✗" in line and f"{url} unreachable" in line and str(path) in line

    out = tmp_path / "runs"
    sweep = cab("sweep", str(path), "--out", str(out))
    assert sweep.returncode == 2, sweep.stdout + sweep.stderr
    assert f"{url} unreachable" in sweep.stdout
    assert "no cell was run" in sweep.stderr
    assert not out.exists(), "the sweep started although its endpoint is down"


@pytest.fixture
def fake_upstream():
    server = FakeUpstreamServer(scripts_dir=SCRIPTS_DIR).start()
    yield server
    server.stop()


def test_a_model_id_the_endpoint_does_not_list_is_reported(tmp_path, fake_upstream):
    url = fake_upstream.base_url + "/v1"
    path = sweep_file(
        tmp_path,
        [
            f'{{name = "good", endpoint = "{url}", model_id = "echo"}}',
            f'{{name = "typo", endpoint = "{url}", model_id = "gpt-no-such-model"}}',
        ],
    )
    done = cab("doctor", "sweep", str(path), "--json")
    assert done.returncode == 1, done.stdout + done.stderr
    found = checks(done.stdout)
    assert found["model good: endpoint"]["status"] == "ok"
    assert found["model good: model id"]["status"] == "ok"
    typo = found["model typo: model id"]
    assert typo["status"] == "fail" and typo["required"]
    assert "gpt-no-such-model not listed" in typo["detail"] and "echo" in typo["detail"]
    assert str(path) in typo["fix"]

    sweep = cab("sweep", str(path), "--out", str(tmp_path / "runs"))
    assert sweep.returncode == 2 and "gpt-no-such-model not listed" in sweep.stdout
    assert not (tmp_path / "runs").exists()
    assert fake_upstream.state.requests == 0  # only GET /models: no completion, no token


def test_an_endpoint_set_without_v1_is_caught_before_any_cell(tmp_path, fake_upstream):
    """Every call to such a base is a 404 the agent would be blamed for: the preflight
    finds that `<base>/v1` lists models and says to set it, and the sweep does not start."""
    path = sweep_file(
        tmp_path, [f'{{name = "nov1", endpoint = "{fake_upstream.base_url}", model_id = "echo"}}']
    )
    done = cab("doctor", "sweep", str(path), "--json")
    assert done.returncode == 1, done.stdout + done.stderr
    line = checks(done.stdout)["model nov1: endpoint"]
    assert line["status"] == "fail" and "/models answered HTTP 404" in line["detail"]
    assert f'endpoint = "{fake_upstream.base_url}/v1"' in line["fix"]
    sweep = cab("sweep", str(path), "--out", str(tmp_path / "runs"))
    assert sweep.returncode == 2 and not (tmp_path / "runs").exists()


def test_fake_upstream_finds_its_scripts_from_any_directory(tmp_path):
    proc = subprocess.Popen(
        [sys.executable, "-m", "cab", "fake-upstream", "--port", "0"],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()
        base = first.split("OpenAI base URL: ")[1].rstrip(")\n")
        import httpx

        ids = [m["id"] for m in httpx.get(base + "/models", trust_env=False).json()["data"]]
        assert f"scripted/{TASK}" in ids
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=30)
    assert "no such directory" not in err


def test_an_image_older_than_its_dockerfile_or_its_base_is_a_warning_with_the_fix():
    from datetime import UTC, datetime

    from runner.doctor.engine import _image_check
    from runner.images import ImageSpec

    spec = ImageSpec(tag="x/agent:1.0", dockerfile="images/toolbox", depends_on=["base"])
    long_ago = datetime.fromtimestamp(0, UTC)
    now = datetime.now(UTC)
    stale = _image_check("agent", spec, {"agent": long_ago, "base": long_ago}, True)
    assert stale.status == "warn" and "images/toolbox changed since" in stale.detail
    assert "cab images build --force agent" in stale.fix and not stale.blocking
    rebased = _image_check(
        "agent", spec, {"agent": now, "base": datetime.max.replace(tzinfo=UTC)}, True
    )
    assert rebased.status == "warn" and "older than its base image base" in rebased.detail
    fresh = _image_check("agent", spec, {"agent": now, "base": long_ago}, True)
    assert fresh.status == "ok"
    missing = _image_check("agent", spec, {"agent": None, "base": now}, False)
    assert missing.status == "fail" and missing.fix == "cab images build agent"
    assert not missing.blocking  # optional for this use


def test_an_image_labelled_with_its_folders_digest_is_judged_by_contents_not_times(tmp_path):
    """Times lie both ways: a checkout or a pull newer than the build, with the same
    Dockerfile folder, is not stale; an image built from other contents is, however new."""
    from datetime import UTC, datetime

    from runner.doctor.engine import _image_check
    from runner.images import REPO, ImageSpec, context_digest

    spec = ImageSpec(tag="x/agent:1.0", dockerfile="images/toolbox")
    long_ago, now = datetime.fromtimestamp(0, UTC), datetime.now(UTC)
    same = context_digest(REPO / "images/toolbox")
    assert _image_check("agent", spec, {"agent": long_ago}, True, same).status == "ok"
    other = _image_check("agent", spec, {"agent": now}, True, "sha256:" + "0" * 64)
    assert other.status == "warn" and "images/toolbox changed since" in other.detail
    # the digest: paths and bytes, nothing else
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "Dockerfile").write_text("FROM x\n")
    first = context_digest(tmp_path / "a")
    (tmp_path / "a" / "__pycache__").mkdir()
    (tmp_path / "a" / "__pycache__" / "m.pyc").write_bytes(b"\0")
    assert context_digest(tmp_path / "a") == first
    (tmp_path / "a" / "Dockerfile").write_text("FROM y\n")
    assert context_digest(tmp_path / "a") != first
    (tmp_path / "a" / "Dockerfile").write_text("FROM x\n")
    (tmp_path / "a" / "Dockerfile").rename(tmp_path / "a" / "Dockerfile2")
    assert context_digest(tmp_path / "a") != first


def test_with_a_log_file_the_console_gets_no_traceback_and_no_cell_lines(tmp_path, capsys):
    import structlog

    from runner.logs import configure

    log_file = tmp_path / "cab.log"
    configure(log_file=log_file)
    try:
        log = structlog.get_logger("t")
        log.error("cell.harness_error", cell_id="s/x", tb="Traceback (most recent call last): …")
        log.error("sweep.broken", tb="Traceback (most recent call last): …")
        log.info("sweep.note")
    finally:
        configure()
    err = capsys.readouterr().err
    assert "Traceback" not in err and "cell.harness_error" not in err and "sweep.note" not in err
    assert "sweep.broken" in err and str(log_file) in err
    lines = [json.loads(line) for line in log_file.read_text().splitlines()]
    assert [e["event"] for e in lines] == ["cell.harness_error", "sweep.broken", "sweep.note"]
    assert lines[0]["tb"].startswith("Traceback")
