"""The results store and the leaderboard, on hand-built cells scored by the real scorer.

Each record is what run_cell would write for a cell that passed, failed, or was throttled
before doing any work; the store, the leaderboard, the normalisation and `cab results`
are exercised as a sweep uses them.
"""

from __future__ import annotations

import csv
import io
import json
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pytest

from proxy.records import ModelCall
from runner.record import CellRecord, CellTiming, RunIdentity, cell_id_for
from runner.store import ResultsStore
from runner.store.export import to_csv, to_json
from runner.store.normalise import normalise_sweep
from scorer import score_cell
from scorer.evidence import AgentFacts, Evidence, TaskFacts, TimingFacts
from scorer.evidence import TestFacts as HiddenTests
from scorer.ranking import wilson

T0 = datetime(2026, 5, 31, 20, 0, tzinfo=UTC)


def make_record(
    model: str = "m1",
    task: str = "polyglot/a",
    *,
    outcome: str = "pass",  # pass | fail | throttled
    tokens: int = 1000,
    wall_ms: float = 10_000,
    tui: str = "reference",
    sweep: str = "s1",
) -> CellRecord:
    cell_id = cell_id_for(sweep, tui, model, task)
    if outcome == "throttled":
        calls = [
            ModelCall(
                seq=i + 1,
                cell_id=cell_id,
                started_at=T0 + timedelta(seconds=i),
                ended_at=T0 + timedelta(seconds=i, milliseconds=5),
                status_code=429,
                outcome="rate_limited",
                latency_ms=5,
                retry_after_s=1,
            )
            for i in range(5)
        ]
        agent = AgentFacts(exit_code=1)
    else:
        calls = [
            ModelCall(
                seq=i + 1,
                cell_id=cell_id,
                started_at=T0 + timedelta(seconds=i),
                ended_at=T0 + timedelta(seconds=i, milliseconds=500),
                status_code=200,
                outcome="ok",
                latency_ms=500,
                prompt_tokens=tokens // 4,
                completion_tokens=tokens // 4,
                total_tokens=tokens // 2,
                tokens_source="usage",
            )
            for i in range(2)
        ]
        agent = AgentFacts(exit_code=0)
    evidence = Evidence(
        task=TaskFacts(task_id=task, category=task.split("/")[0]),
        agent=agent,
        tests=HiddenTests(ran=True, exit_code=0 if outcome == "pass" else 1, stdout="ok"),
        timing=TimingFacts(wall_clock_ms=wall_ms, container_active_ms=wall_ms),
        calls=calls,
    )
    record = CellRecord(
        cell_id=cell_id,
        sweep_id=sweep,
        tui=tui,
        model=model,
        task_id=task,
        category=task.split("/")[0],
        title="t",
        prompt="p",
        identity=RunIdentity(cell_id=cell_id, sweep_id=sweep, exit_code=agent.exit_code),
        timing=CellTiming(
            started_at=T0, ended_at=T0 + timedelta(milliseconds=wall_ms), duration=wall_ms / 1000
        ),
        facts=evidence,
    )
    record.spans = []
    record.scores = score_cell(evidence)
    return record


@pytest.fixture
def store(tmp_path):
    s = ResultsStore.for_sweep(tmp_path / "s1")
    yield s
    s.close()


def test_schema_has_the_documented_tables_and_runs_in_wal(store):
    tables = {r["name"] for r in store.query("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"meta", "cells", "attempts", "calls", "spans"} <= tables
    assert store.query("PRAGMA journal_mode")[0]["journal_mode"] == "wal"
    cols = {r["name"] for r in store.query("PRAGMA table_info(cells)")}
    for needed in ("cell_id", "attempts", "infra", "pass", "composite", "sweep_composite"):
        assert needed in cols
    assert store.meta("schema_version") == 1


def test_upsert_is_idempotent_and_calls_spans_join_their_cell(store):
    rec = make_record()
    for _ in range(2):
        store.record_attempt(rec, attempt=1, cell_dir="reference/m1/polyglot/a", final=True)
    assert store.finished_ids() == {rec.cell_id}
    assert len(store.cells()) == 1
    joined = store.query(
        "SELECT c.cell_id, count(k.seq) AS n FROM cells c JOIN calls k USING (cell_id) "
        "GROUP BY c.cell_id"
    )
    assert joined == [{"cell_id": rec.cell_id, "n": 2}]
    assert store.record(rec.cell_id).scores == rec.scores
    row = store.cells()[0]
    assert row["pass"] == 1 and row["total_tokens"] == 1000 and row["infra"] == 0


def test_every_attempt_is_kept_and_the_cell_counts_them(store):
    first = make_record(outcome="throttled")
    second = make_record(outcome="pass")
    store.record_attempt(first, attempt=1, cell_dir="x", final=False)
    assert store.finished_ids() == set(), "an attempt that will be retried is not finished"
    store.move_attempt(first.cell_id, 1, "x/attempts/1")
    store.record_attempt(second, attempt=2, cell_dir="x", final=True)
    rows = store.query("SELECT attempt, verdict, infra, cell_dir FROM attempts ORDER BY attempt")
    assert [(r["attempt"], r["infra"], r["cell_dir"]) for r in rows] == [
        (1, 1, "x/attempts/1"),
        (2, 0, "x"),
    ]
    assert rows[0]["verdict"] == "infra:rate_limit"
    assert store.cells()[0]["attempts"] == 2
    per_attempt = store.query("SELECT attempt, count(*) AS n FROM calls GROUP BY attempt")
    assert [(r["attempt"], r["n"]) for r in per_attempt] == [(1, 5), (2, 2)]
    assert store.record(first.cell_id, attempt=1).verdict == "infra:rate_limit"


def test_forget_unfinished_drops_only_cells_without_a_committed_row(store):
    done = make_record(task="polyglot/a")
    running = make_record(task="polyglot/b", outcome="throttled")
    store.record_attempt(done, attempt=1, cell_dir="a", final=True)
    store.record_attempt(running, attempt=1, cell_dir="b", final=False)
    assert store.forget_unfinished() == 1
    assert {r["cell_id"] for r in store.query("SELECT cell_id FROM attempts")} == {done.cell_id}
    assert {r["cell_id"] for r in store.query("SELECT DISTINCT cell_id FROM calls")} == {
        done.cell_id
    }


def test_a_committed_row_survives_another_connection(tmp_path):
    """What resume relies on: a row committed by one process is seen by the next."""
    s = ResultsStore.for_sweep(tmp_path)
    s.record_attempt(make_record(), attempt=1, cell_dir="a", final=True)
    raw = sqlite3.connect(tmp_path / "results.db")
    assert raw.execute("SELECT count(*) FROM cells").fetchone()[0] == 1
    raw.close()
    s.close()


@pytest.mark.parametrize(
    ("k", "n", "low", "high"),
    [
        (0, 10, 0.0, 0.2775328),
        (5, 10, 0.2365931, 0.7634069),
        (8, 10, 0.4901625, 0.9433178),
        (10, 10, 0.7224672, 1.0),
        (1, 3, 0.0614919, 0.7923404),
    ],
)
def test_wilson_interval_matches_published_values(k, n, low, high):
    lo, hi = wilson(k, n)
    assert lo == pytest.approx(low, abs=1e-6)
    assert hi == pytest.approx(high, abs=1e-6)


def test_wilson_of_no_cells_is_the_whole_range():
    assert wilson(0, 0) == (0.0, 1.0)


def _fill(store):
    cells = [
        make_record("m1", "polyglot/a", tokens=1000, wall_ms=10_000),
        make_record("m1", "polyglot/b", tokens=3000, wall_ms=30_000),
        make_record("m1", "polyglot/c", outcome="fail", tokens=500, wall_ms=50_000),
        make_record("m2", "polyglot/a", tokens=4000, wall_ms=20_000),
        make_record("m2", "polyglot/b", outcome="throttled", wall_ms=5000),
        make_record("m2", "polyglot/c", outcome="throttled", wall_ms=5000),
    ]
    for rec in cells:
        store.record_attempt(rec, attempt=1, cell_dir=rec.cell_id, final=True)
    return cells


def test_leaderboard_counts_infra_apart(store):
    _fill(store)
    rows = {r.model: r for r in store.leaderboard()}
    m1, m2 = rows["m1"], rows["m2"]
    assert (m1.cells, m1.capability_cells, m1.infra_cells) == (3, 3, 0)
    assert m1.pass_rate == pytest.approx(2 / 3)
    assert (m1.pass_rate_low, m1.pass_rate_high) == pytest.approx(wilson(2, 3))
    assert m1.tokens_per_correct_task == pytest.approx((1000 + 3000 + 500) / 2)
    assert m1.median_wall_s == pytest.approx(30.0)
    # m2: two throttled cells are infra, so its capability record is one cell, passed
    assert (m2.cells, m2.capability_cells, m2.infra_cells) == (3, 1, 2)
    assert m2.pass_rate == 1.0
    assert m2.median_wall_s == pytest.approx(20.0)
    assert [r.model for r in store.leaderboard()] == ["m2", "m1"]


def test_sweep_normalisation_is_relative_to_the_best_passing_cell_per_task(store):
    _fill(store)
    assert normalise_sweep(store) == 4  # the two infra cells are left out
    rows = {(r["model"], r["task_id"]): r for r in store.cells()}
    best, other = rows[("m1", "polyglot/a")], rows[("m2", "polyglot/a")]
    assert best["sweep_cost_efficiency"] == 1.0 and best["sweep_latency_efficiency"] == 1.0
    assert other["sweep_cost_efficiency"] == pytest.approx(1000 / 4000)
    assert other["sweep_latency_efficiency"] == pytest.approx(10_000 / 20_000)
    assert other["sweep_composite"] < other["composite"], "the single-cell one is kept apart"
    assert rows[("m2", "polyglot/b")]["sweep_composite"] is None  # infra
    # a later write of the same cell clears its stale sweep composite until renormalised
    store.record_attempt(make_record("m1", "polyglot/a"), attempt=1, cell_dir="x", final=True)
    assert {r["cell_id"]: r for r in store.cells()}[best["cell_id"]]["sweep_composite"] is None


def test_exports_carry_the_same_rows(store):
    _fill(store)
    rows = store.leaderboard()
    data = json.loads(to_json(rows, "s1"))
    assert data["sweep_id"] == "s1"
    assert [r["model"] for r in data["leaderboard"]] == ["m2", "m1"]
    parsed = list(csv.DictReader(io.StringIO(to_csv(rows))))
    assert parsed[1]["model"] == "m1" and float(parsed[1]["pass_rate"]) == pytest.approx(2 / 3)
    assert int(parsed[0]["infra_cells"]) == 2


def test_cab_results_prints_and_exports(tmp_path):
    with ResultsStore.for_sweep(tmp_path / "s1") as s:
        _fill(s)
        normalise_sweep(s)
    cab = [sys.executable, "-m", "cab", "results", str(tmp_path / "s1")]
    table = subprocess.run(cab, capture_output=True, text=True, check=True).stdout
    assert "m1" in table and "67% [21%–94%]" in table
    out = subprocess.run([*cab, "--json"], capture_output=True, text=True, check=True).stdout
    assert {r["model"] for r in json.loads(out)["leaderboard"]} == {"m1", "m2"}
    out = subprocess.run([*cab, "--cells"], capture_output=True, text=True, check=True).stdout
    assert len(list(csv.DictReader(io.StringIO(out)))) == 6
    missing = subprocess.run([*cab[:-1], str(tmp_path / "nope")], capture_output=True, text=True)
    assert missing.returncode == 2 and "no results store" in missing.stderr
