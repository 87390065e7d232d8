"""Sweep files: the shipped ones load, bad ones fail naming the file and the field, and the
matrix gives each repeat its own cell id and folder."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from runner.errors import ConfigError, RunnerError
from runner.models import resolve_model
from runner.sweep_config import SWEEPS_DIR, expand, load_sweep

GOOD = """
sweep_id = "t1"
tuis = ["reference"]
models = ["scripted"]
tasks = ["polyglot/go-http-handler-fix"]
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "sweep.toml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize("path", sorted(SWEEPS_DIR.glob("*.toml")), ids=lambda p: p.name)
def test_shipped_sweeps_load_and_expand(path):
    cfg = load_sweep(path)
    plans = expand(cfg)
    assert plans and len({p.cell_id for p in plans}) == len(plans)


def test_demo_is_reference_by_two_scripted_models_over_the_starter_tasks():
    cfg = load_sweep(SWEEPS_DIR / "demo.toml")
    plans = expand(cfg)
    assert {p.model.name for p in plans} == {"scripted", "scripted-throttled"}
    assert {p.tui for p in plans} == {"reference"}
    assert len(plans) == 2 * len({p.task.id for p in plans}) >= 2 * 6


@pytest.mark.parametrize(
    ("extra", "field", "words"),
    [
        ('models = [{ name = "x", endpoint = "ftp://nope" }]', "models.0.endpoint", "http"),
        (
            'models = [{ name = "x", endpoint = "https://u:s3cret@h/v1" }]',
            "models.0.endpoint",
            "no credentials in the URL",
        ),
        (
            'models = [{ name = "x", endpoint = "https://h/v1?key=1" }]',
            "models.0.endpoint",
            "no query",
        ),
        ('models = ["scripted", { name = "y" }]', "models.1.endpoint", "required"),
        ("repeats = 0", "repeats", "greater than or equal"),
        ("concurency = 3", "concurency", "Extra inputs"),
        ("[retry]\nattempts = 0", "retry.attempts", "greater than or equal"),
        ("[scoring.weights]\npass_rate = 0.9", "scoring.weights", "sum to 1"),
        ('sandbox = "vm"', "sandbox", "match pattern"),
    ],
)
def test_bad_fields_are_named_with_the_file(tmp_path, extra, field, words):
    lines = [ln for ln in GOOD.strip().splitlines() if ln.split(" ")[0] not in extra.split(" ")[0]]
    path = write(tmp_path, "\n".join([*lines, extra]))
    with pytest.raises(ConfigError) as err:
        load_sweep(path)
    assert err.value.path == str(path)
    assert err.value.field == field
    assert words in err.value.problem
    assert "s3cret" not in str(err.value)  # an endpoint's credentials are never repeated


def test_an_ad_hoc_endpoint_is_checked_the_same_way_without_repeating_it():
    with pytest.raises(RunnerError) as err:
        resolve_model("mine", "https://u:s3cret@h/v1", "MY_KEY")
    assert "no credentials in the URL" in str(err.value) and "s3cret" not in str(err.value)
    assert resolve_model("mine", "https://h/v1/", "MY_KEY").endpoint == "https://h/v1"


def test_unknown_names_are_caught_before_anything_runs(tmp_path):
    for text, field in [
        (GOOD.replace('"scripted"', '"no-such-model"'), "models.0"),
        (GOOD.replace('"reference"', '"nope"'), "tuis.0"),
        (GOOD.replace("polyglot/go-http-handler-fix", "nope/*"), "tasks"),
    ]:
        with pytest.raises(ConfigError) as err:
            expand(load_sweep(write(tmp_path, text)))
        assert err.value.field == field


def test_broken_toml_and_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_sweep(write(tmp_path, "sweep_id = "))
    with pytest.raises(ConfigError, match="cannot read"):
        load_sweep(tmp_path / "absent.toml")


def test_repeats_are_cells_of_their_own(tmp_path):
    cfg = load_sweep(write(tmp_path, GOOD + "repeats = 3\n"))
    plans = expand(cfg)
    base = "t1/reference/scripted/polyglot/go-http-handler-fix"
    assert [p.cell_id for p in plans] == [f"{base}#r{k}" for k in (1, 2, 3)]
    assert [p.rel_dir.rsplit("/", 1)[1] for p in plans] == ["r1", "r2", "r3"]
    assert {p.base_cell_id for p in plans} == {base}
    single = expand(load_sweep(write(tmp_path, GOOD)))
    assert [p.cell_id for p in single] == [base]


def test_dry_run_lists_the_cells_and_runs_nothing(tmp_path):
    path = write(tmp_path, GOOD.replace('["scripted"]', '["scripted", "scripted-throttled"]'))
    out = subprocess.run(
        [sys.executable, "-m", "cab", "sweep", str(path), "--dry-run", "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        check=True,
    )
    lines = out.stdout.strip().splitlines()
    assert len(lines) == 2 and all(ln.startswith("todo\tt1/reference/scripted") for ln in lines)
    assert not (tmp_path / "t1").exists()
    bad = subprocess.run(
        [sys.executable, "-m", "cab", "sweep", str(tmp_path / "absent.toml")],
        capture_output=True,
        text=True,
    )
    assert bad.returncode == 2 and "absent.toml" in bad.stderr
