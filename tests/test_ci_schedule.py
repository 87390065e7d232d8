"""The xdist schedule in tests/conftest.py names real modules (a renamed module would
silently lose its place: spread tests run one after another, a slow one starts last)."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import SLOW_FIRST, SPREAD, schedule_scope, slow_rank

ROOT = Path(__file__).resolve().parents[1]


def test_every_scheduled_module_exists():
    for entry in (*SPREAD, *SLOW_FIRST):
        assert (ROOT / entry.split("::", 1)[0]).exists(), entry


def test_spread_modules_are_split_by_test_and_others_kept_whole():
    spread = "tests/docker/test_clis.py::test_cli_solves_the_task_through_the_proxy[aider]"
    assert schedule_scope(spread) == spread
    kept = "tests/docker/test_verdict_corpus.py::test_scenario_verdict[healthy]"
    assert schedule_scope(kept) == "tests/docker/test_verdict_corpus.py"
    assert slow_rank(SLOW_FIRST[0]) == 0 and slow_rank("tests/test_x.py::t") == len(SLOW_FIRST)
