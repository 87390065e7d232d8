"""Task specs: `tasks/<category>/<name>/task.toml` beside `workspace/`, `tests/`, `solution/`.

`workspace/` is what the agent gets; `tests/` mirrors the workspace layout and is copied
in only to score; `solution/` is the oracle, files mirroring the workspace, copied over it
(expected-refusal tasks have none). See docs/tasks.md.
"""

from __future__ import annotations

import fnmatch
import tomllib
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from runner.errors import TaskSpecError, UnknownNameError

#: The repository's own task suite.
TASKS_DIR = Path(__file__).resolve().parent.parent / "tasks"


class TestSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    command: str = Field(description="shell command run in /workspace with the hidden tests in")
    report: Literal["go-json", "junit", "tap", "jest-json", "libtest", "harbor-reward"] = Field(
        description="the structured output the command produces"
    )
    report_path: str | None = Field(
        None, description="file (relative to the workspace) holding the report; stdout if unset"
    )
    expected_tests: int | None = Field(
        None,
        gt=0,
        description="how many tests the suite must execute (required in task.toml; for an "
        "imported task, the count `cab tasks check` recorded from its oracle, else None)",
    )


class RefusalSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    expected: bool = False
    markers: list[str] = Field(
        default_factory=list, description="phrases that show the agent refused"
    )


class HarborRun(BaseModel):
    """How a Harbor task runs (runner.taskformats.harbor): where the agent works, the
    verifier's limits, the environment's variables and limits."""

    workdir: str = "/app"
    verifier_timeout_s: float = 600
    verifier_env: dict[str, str] = Field(default_factory=dict)
    agent_env: dict[str, str] = Field(default_factory=dict)
    solution_env: dict[str, str] = Field(default_factory=dict)
    cpus: float = 1
    memory_mb: int = 2048
    allow_internet: bool = True
    prebuilt: bool = Field(False, description="[environment].docker_image: used, never built")
    context: Path | None = Field(None, description="environment/ (the image's build context)")


class Task(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str
    title: str
    prompt: str
    language: Literal["go", "python", "javascript", "shell", "rust", "cpp", "java"]
    image: str = Field("toolbox", description="image name from config/images (or a full tag)")
    timeout_s: int = Field(600, gt=0)
    cpus: float | None = Field(None, gt=0, description="container CPUs (config default if unset)")
    memory_mb: int | None = Field(None, ge=64, description="container memory (default: config)")
    pids_limit: int | None = Field(None, ge=16, description="container pids (default: config)")
    allow_internet: bool = Field(
        False,
        description="the task needs the internet (Harbor's allow_internet): granted only when "
        "the user opts into host networking; otherwise the agent stays isolated",
    )
    test: TestSpec
    expected_changes: list[str] = Field(default_factory=list)
    protected_paths: list[str] = Field(default_factory=list)
    allowed_test_config: list[str] = Field(default_factory=list)
    refusal: RefusalSpec = Field(default_factory=RefusalSpec)
    tags: list[str] = Field(default_factory=list)

    # Filled in by the loader, not by the TOML.
    root: Path = Field(default=Path("."), exclude=True)
    source_format: str = Field("cab", exclude=True, description="cab | aider-polyglot | harbor")
    source_path: Path | None = Field(None, exclude=True, description="the folder it came from")
    fingerprint: str | None = Field(None, exclude=True, description="content hash (imported)")
    unsupported: str | None = Field(
        None, exclude=True, description="why this task cannot run here (names what is missing)"
    )
    harbor: HarborRun | None = Field(None, exclude=True, description="a Harbor task's run")
    oracle_unavailable: str | None = Field(
        None, exclude=True, description="why the reference solution cannot run here"
    )

    @field_validator("id")
    @classmethod
    def _id_shape(cls, v: str) -> str:
        parts = v.split("/")
        if len(parts) != 2 or not all(parts):
            raise ValueError("must be 'category/name'")
        return v

    @field_validator("title")
    @classmethod
    def _one_line(cls, v: str) -> str:
        if "\n" in v.strip() or not v.strip():
            raise ValueError("must be one non-empty line")
        return v.strip()

    @property
    def category(self) -> str:
        return self.id.split("/")[0]

    @property
    def name(self) -> str:
        return self.id.split("/")[1]

    @property
    def workspace_dir(self) -> Path:
        return self.root / "workspace"

    @property
    def tests_dir(self) -> Path:
        return self.root / "tests"

    @property
    def solution_dir(self) -> Path:
        return self.root / "solution"

    def hidden_paths(self) -> list[str]:
        """Hidden test files, relative to the workspace they are copied into."""
        if not self.tests_dir.is_dir():
            return []
        return sorted(
            p.relative_to(self.tests_dir).as_posix()
            for p in self.tests_dir.rglob("*")
            if p.is_file()
        )


def load_task(task_dir: Path) -> Task:
    """Load and validate one task folder; errors name the file and the field."""
    task_dir = Path(task_dir).resolve()  # `load_task(Path("."))` must still see the folder names
    spec = task_dir / "task.toml"
    if not spec.is_file():
        raise TaskSpecError(spec, "<file>", "task.toml is missing")
    try:
        data = tomllib.loads(spec.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise TaskSpecError(spec, "<toml>", f"not valid TOML: {exc}") from exc
    try:
        task = Task.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        field = ".".join(str(p) for p in err["loc"]) or "<root>"
        raise TaskSpecError(spec, field, err["msg"]) from exc
    expected_dir = f"{task_dir.parent.name}/{task_dir.name}"
    if task.id != expected_dir:
        raise TaskSpecError(spec, "id", f"is '{task.id}' but the folder is '{expected_dir}'")
    if task.test.expected_tests is None:
        raise TaskSpecError(spec, "test.expected_tests", "Field required")
    task.root = task_dir
    task.source_path = task_dir
    for sub in ("workspace", "tests"):
        if not (task_dir / sub).is_dir():
            raise TaskSpecError(spec, "<folder>", f"{sub}/ is missing beside task.toml")
    return task


def discover(tasks_dir: Path = TASKS_DIR) -> list[Task]:
    """Every task of our own format under `tasks_dir`, sorted by id."""
    return [load_task(p.parent) for p in sorted(tasks_dir.glob("*/*/task.toml"))]


Sources = Path | Sequence[Path]


def discover_all(sources: Sources = TASKS_DIR, *, visible_tests: bool = False) -> list[Task]:
    """Every task of every source (any format: runner.taskformats), sorted by id; an id
    found in two places is an error naming both."""
    from runner.taskformats import load_sources

    listed = [sources] if isinstance(sources, Path | str) else list(sources)
    return load_sources(listed, visible_tests=visible_tests)


def select(
    patterns: list[str] | None, tasks_dir: Sources = TASKS_DIR, *, visible_tests: bool = False
) -> list[Task]:
    """Tasks matching ids, globs (`polyglot/*`) or categories; all when no pattern is given.
    `tasks_dir` is one task source or several."""
    tasks = discover_all(tasks_dir, visible_tests=visible_tests)
    if not patterns:
        return tasks
    chosen: list[Task] = []
    for pat in patterns:
        hits = [t for t in tasks if t.id == pat or t.category == pat or fnmatch.fnmatch(t.id, pat)]
        if not hits:
            known = ", ".join(t.id for t in tasks[:40]) + (", ..." if len(tasks) > 40 else "")
            raise UnknownNameError(f"no task matches '{pat}' (known: {known})")
        chosen.extend(t for t in hits if t not in chosen)
    return chosen


def get_task(task_id: str, tasks_dir: Sources = TASKS_DIR, *, visible_tests: bool = False) -> Task:
    return select([task_id], tasks_dir, visible_tests=visible_tests)[0]
