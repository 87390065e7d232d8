"""Pass rates per dataset and language: the leaderboard's rows split by what the tasks are.

A sweep over a benchmark of several languages (the aider polyglot set: C++, Go, Java,
JavaScript, Python, Rust) is read per language as much as overall. A slice is one agent
CLI × model × dataset × language; its row is the leaderboard's own (`ranking.pair_row`),
so the counting rules (infra and injected cells apart, Wilson intervals) are the same.

The dataset is the task id's category; the language is read from the task's name, which
carries it first for imported sets (`aider-polyglot/go-bank-account`) and for our own
starter tasks (`polyglot/go-http-handler-fix`, `partial/py-text-utils`); a name without a
known prefix is `other`.
"""

from __future__ import annotations

from scorer.ranking import CellResult, LeaderRow, pair_row

#: Name prefixes that say the language.
LANGUAGE_PREFIXES = {
    "go": "go",
    "py": "python",
    "python": "python",
    "js": "javascript",
    "javascript": "javascript",
    "ts": "typescript",
    "rust": "rust",
    "rs": "rust",
    "cpp": "cpp",
    "java": "java",
    "sh": "shell",
}


class SliceRow(LeaderRow):
    dataset: str
    language: str


def language_of(task_id: str) -> str:
    name = task_id.split("/", 1)[-1]
    return LANGUAGE_PREFIXES.get(name.split("-", 1)[0], "other")


def dataset_of(task_id: str) -> str:
    return task_id.split("/", 1)[0]


def slice_rows(cells: list[CellResult], robustness: bool = False) -> list[SliceRow]:
    """One row per tui × model × dataset × language, in that order."""
    groups: dict[tuple[str, str, str, str], list[CellResult]] = {}
    for c in cells:
        key = (c.tui, c.model, dataset_of(c.task_id), language_of(c.task_id))
        groups.setdefault(key, []).append(c)
    return [
        SliceRow(
            dataset=dataset, language=lang, **pair_row(tui, model, group, robustness).model_dump()
        )
        for (tui, model, dataset, lang), group in sorted(groups.items())
    ]
