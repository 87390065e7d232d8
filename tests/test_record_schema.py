"""cell.json files written before today's format still load, score and render.

tests/fixtures/schema_v1/ holds two real cells written by `cab run-cell` at schema_version
1 (a passing one and a throttled one). They are never edited: a format change adds a
migration step to runner/record.py and a new fixture folder, and these tests keep
proving every older file still works (docs/records.md, "Versions").
"""

from __future__ import annotations

import itertools
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from runner.record import SCHEMA_VERSION, CellRecord
from scorer import score_cell
from scorer.evidence import Evidence
from scorer.throttle import account

V1 = Path(__file__).parent / "fixtures" / "schema_v1"
PASSING = "reference/scripted/polyglot/go-http-handler-fix"
THROTTLED = "reference/scripted-throttled/polyglot/go-http-handler-fix"


def cab(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "cab", *args], capture_output=True, text=True, timeout=120
    )


def _raw(rel: str) -> dict:
    return json.loads((V1 / rel / "cell.json").read_text(encoding="utf-8"))


def assert_same_verdict(new: dict, old: dict) -> None:
    """v4 re-judges verdicts by the infra-streak rule: on these cells it gives the same
    verdict and sentence, and its evidence keeps every old fact (adding the streak's)."""
    assert {k: v for k, v in new.items() if k != "evidence"} == {
        k: v for k, v in old.items() if k != "evidence"
    }
    assert {k: new["evidence"].get(k) for k in old["evidence"]} == old["evidence"]


@pytest.mark.parametrize("rel", [PASSING, THROTTLED])
def test_v1_cell_loads_typed_with_its_scores_unchanged(rel):
    raw = _raw(rel)
    assert raw["schema_version"] == 1 and "throttle" not in raw["scores"]
    record = CellRecord.read(V1 / rel)
    assert record.schema_version == SCHEMA_VERSION
    card = record.scores
    assert card is not None
    dumped = card.model_dump(mode="json")
    # every number the v1 file recorded reads back the same, typed (v4 adds the
    # latency axis's queued_ms, 0 for a cell recorded before the governor)
    assert dumped["latency"].pop("queued_ms") == 0
    assert {k: v for k, v in dumped.items() if k not in ("throttle", "verdict")} == {
        k: v for k, v in raw["scores"].items() if k != "verdict"
    }
    assert_same_verdict(dumped["verdict"], raw["scores"]["verdict"])
    # the migration filled in the throttle account from the recorded calls
    assert card.throttle == account(record.calls)
    assert card.throttle.throttled_ms == card.latency.throttled_wait_ms


def test_v1_cells_score_as_they_were_scored():
    for rel in (PASSING, THROTTLED):
        record = CellRecord.read(V1 / rel)
        rescored = score_cell(record.facts).model_dump(mode="json")
        assert rescored == record.scores.model_dump(mode="json"), rel
    throttled = CellRecord.read(V1 / THROTTLED)
    assert throttled.verdict == "infra:rate_limit" and throttled.infra
    assert CellRecord.read(V1 / PASSING).verdict == "capability"


def test_cab_score_upgrades_a_v1_cell_and_writes_it_as_the_runner_does(tmp_path):
    cell = tmp_path / "cell"
    shutil.copytree(V1 / THROTTLED, cell)
    proc = cab("score", str(cell))
    assert proc.returncode == 0, proc.stderr
    text = (cell / "cell.json").read_text(encoding="utf-8")
    record = CellRecord.read(cell)
    assert text == record.to_json()  # byte for byte what CellRecord.write writes
    data = json.loads(text)
    assert data["schema_version"] == SCHEMA_VERSION
    assert_same_verdict(data["scores"]["verdict"], _raw(THROTTLED)["scores"]["verdict"])
    assert data["scores"]["throttle"]["throttled"] == 5
    # the raw facts are untouched (fields added since with their defaults)
    assert data["facts"] == Evidence.model_validate(_raw(THROTTLED)["facts"]).model_dump(
        mode="json"
    )


def test_cab_report_renders_a_v1_sweep(tmp_path):
    sweep = tmp_path / "fixture-v1"
    shutil.copytree(V1, sweep)
    proc = cab("report", str(sweep), "--out", str(tmp_path / "site"))
    assert proc.returncode == 0, proc.stderr
    site = tmp_path / "site"
    passing = (site / f"cell/{PASSING}.html").read_text(encoding="utf-8")
    assert 'data-verdict="capability"' in passing and 'id="throttle"' not in passing
    html = (site / f"cell/{THROTTLED}.html").read_text(encoding="utf-8")
    assert 'data-verdict="infra:rate_limit"' in html and "Watch it get throttled" in html
    index = (site / "index.html").read_text(encoding="utf-8")
    assert "reference × scripted" in index and "scripted-throttled" in index


def test_throttle_wait_on_the_cell_page_is_the_scorers(tmp_path):
    """One throttle account: the page shows the scorer's throttled_wait_ms, not a sum of
    its own (it used to add the gaps from each 429's end, which left out the 429s)."""
    sweep = tmp_path / "fixture-v1"
    shutil.copytree(V1, sweep)
    assert cab("report", str(sweep), "--out", str(tmp_path / "site")).returncode == 0
    html = (tmp_path / "site" / f"cell/{THROTTLED}.html").read_text(encoding="utf-8")
    shown = re.search(r'<span id="throttled-wait" data-ms="([0-9.]+)">([0-9.]+) s</span>', html)
    assert shown, "the throttle section names its wait"
    card = CellRecord.read(V1 / THROTTLED).scores
    assert float(shown.group(1)) == card.latency.throttled_wait_ms
    assert float(shown.group(1)) == card.verdict.evidence["throttled_wait_ms"]
    assert shown.group(2) == f"{card.latency.throttled_wait_ms / 1000:.2f}"
    # what the page used to show: the gaps after each 429, without the 429s themselves
    calls = sorted(CellRecord.read(V1 / THROTTLED).calls, key=lambda c: c.started_at)
    gaps = sum(
        (b.started_at - a.ended_at).total_seconds() * 1000 for a, b in itertools.pairwise(calls)
    )
    assert card.latency.throttled_wait_ms > gaps  # the two accounts did disagree here


def test_a_newer_schema_version_is_refused_by_name(tmp_path):
    data = _raw(PASSING)
    data["schema_version"] = SCHEMA_VERSION + 1
    (tmp_path / "cell.json").write_text(json.dumps(data))
    with pytest.raises(ValueError, match=f"schema_version {SCHEMA_VERSION + 1}"):
        CellRecord.read(tmp_path)


FIXTURES = sorted(Path(__file__).parent.joinpath("fixtures").glob("schema_v*"))


@pytest.mark.parametrize("folder", FIXTURES, ids=lambda p: p.name)
def test_every_older_format_loads_scores_and_renders(folder, tmp_path):
    """Each fixture version: both cells load typed, rescore to what they recorded (the
    passing one capability, the throttled one infra), and `cab report` renders them."""
    verdicts = {}
    for rel in (PASSING, THROTTLED):
        raw = json.loads((folder / rel / "cell.json").read_text(encoding="utf-8"))
        assert raw["schema_version"] == int(folder.name.removeprefix("schema_v"))
        record = CellRecord.read(folder / rel)
        assert record.schema_version == SCHEMA_VERSION and record.scores is not None
        assert record.scores.pass_rate.pass_ == raw["scores"]["pass_rate"]["pass"]
        verdicts[rel] = record.verdict
    assert verdicts == {PASSING: "capability", THROTTLED: "infra:rate_limit"}
    shutil.copytree(folder, tmp_path / "sweep")
    proc = cab("report", str(tmp_path / "sweep"), "--out", str(tmp_path / "site"))
    assert proc.returncode == 0, proc.stderr
    pages = list((tmp_path / "site").rglob("*.html"))
    assert len(pages) >= 3  # the index and both cell pages


PRE_V4 = [f for f in FIXTURES if int(f.name.removeprefix("schema_v")) < 4]


@pytest.mark.parametrize("folder", PRE_V4, ids=lambda p: p.name)
def test_older_verdicts_are_rejudged_by_the_streak_rule_on_read(folder):
    """v4: the verdict is re-judged from the recorded facts (which lack the sandbox facts
    v4 added: the rule rebuilds the agent's window from its calls and wall clock)."""
    for rel in (PASSING, THROTTLED):
        raw = json.loads((folder / rel / "cell.json").read_text(encoding="utf-8"))
        record = CellRecord.read(folder / rel)
        assert record.scores is not None
        if raw["schema_version"] < 4:  # written before v4 recorded the sandbox's facts
            assert "budget_s" not in raw["facts"]["agent"]
            assert record.facts.agent.budget_s is None
        dumped = record.scores.model_dump(mode="json")
        assert_same_verdict(dumped["verdict"], raw["scores"]["verdict"])
        assert score_cell(record.facts).model_dump(mode="json")["verdict"] == dumped["verdict"]


@pytest.mark.parametrize("folder", FIXTURES, ids=lambda p: p.name)
def test_what_the_governor_did_is_read_from_the_calls(folder):
    """v5: the latency axis and the throttle account say what the proxy's governor did,
    from the recorded calls. Cells from before the governor (v1, v2) were never held; from v3 on the proxy
    already held a throttled cell's retries for the provider's Retry-After."""
    version = int(folder.name.removeprefix("schema_v"))
    for rel in (PASSING, THROTTLED):
        record = CellRecord.read(folder / rel)
        card = record.scores
        assert card is not None
        held = [c for c in record.calls if (c.queued_ms or 0) >= 1]
        assert (card.latency.queued_ms > 0) == bool(held)
        assert card.throttle.governor_held == len(held)
        assert card.throttle.absorbed == 0 and card.throttle.injected == {}
        assert "injected_faults" not in card.verdict.evidence
        if version < 3 or rel == PASSING:
            assert held == []
