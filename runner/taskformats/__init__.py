"""Task sources: a folder the user points `cab` at, in any of three formats, recognised by
its files (docs/tasks.md):

- ours: `<category>/<name>/task.toml` beside `workspace/`, `tests/`, `solution/`;
- aider-polyglot / Exercism: `<lang>/exercises/practice/<name>/` with `.meta/config.json`
  (a checkout of the benchmark, one language's track, or one exercise);
- Harbor: `<task>/task.toml` beside `instruction.md` (a dataset folder, or one task).

Every task gets an id `category/name`; an id that two sources (or two folders) give is an
error naming both paths, never a silent shadowing.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from runner.errors import TaskSpecError
from runner.tasks import Task, discover

__all__ = ["detect", "load_source", "load_sources"]


def detect(path: Path) -> str:
    """Which format a folder holds: 'cab', 'aider-polyglot' or 'harbor'. Raises when none."""
    from runner.taskformats import harbor, polyglot

    path = Path(path)
    if not path.is_dir():
        raise TaskSpecError(path, "<folder>", "task source is not a folder")
    if any(path.glob("*/*/task.toml")) and not harbor.is_harbor_dataset(path):
        return "cab"
    if polyglot.exercise_dirs(path):
        return "aider-polyglot"
    if harbor.task_dirs(path):
        return "harbor"
    raise TaskSpecError(
        path,
        "<folder>",
        "no tasks recognised: expected <category>/<name>/task.toml (ours), "
        "<lang>/exercises/practice/<name>/.meta/config.json (aider-polyglot) or "
        "<task>/task.toml + instruction.md (Harbor)",
    )


def load_source(path: Path, *, visible_tests: bool = False) -> list[Task]:
    """Every task of one source folder, in its own format. `visible_tests`: aider-polyglot
    exercises keep their tests in the workspace, read-only (aider's own mode)."""
    from runner.taskformats import harbor, polyglot

    fmt = detect(path)
    if fmt == "cab":
        return discover(Path(path))
    if fmt == "aider-polyglot":
        return polyglot.load(Path(path), visible_tests=visible_tests)
    return harbor.load(Path(path))


def load_sources(sources: Sequence[Path | str], *, visible_tests: bool = False) -> list[Task]:
    """The tasks of every source, sorted by id; an id given twice is an error naming both."""
    seen: dict[str, Task] = {}
    unique = list(dict.fromkeys(Path(s).resolve() for s in sources))  # a folder named twice
    for source in unique:
        for task in load_source(source, visible_tests=visible_tests):
            if task.id in seen:
                first = seen[task.id]
                raise TaskSpecError(
                    task.source_path or task.root,
                    "id",
                    f"task id '{task.id}' is also given by {first.source_path or first.root}: "
                    "two sources may not give the same id (drop one --tasks-dir/task_sources)",
                )
            seen[task.id] = task
    return [seen[k] for k in sorted(seen)]
