"""Pass rates per dataset and language (scorer/slices.py)."""

from __future__ import annotations

from scorer.ranking import CellResult
from scorer.slices import language_of, slice_rows


def _cell(tui: str, task_id: str, passed: float, infra: bool = False) -> CellResult:
    return CellResult(
        tui=tui, model="m", task_id=task_id, infra=infra, pass_=passed, composite=passed
    )


def test_language_comes_from_the_task_name():
    assert language_of("aider-polyglot/go-bank-account") == "go"
    assert language_of("aider-polyglot/javascript-two-bucket") == "javascript"
    assert language_of("partial/py-text-utils") == "python"
    assert language_of("tasks-harbor/word-stats") == "other"


def test_one_row_per_language_with_the_leaderboard_rules():
    cells = [
        _cell("oracle", "aider-polyglot/go-a", 1),
        _cell("oracle", "aider-polyglot/go-b", 0),
        _cell("oracle", "aider-polyglot/rust-a", 1),
        _cell("oracle", "aider-polyglot/rust-b", 0, infra=True),
    ]
    rows = {(r.dataset, r.language): r for r in slice_rows(cells)}
    assert set(rows) == {("aider-polyglot", "go"), ("aider-polyglot", "rust")}
    assert rows[("aider-polyglot", "go")].pass_rate == 0.5
    rust = rows[("aider-polyglot", "rust")]
    assert (rust.pass_rate, rust.capability_cells, rust.infra_cells) == (1, 1, 1)
