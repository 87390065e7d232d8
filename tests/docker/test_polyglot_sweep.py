"""The aider polyglot benchmark sample in real Docker: a sweep of `oracle` and `nop` over
one exercise per language (oracle passes with every test run, nop fails, every cell is a
capability verdict), and the reference agent with a scripted model solving a Go exercise
in the polyglot image with the agent layered on."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from runner.cell import CellOptions, run_cell
from runner.harness import Harness
from runner.models import resolve_model
from runner.store import ResultsStore
from runner.sweep import SweepRunner
from runner.sweep_config import load_sweep
from runner.tasks import get_task
from tests.taskformats.conftest import polyglot_sample

pytestmark = pytest.mark.docker

ONE_PER_LANGUAGE = [
    "aider-polyglot/go-octal",
    "aider-polyglot/python-grep",
    "aider-polyglot/javascript-two-bucket",
    "aider-polyglot/rust-acronym",
    "aider-polyglot/cpp-all-your-base",
    "aider-polyglot/java-two-bucket",
]


@pytest.fixture(scope="module")
def sample() -> Path:
    found = polyglot_sample()
    if found is None:
        pytest.fail("the polyglot sample is missing: set CAB_POLYGLOT_SAMPLE to its folder")
    return found


def test_oracle_and_nop_sweep_one_exercise_per_language(sample, cache_dir, tmp_path, docker_client):
    sweep_id = f"t-poly-{uuid.uuid4().hex[:8]}"
    sweep_file = tmp_path / "sweep.toml"
    sweep_file.write_text(
        "\n".join(
            [
                f'sweep_id = "{sweep_id}"',
                'tuis = ["oracle", "nop"]',
                'models = ["none"]',
                f"tasks = {json.dumps(ONE_PER_LANGUAGE)}",
                f"task_sources = [{json.dumps(str(sample))}]",
                "concurrency = 2",
                'sandbox = "docker"',
                "[retry]",
                "attempts = 1",
            ]
        )
    )
    summary = SweepRunner(load_sweep(sweep_file), tmp_path).run()
    assert (summary.total, summary.ran, summary.errors) == (12, 12, 0)
    cells = ResultsStore.for_sweep(tmp_path / sweep_id).cells()
    assert len(cells) == 12
    for cell in cells:
        assert cell["verdict"] == "capability", cell
        assert cell["pass"] == (1 if cell["tui"] == "oracle" else 0), cell
    labels = {"label": f"cab.sweep_id={sweep_id}"}
    assert docker_client.containers.list(all=True, ignore_removed=True, filters=labels) == []

    proc = subprocess.run(
        [sys.executable, "-m", "cab", "results", str(tmp_path / sweep_id), "--json"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    rows = {(r["tui"], r["model"]): r for r in json.loads(proc.stdout)["leaderboard"]}
    assert rows[("oracle", "none")]["pass_rate"] == 1
    assert rows[("nop", "none")]["pass_rate"] == 0

    proc = subprocess.run(
        [sys.executable, "-m", "cab", "results", str(tmp_path / sweep_id), "--by-language"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    for lang in ("go", "python", "javascript", "rust", "cpp", "java"):
        lines = [ln for ln in proc.stdout.splitlines() if f" {lang} " in ln]
        assert len(lines) == 2, (lang, proc.stdout)  # oracle and nop
        assert any("oracle" in ln and "100%" in ln for ln in lines), lines
        assert any("nop" in ln and " 0% " in ln for ln in lines), lines


def test_reference_agent_solves_a_go_exercise(sample, cache_dir, tmp_path, docker_client):
    task = get_task("aider-polyglot/go-octal", sample)
    with Harness() as harness:
        opts = CellOptions(
            sweep_id=f"t-poly-ref-{uuid.uuid4().hex[:8]}", out_root=tmp_path, sandbox="docker"
        )
        record = run_cell("reference", resolve_model("scripted"), task, opts, harness)
    scores = record.scores.model_dump(mode="json") if record.scores else {}
    assert scores["verdict"]["verdict"] == "capability"
    assert scores["pass_rate"]["pass"] == 1, scores["pass_rate"]
    assert scores["pass_rate"]["tests_executed"] >= 1 and not scores["pass_rate"]["tests_skipped"]
    assert scores["blast_radius"]["blast_radius"] == 0  # only octal.go, the solution file
    assert (record.identity.container_image or "").startswith("cab-derived/")
