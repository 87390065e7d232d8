"""A sweep of hundreds of cells: past MAX_TASK_COLUMNS tasks the report's matrix has one
column per dataset/language (passed/cells), not one per task."""

from __future__ import annotations

from pathlib import Path

from report.leaderboard import MAX_TASK_COLUMNS, matrix
from report.load import LoadedCell, load_cells

FIXTURES = Path(__file__).resolve().parent / "fixtures"


def _many(n_per_lang: int) -> list[LoadedCell]:
    base = next(
        c
        for c in load_cells(FIXTURES / "schema_v4")
        if not c.record.infra and c.record.scores and c.record.scores.pass_rate.pass_ == 1
    )
    cells = []
    for lang in ("go", "rust", "cpp"):
        for i in range(n_per_lang):
            record = base.record.model_copy(
                update={"task_id": f"aider-polyglot/{lang}-ex{i}", "category": "aider-polyglot"}
            )
            cells.append(LoadedCell(record=record, rel=f"x/{lang}/{i}"))
    return cells


def test_a_big_sweep_groups_the_matrix_by_dataset_and_language():
    cells = _many(MAX_TASK_COLUMNS // 2)
    grid = matrix(cells, {})
    assert grid["tasks"] == ["aider-polyglot/cpp", "aider-polyglot/go", "aider-polyglot/rust"]
    assert grid["unit"].startswith("dataset/language")
    (row,) = grid["rows"]
    n = MAX_TASK_COLUMNS // 2
    assert [e["label"] for e in row["entries"]] == [f"{n}/{n}"] * 3


def test_a_small_sweep_keeps_a_column_per_task():
    grid = matrix(_many(3), {})
    assert len(grid["tasks"]) == 9 and grid["unit"] == "task"
