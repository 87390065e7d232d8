"""The governor, absorb mode and fault injection in real Docker sweeps: the reference
agent in its container, the proxy between it and the fake provider's quota."""

from __future__ import annotations

import contextlib
import subprocess
import sys
import uuid

import docker
import pytest

from proxy.fake.quota import QuotaConfig
from report import build_site
from runner.store import ResultsStore
from runner.sweep import SweepRunner
from runner.sweep_config import parse_sweep

pytestmark = pytest.mark.docker

TASK = "polyglot/go-http-handler-fix"


@pytest.fixture
def sweep_id(docker_client):
    sid = f"gov-{uuid.uuid4().hex[:10]}"
    yield sid
    label = {"label": f"cab.sweep_id={sid}"}
    for c in docker_client.containers.list(all=True, sparse=True, filters=label):
        with contextlib.suppress(docker.errors.NotFound):
            c.remove(force=True)


def _sweep(sweep_id: str, model: dict, repeats: int, **extra) -> dict:
    return {
        "sweep_id": sweep_id,
        "tuis": ["reference"],
        "models": [
            {"name": "quota", "endpoint": "embedded", "model_id": "scripted/{task_id}", **model}
        ],
        "tasks": [TASK],
        "repeats": repeats,
        "concurrency": repeats,
        "sandbox": "docker",
        "timeout_s": 180,
        "retry": {"attempts": 2, "backoff_s": 0.1, "backoff_max_s": 0.5},
        **extra,
    }


def _records(tmp_path, sweep_id):
    with ResultsStore.for_sweep(tmp_path / sweep_id) as store:
        return [r for _, r, _ in store.finished()], store.leaderboard()


def test_governor_spreads_concurrent_cells_under_the_quota(tmp_path, sweep_id):
    quota = QuotaConfig(rpm=60, tpm=6000, window_s=4.0, burst=0.1)
    model = {"rpm": 60, "tpm": 6000, "quota_window_s": 4.0}
    cfg = parse_sweep(_sweep(sweep_id, model, repeats=4))
    SweepRunner(cfg, tmp_path, harness_options={"quota": quota}).run()
    records, [row] = _records(tmp_path, sweep_id)
    calls = [c for r in records for c in r.calls]
    assert [r.verdict for r in records] == ["capability"] * 4
    assert all(r.scores and r.scores.pass_rate.pass_ == 1 for r in records)
    assert not [c for c in calls if c.upstream_status == 429], "the provider refused nothing"
    held = [c for c in calls if (c.queued_ms or 0) >= 1]
    assert held, "the governor held calls back to stay inside 6k tokens per 4 s"
    assert sum(r.scores.latency.queued_ms for r in records if r.scores) > 0
    assert (row.quota_hit_rate, row.infra_cells) == (0.0, 0) and row.queued_s > 0
    tokens = sum(c.total_tokens or 0 for c in calls)
    span = (max(c.ended_at for c in calls) - min(c.started_at for c in calls)).total_seconds()
    # paced: never faster than the quota's refill plus one bucket (600 tokens)
    assert tokens <= 600 + span * 6000 / 4.0


def test_absorb_turns_a_429_storm_into_a_slower_pass(tmp_path, sweep_id):
    quota = QuotaConfig(tpm=6000, window_s=2.0, burst=0.1)  # bigger calls than a bucket
    cfg = parse_sweep(_sweep(sweep_id, {"absorb": True}, repeats=3))
    SweepRunner(cfg, tmp_path, harness_options={"quota": quota, "governor": False}).run()
    records, [row] = _records(tmp_path, sweep_id)
    assert [r.verdict for r in records] == ["capability"] * 3
    assert all(r.scores and r.scores.pass_rate.pass_ == 1 for r in records)
    calls = [c for r in records for c in r.calls]
    absorbed = [c for c in calls if c.absorbed]
    assert absorbed, "the provider throttled and the proxy retried"
    assert all(c.upstream_status == 429 and c.outcome == "rate_limited" for c in absorbed)
    assert not [c for c in calls if c.status_code == 429 and not c.absorbed], "no agent saw one"
    for r in records:  # every attempt is on file, linked to the call it served
        seqs = {c.seq: c for c in r.calls}
        for c in r.calls:
            if c.retry_of is not None:
                first = seqs[c.retry_of]
                assert first.absorbed and first.request_hash == c.request_hash
        assert r.scores and r.scores.throttle.absorbed == sum(c.absorbed for c in r.calls)
    assert row.quota_hit_rate and row.quota_hit_rate > 0


def test_injected_faults_are_in_the_record_and_the_verdict(tmp_path, sweep_id):
    model = {"inject": "429:retry_after=1@1;503@3;seed=5"}
    cfg = parse_sweep(_sweep(sweep_id, model, repeats=1))
    SweepRunner(cfg, tmp_path).run()
    [record], [row] = _records(tmp_path, sweep_id)
    injected = [c.injected for c in record.calls if c.injected]
    assert injected == ["429:retry_after=1", "503"]
    assert record.calls[0].status_code == 429 and record.calls[0].retry_after_s == 1
    card = record.scores
    assert card is not None
    assert card.verdict.evidence["injected_faults"] == {"429:retry_after=1": 1, "503": 1}
    assert "Faults were injected" in card.verdict.sentence
    assert card.throttle.injected == {"429:retry_after=1": 1, "503": 1}
    assert record.identity.attempt == 1, "never retried: the injector would serve them again"
    assert (row.injected_cells, row.capability_cells) == (1, 0), "out of the leaderboard"
    build_site(tmp_path / sweep_id, tmp_path / "site")
    [page] = [p for p in (tmp_path / "site").rglob("*.html") if "go-http-handler-fix" in p.name
              or "go-http-handler-fix" in str(p.parent)]  # fmt: skip
    notes = page.read_text(encoding="utf-8").split('id="proxy-notes"')[1].split("</ul>")[0]
    assert "Faults were injected by the proxy (429:retry_after=1 ×1, 503 ×1)" in notes


def test_governor_and_absorb_notes_on_the_cell_page_and_in_diagnose(tmp_path, sweep_id):
    """A cell the governor held back and whose 429s the proxy absorbed says both."""
    quota = QuotaConfig(tpm=6000, window_s=2.0, burst=0.1)
    model = {"absorb": True, "tpm": 6000, "quota_window_s": 2.0}
    cfg = parse_sweep(_sweep(sweep_id, model, repeats=2))
    SweepRunner(cfg, tmp_path, harness_options={"quota": quota}).run()
    records, _ = _records(tmp_path, sweep_id)
    for record in records:
        card = record.scores
        assert card is not None and card.throttle.governor_held > 0
        assert any("governor held" in a for a in card.throttle.advice)
    cell_dir = tmp_path / sweep_id / "reference/quota/polyglot/go-http-handler-fix/r1"
    proc = subprocess.run(
        [sys.executable, "-m", "cab", "diagnose", str(cell_dir)],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "governor held" in proc.stdout
