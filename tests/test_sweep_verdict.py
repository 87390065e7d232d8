"""Sweeps follow the verdict (local sandbox, the scenario provider): a cell throttled
mid-run is infra, so it is retried and `cab results` counts it apart; resuming a sweep
re-judges its finished cells and retries those that became infra."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from pathlib import Path

from runner.store import ResultsStore
from runner.sweep import SweepRunner
from runner.sweep_config import parse_sweep

ROOT = Path(__file__).resolve().parents[1]
TASK = "polyglot/go-http-handler-fix"
#: One good call (the agent reads the files), then 429 until it gives up: no fix written.
MIDRUN = {
    "name": "midrun-throttled",
    "endpoint": "embedded",
    "model_id": "faults/ok,429:retry_after=0.2/scripted/{task_id}",
}


def config(sweep_id: str, attempts: int) -> dict:
    return {
        "sweep_id": sweep_id,
        "tuis": ["reference"],
        "models": ["scripted", MIDRUN],
        "tasks": [TASK],
        "concurrency": 2,
        "sandbox": "local",
        "plugins": [{"name": "quick", "args": ["--retries", "2", "--max-wait", "0.5"]}],
        "retry": {"attempts": attempts, "backoff_s": 0.1, "backoff_max_s": 0.2},
    }


def cells(sweep_dir: Path) -> dict[str, dict]:
    with ResultsStore.for_sweep(sweep_dir) as store:
        return {c["model"]: c for c in store.cells()}


def test_a_mid_run_throttled_cell_is_retried_as_infra_and_counted_apart(tmp_path):
    sid = f"t-verdict-{uuid.uuid4().hex[:8]}"
    SweepRunner(parse_sweep(config(sid, attempts=2)), tmp_path).run()
    rows = cells(tmp_path / sid)
    ok, throttled = rows["scripted"], rows["midrun-throttled"]
    assert (ok["verdict"], ok["attempts"]) == ("capability", 1)
    assert (throttled["verdict"], throttled["infra"], throttled["attempts"]) == (
        "infra:rate_limit",
        1,
        2,
    )
    record = json.loads((tmp_path / sid / throttled["cell_dir"] / "cell.json").read_text())
    assert record["scores"]["tokens"]["model_calls"] == 1  # it did work before the streak
    assert "after 1 completed call(s)" in record["scores"]["verdict"]["sentence"]
    out = subprocess.run(
        [sys.executable, "-m", "cab", "results", str(tmp_path / sid), "--json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    board = {r["model"]: r for r in json.loads(out.stdout)["leaderboard"]}
    mid = board["midrun-throttled"]
    assert (mid["cells"], mid["infra_cells"], mid["capability_cells"]) == (1, 1, 0)
    assert mid["pass_rate"] is None  # no capability cell: no pass rate to lower
    assert (board["scripted"]["infra_cells"], board["scripted"]["pass_rate"]) == (0, 1.0)


def test_resume_rejudges_finished_cells_and_retries_those_now_infra(tmp_path):
    """A sweep stored under the old rule (the throttled cell as capability, one attempt)
    is resumed: the cell is re-judged infra and runs again as its second attempt."""
    sid = f"t-verdict-{uuid.uuid4().hex[:8]}"
    SweepRunner(parse_sweep(config(sid, attempts=1)), tmp_path).run()
    db = tmp_path / sid / "results.db"
    with ResultsStore(db) as store, store.tx() as conn:
        conn.execute(
            "UPDATE cells SET verdict='capability', infra=0, reason=NULL WHERE model=?",
            ("midrun-throttled",),
        )
    assert cells(tmp_path / sid)["midrun-throttled"]["verdict"] == "capability"

    SweepRunner(parse_sweep(config(sid, attempts=2)), tmp_path).run()
    rows = cells(tmp_path / sid)
    assert (rows["midrun-throttled"]["verdict"], rows["midrun-throttled"]["attempts"]) == (
        "infra:rate_limit",
        2,
    )
    assert rows["scripted"]["attempts"] == 1  # a capability cell is never rerun
    kept = tmp_path / sid / rows["midrun-throttled"]["cell_dir"] / "attempts" / "1" / "cell.json"
    assert kept.is_file()
