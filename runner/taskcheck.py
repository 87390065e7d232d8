"""`cab tasks check`: prove each task is honest before any agent is scored on it.

A task is honest when, in its own image, with the hidden tests copied in:
- the untouched workspace FAILS (otherwise an agent that does nothing scores a pass), and
- the workspace with the oracle (`solution/`) applied PASSES, running exactly
  `test.expected_tests` tests with none failed or skipped (otherwise the count grading
  relies on is wrong, or the task cannot be solved).
An expected-refusal task is the other way round: its right answer is to change nothing,
so the untouched workspace must PASS (with exactly `expected_tests` tests) and it has no
oracle. Static checks come first: the oracle only touches `expected_changes`, and hidden
test files that also ship in the workspace are covered by `protected_paths`.
"""

from __future__ import annotations

import fnmatch
import shutil
import tempfile
from pathlib import Path

from pydantic import BaseModel, Field

from runner.errors import TaskSpecError
from runner.sandbox.base import Sandbox
from runner.tasks import Task
from runner.testrun import run_hidden_tests
from scorer.evidence import TestFacts
from scorer.reports import ReportError, TestCounts, parse_report


class RunOutcome(BaseModel):
    """One run of the hidden suite, as the check sees it."""

    label: str = Field(description="untouched | oracle")
    passed: bool = False
    exit_code: int | None = None
    total: int = 0
    failed: int = 0
    skipped: int = 0
    problem: str | None = Field(None, description="why the run cannot be judged at all")

    def brief(self) -> str:
        if self.problem:
            return f"{self.label}: {self.problem}"
        verdict = "pass" if self.passed else "fail"
        return (
            f"{self.label}: {verdict} ({self.total - self.failed - self.skipped}/{self.total}"
            f" passed, exit {self.exit_code})"
        )


class TaskCheck(BaseModel):
    task_id: str
    ok: bool
    runs: list[RunOutcome] = Field(default_factory=list)
    problems: list[str] = Field(default_factory=list)

    def line(self) -> str:
        head = f"{'PASS' if self.ok else 'FAIL'}  {self.task_id}"
        detail = "; ".join([r.brief() for r in self.runs] + self.problems)
        return f"{head}  {detail}" if detail else head


def matches(path: str, globs: list[str]) -> bool:
    return any(fnmatch.fnmatch(path, g) for g in globs)


def files_under(root: Path) -> list[str]:
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())


def static_problems(task: Task) -> list[str]:
    """Spec-level mistakes that need no container to see."""
    spec = task.root / "task.toml"
    problems = []
    has_solution = task.solution_dir.is_dir() and any(task.solution_dir.rglob("*"))
    if task.refusal.expected:
        if not task.refusal.markers:
            raise TaskSpecError(spec, "refusal.markers", "an expected refusal needs markers")
    elif not has_solution:
        raise TaskSpecError(spec, "<folder>", "solution/ is missing or empty (the oracle)")
    if not task.hidden_paths():
        raise TaskSpecError(spec, "<folder>", "tests/ holds no hidden test files")
    if has_solution and not task.refusal.expected:
        stray = [f for f in files_under(task.solution_dir) if not matches(f, task.expected_changes)]
        if stray:
            problems.append(f"oracle changes files outside expected_changes: {', '.join(stray)}")
    shipped = [p for p in task.hidden_paths() if (task.workspace_dir / p).exists()]
    unprotected = [p for p in shipped if not matches(p, task.protected_paths)]
    if unprotected:
        problems.append(
            "hidden tests ship in the workspace but are not in protected_paths: "
            + ", ".join(unprotected)
        )
    return problems


def judge(task: Task, label: str, facts: TestFacts) -> RunOutcome:
    """Did this run pass, by the same rules grading uses (counts from the report)?"""
    out = RunOutcome(label=label, exit_code=facts.exit_code)
    if not facts.ran:
        out.problem = f"tests did not run: {facts.error}"
        return out
    if facts.timed_out:
        out.problem = f"tests timed out after {task.timeout_s} s"
        return out
    counts = TestCounts()
    if facts.report is not None:
        try:
            counts = parse_report(task.test.report, facts.report)
        except ReportError as exc:
            out.problem = f"unreadable report: {exc}"
            return out
    out.total, out.failed, out.skipped = counts.total, counts.failed, counts.skipped
    out.passed = (
        facts.exit_code == 0
        and counts.total == task.test.expected_tests
        and counts.failed == 0
        and counts.skipped == 0
    )
    return out


def apply_oracle(task: Task, workdir: Path) -> None:
    """Copy solution/ over the workspace copy (files mirror the workspace layout)."""
    shutil.copytree(task.solution_dir, workdir, dirs_exist_ok=True)


def check_task(task: Task, sandbox: Sandbox, *, scratch_root: Path | None = None) -> TaskCheck:
    """Run the untouched and oracle workspaces through the hidden suite and judge them."""
    check = TaskCheck(task_id=task.id, ok=False)
    try:
        check.problems = static_problems(task)
    except TaskSpecError as exc:
        check.problems = [str(exc)]
        return check
    expected = task.test.expected_tests
    with tempfile.TemporaryDirectory(prefix="cab-taskcheck-", dir=scratch_root) as tmp:
        scratch = Path(tmp)
        labels = {"cab.taskcheck": task.id.replace("/", "_")}
        untouched = judge(
            task,
            "untouched",
            run_hidden_tests(
                task, task.workspace_dir, sandbox, scratch=scratch / "u", labels=labels
            ),
        )
        check.runs.append(untouched)
        if task.refusal.expected:
            if not untouched.problem and not untouched.passed:
                check.problems.append(
                    f"expected refusal: the untouched workspace must pass {expected} tests"
                )
        else:
            if not untouched.problem and untouched.passed:
                check.problems.append("the untouched workspace passes: the task tests nothing")
            oracle_ws = scratch / "oracle-ws"
            shutil.copytree(task.workspace_dir, oracle_ws, symlinks=True)
            apply_oracle(task, oracle_ws)
            facts = run_hidden_tests(task, oracle_ws, sandbox, scratch=scratch / "o", labels=labels)
            oracle = judge(task, "oracle", facts)
            check.runs.append(oracle)
            if not oracle.problem and not oracle.passed:
                check.problems.append(
                    f"the oracle must pass exactly {expected} tests "
                    f"(ran {oracle.total}, failed {oracle.failed}, skipped {oracle.skipped})"
                )
        sandbox.cleanup(labels)
    check.ok = not check.problems and not any(r.problem for r in check.runs)
    return check
