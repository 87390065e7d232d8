"""A sweep in the local sandbox (no Docker needed): the real `cab sweep` runs the matrix,
retries infra, keeps every attempt, and a second run of the same sweep_id is refused
while one is running."""

from __future__ import annotations

import fcntl
import json
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from runner.store import ResultsStore
from runner.sweep import LOCK_DIR, SweepBusyError, SweepRunner
from runner.sweep_config import parse_sweep

ROOT = Path(__file__).resolve().parents[1]
TASK = "polyglot/go-http-handler-fix"


def config(sweep_id: str) -> dict:
    return {
        "sweep_id": sweep_id,
        "tuis": ["reference"],
        "models": ["scripted", "scripted-throttled"],
        "tasks": [TASK],
        "repeats": 2,
        "concurrency": 2,
        "sandbox": "local",
        "retry": {"attempts": 2, "backoff_s": 0.1, "backoff_max_s": 0.5},
    }


def test_cab_sweep_in_the_local_sandbox(tmp_path):
    sid = f"t-{uuid.uuid4().hex[:8]}"
    lines = [f"{k} = {json.dumps(v)}" for k, v in config(sid).items() if k != "retry"]
    lines += ["[retry]", "attempts = 2", "backoff_s = 0.1", "backoff_max_s = 0.5"]
    (tmp_path / "s.toml").write_text("\n".join(lines), encoding="utf-8")
    out = subprocess.run(
        [sys.executable, "-m", "cab", "sweep", str(tmp_path / "s.toml"), "--out", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    base = f"{sid}/reference/scripted-throttled/{TASK}"
    assert f"INFRA {base}#r1  infra:rate_limit" in out.stdout
    assert "after 2 attempts" in out.stdout
    assert "Leaderboard" in out.stdout and "4 cells run" in out.stdout

    with ResultsStore.for_sweep(tmp_path / sid) as store:
        cells = {c["cell_id"]: c for c in store.cells()}
        assert len(cells) == 4
        for r in (1, 2):
            ok = cells[f"{sid}/reference/scripted/{TASK}#r{r}"]
            assert (ok["pass"], ok["attempts"], ok["sandbox"]) == (1, 1, "local")
            bad = cells[f"{base}#r{r}"]
            assert (bad["infra"], bad["attempts"]) == (1, 2)
            kept = tmp_path / sid / bad["cell_dir"] / "attempts" / "1" / "cell.json"
            assert kept.is_file()
        assert store.query("SELECT count(*) AS n FROM attempts")[0]["n"] == 6
    assert not (tmp_path / sid / ".attempts-in-flight").exists()


def test_a_second_run_of_a_running_sweep_is_refused(tmp_path):
    sid = f"t-{uuid.uuid4().hex[:8]}"
    LOCK_DIR.mkdir(parents=True, exist_ok=True)
    with open(LOCK_DIR / f"{sid}.lock", "a+") as held:
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
        held.write("pid 1234, out /elsewhere\n")
        held.flush()
        with pytest.raises(SweepBusyError, match="pid 1234, out /elsewhere"):
            SweepRunner(parse_sweep(config(sid)), tmp_path).run()
    assert not (tmp_path / sid / "results.db").exists(), "nothing was started"
    (LOCK_DIR / f"{sid}.lock").unlink()
