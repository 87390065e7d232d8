"""Sweeps in real Docker: the matrix lands in the store once per repeat with its calls and
spans, throttled cells are infra and retried, and a sweep killed with SIGKILL resumes
without losing or redoing a finished cell and without leaving a container behind."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
import tomllib
import uuid
from pathlib import Path

import docker
import pytest

from runner.record import CellRecord
from runner.store import ResultsStore
from runner.sweep import SweepRunner
from runner.sweep_config import parse_sweep

pytestmark = pytest.mark.docker

TASKS = [
    "polyglot/go-http-handler-fix",
    "partial/py-text-utils",
    "multifile/py-invoice-tax-rounding",
]
MODELS = ["scripted", "scripted-throttled"]
ROOT = Path(__file__).resolve().parents[2]


def sweep_toml(sweep_id: str, repeats: int, concurrency: int, attempts: int) -> str:
    return "\n".join(
        [
            f'sweep_id = "{sweep_id}"',
            'tuis = ["reference"]',
            f"models = {json.dumps(MODELS)}",
            f"tasks = {json.dumps(TASKS)}",
            f"repeats = {repeats}",
            f"concurrency = {concurrency}",
            'sandbox = "docker"',
            "timeout_s = 180",
            "[retry]",
            f"attempts = {attempts}",
            "backoff_s = 0.2",
            "backoff_max_s = 1",
        ]
    )


@pytest.fixture
def sweep_id(docker_client):
    sid = f"t-{uuid.uuid4().hex[:10]}"
    yield sid
    for c in _sweep_containers(docker_client, sid):
        with contextlib.suppress(docker.errors.NotFound):
            c.remove(force=True)


def toml_config(text: str) -> dict:
    return tomllib.loads(text)


def _sweep_containers(docker_client, sid: str) -> list:
    """sparse: no inspect per container, which races with cells removing theirs."""
    label = {"label": f"cab.sweep_id={sid}"}
    return docker_client.containers.list(all=True, sparse=True, filters=label)


class Watcher:
    """A listener that remembers how many cells ran at once."""

    def __init__(self) -> None:
        self.running = self.peak = 0
        self.done: list = []

    def on_start(self, plan, attempt) -> None:
        self.running += 1
        self.peak = max(self.peak, self.running)

    def on_done(self, outcome) -> None:
        self.running -= 1
        self.done.append(outcome)

    def on_error(self, plan, exc) -> None:
        raise AssertionError(f"{plan.cell_id}: {exc}")


def test_sweep_matrix_lands_in_the_store(tmp_path, sweep_id, docker_client):
    cfg = parse_sweep(toml_config(sweep_toml(sweep_id, repeats=2, concurrency=3, attempts=2)))
    watcher = Watcher()
    summary = SweepRunner(cfg, tmp_path, listener=watcher).run()
    assert (summary.total, summary.ran, summary.errors) == (12, 12, 0)
    assert watcher.peak == 3, "concurrency 3 is used and never exceeded"
    assert _sweep_containers(docker_client, sweep_id) == []

    store = ResultsStore.for_sweep(tmp_path / sweep_id)
    cells = {c["cell_id"]: c for c in store.cells()}
    expected = {f"{sweep_id}/reference/{m}/{t}#r{r}" for m in MODELS for t in TASKS for r in (1, 2)}
    assert set(cells) == expected, "every cell present once per repeat"
    for cid, row in cells.items():
        cell_dir = tmp_path / sweep_id / row["cell_dir"]
        record = CellRecord.read(cell_dir)
        assert record.cell_id == cid and row["cell_dir"].endswith(f"/r{row['repeat']}")
        assert all(c.cell_id == cid for c in record.calls)
        if "/scripted/" in cid:
            assert (row["verdict"], row["pass"], row["attempts"]) == ("capability", 1, 1)
            assert row["sweep_composite"] is not None
        else:
            assert row["infra"] == 1 and row["verdict"] == "infra:rate_limit"
            assert row["attempts"] == 2, "retried the configured number of times"
            first = CellRecord.read(cell_dir / "attempts" / "1")
            assert first.identity.attempt == 1 and record.identity.attempt == 2
            assert first.verdict == "infra:rate_limit"

    attempts = store.query("SELECT cell_id, attempt, cell_dir FROM attempts")
    assert len(attempts) == 6 + 6 * 2
    # calls and spans join their cells, attempt by attempt
    per_attempt = store.query(
        "SELECT a.cell_id, a.attempt, "
        "(SELECT count(*) FROM calls k WHERE k.cell_id=a.cell_id AND k.attempt=a.attempt) AS calls, "
        "(SELECT count(*) FROM spans s WHERE s.cell_id=a.cell_id AND s.attempt=a.attempt "
        " AND s.kind IN ('container', 'adapter_run', 'task_setup', 'cleanup')) AS spans "
        "FROM attempts a"
    )
    for row in per_attempt:
        assert row["calls"] > 0 and row["spans"] == 4, row
    throttled = store.query(
        "SELECT count(*) AS n, sum(outcome = 'rate_limited') AS limited FROM calls "
        "WHERE cell_id LIKE ?",
        (f"{sweep_id}/reference/scripted-throttled/%",),
    )[0]
    assert throttled["n"] == throttled["limited"] > 0
    orphans = store.query(
        "SELECT count(*) AS n FROM calls WHERE cell_id NOT IN (SELECT cell_id FROM cells)"
    )
    assert orphans[0]["n"] == 0
    store.close()

    again = SweepRunner(cfg, tmp_path, listener=Watcher()).run()
    assert (again.ran, again.skipped) == (0, 12), "a finished sweep has nothing left to run"


def _finished(db: Path) -> dict[str, str]:
    if not db.exists():
        return {}
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10)
    try:
        return dict(con.execute("SELECT cell_id, finished_at FROM cells"))
    except sqlite3.OperationalError:
        return {}
    finally:
        con.close()


def test_sigkilled_sweep_resumes_without_loss(tmp_path, sweep_id, docker_client):
    path = tmp_path / "sweep.toml"
    path.write_text(sweep_toml(sweep_id, repeats=1, concurrency=2, attempts=2), encoding="utf-8")
    db = tmp_path / "runs" / sweep_id / "results.db"
    cab = [sys.executable, "-m", "cab", "sweep", str(path), "--out", str(tmp_path / "runs")]
    log = open(tmp_path / "first.log", "w")  # noqa: SIM115
    proc = subprocess.Popen(cab, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                pytest.fail(
                    f"the sweep ended before it was killed: {(tmp_path / 'first.log').read_text()}"
                )
            if _finished(db) and any(
                c.status == "running" for c in _sweep_containers(docker_client, sweep_id)
            ):
                # stop the sweep, then look again: a cell that ended between the look and
                # the kill would have had its container removed by the sweep itself
                os.kill(proc.pid, signal.SIGSTOP)
                if _sweep_containers(docker_client, sweep_id):
                    break
                os.kill(proc.pid, signal.SIGCONT)
            time.sleep(0.2)
        else:
            pytest.fail("no finished cell with another still running within 300 s")
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        log.close()

    before = _finished(db)
    assert 0 < len(before) < 6
    assert _sweep_containers(docker_client, sweep_id), "the killed sweep left its running cell"

    resumed = subprocess.run(cab, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert f"resuming: {len(before)} of 6 cells already finished" in resumed.stdout
    after = _finished(db)
    assert len(after) == 6
    assert {k: after[k] for k in before} == before, "finished cells are neither lost nor redone"
    assert _sweep_containers(docker_client, sweep_id) == []
    with ResultsStore(db) as store:
        rows = store.query("SELECT cell_id, count(*) AS n FROM attempts GROUP BY cell_id")
        for row in rows:
            expected = 2 if "scripted-throttled" in row["cell_id"] else 1
            assert row["n"] == expected, row
        dirs = store.query("SELECT cell_dir FROM cells")
    for row in dirs:
        assert (tmp_path / "runs" / sweep_id / row["cell_dir"] / "cell.json").is_file()
