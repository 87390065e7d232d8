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

An imported task (aider-polyglot, Harbor) has no declared count: its oracle must run at
least one test with none failed or skipped, and the count it ran is recorded as the
task's expected count (runner.taskformats.cache). A task that cannot run here (its
`unsupported` says what is missing) is reported as SKIP, never as honest.
"""

from __future__ import annotations

import fnmatch
import os
import shutil
import tempfile
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path

from pydantic import BaseModel, Field

from runner.errors import RunnerError, TaskSpecError
from runner.sandbox.base import Sandbox
from runner.taskformats.cache import record_count
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
    reward: float | None = Field(None, description="a Harbor verifier's reward")

    def brief(self) -> str:
        if self.problem:
            return f"{self.label}: {self.problem}"
        verdict = "pass" if self.passed else "fail"
        if self.reward is not None:
            return f"{self.label}: {verdict} (reward {self.reward:g})"
        return (
            f"{self.label}: {verdict} ({self.total - self.failed - self.skipped}/{self.total}"
            f" passed, exit {self.exit_code})"
        )


class TaskCheck(BaseModel):
    task_id: str
    ok: bool
    runs: list[RunOutcome] = Field(default_factory=list)
    problems: list[str] = Field(default_factory=list)
    unsupported: str | None = Field(None, description="why the task cannot run here")
    oracle_unavailable: str | None = Field(None, description="why the oracle cannot run here")
    expected_tests: int | None = Field(None, description="the count the oracle must run")
    seconds: float | None = Field(None, description="wall time of the check")

    @property
    def status(self) -> str:
        if not self.ok and not self.problems_beyond_oracle and self.oracle_unavailable:
            return "SKIP"
        return "SKIP" if self.unsupported else "PASS" if self.ok else "FAIL"

    @property
    def problems_beyond_oracle(self) -> bool:
        return bool(self.problems) or any(r.problem for r in self.runs)

    def line(self) -> str:
        head = f"{self.status}  {self.task_id}"
        if self.unsupported:
            return f"{head}  unsupported here: {self.unsupported}"
        notes = (
            [f"oracle unavailable: {self.oracle_unavailable}"] if self.oracle_unavailable else []
        )
        detail = "; ".join([r.brief() for r in self.runs] + self.problems + notes)
        if self.seconds is not None:
            detail += f" [{self.seconds:.1f}s]"
        return f"{head}  {detail}" if detail else head


def matches(path: str, globs: list[str]) -> bool:
    return any(fnmatch.fnmatch(path, g) for g in globs)


def files_under(root: Path) -> list[str]:
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())


def static_problems(task: Task) -> list[str]:
    """Spec-level mistakes that need no container to see."""
    spec = task.root / "task.toml" if task.source_format == "cab" else task.source_path or task.root
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
    shipped = [
        p for p in task.hidden_paths() if task.harbor is None and (task.workspace_dir / p).exists()
    ]
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
            if facts.exit_code in (0, None):
                out.problem = f"unreadable report: {exc}"
            return out  # a failed run with no report (a build error) simply failed
    out.total, out.failed, out.skipped = counts.total, counts.failed, counts.skipped
    out.reward = counts.score
    expected = task.test.expected_tests
    out.passed = (
        facts.exit_code == 0
        and (counts.total == expected if expected is not None else counts.total > 0)
        and counts.failed == 0
        and counts.skipped == 0
    )
    return out


def apply_oracle(task: Task, workdir: Path) -> None:
    """Copy solution/ over the workspace copy (files mirror the workspace layout)."""
    shutil.copytree(task.solution_dir, workdir, dirs_exist_ok=True)


def _oracle(task: Task, workdir: Path, sandbox: Sandbox, labels: dict[str, str]) -> str | None:
    """Apply the oracle to `workdir`: copy the solution files, or (Harbor) run solve.sh in
    the task's image. Returns why it could not run, or None."""
    if task.harbor is None:
        apply_oracle(task, workdir)
        return None
    from runner.taskformats.harbor_run import run_solution

    result = run_solution(task, workdir, sandbox, labels)
    if result.error or result.exit_code != 0 or result.timed_out:
        why = result.error or f"exit {result.exit_code}" + (
            " (timed out)" if result.timed_out else ""
        )
        return f"solution/solve.sh failed: {why}: {result.stderr[-300:].strip()}"
    return None


def _tests(
    task: Task, workdir: Path, sandbox: Sandbox, scratch: Path, labels: dict[str, str]
) -> TestFacts:
    if task.harbor is None:
        return run_hidden_tests(task, workdir, sandbox, scratch=scratch, labels=labels)
    from runner.taskformats.harbor_run import run_verifier

    return run_verifier(task, workdir, sandbox, scratch=scratch, labels=labels)


def check_task(task: Task, sandbox: Sandbox, *, scratch_root: Path | None = None) -> TaskCheck:
    """Run the untouched and oracle workspaces through the hidden suite and judge them;
    for an imported task, record the count its oracle ran."""
    started = time.monotonic()
    if task.unsupported:
        return TaskCheck(task_id=task.id, ok=False, unsupported=task.unsupported)
    check = _check(task, sandbox, scratch_root)
    check.seconds = round(time.monotonic() - started, 1)
    oracle = next((r for r in check.runs if r.label == "oracle"), None)
    if check.ok and oracle is not None and task.fingerprint and task.source_format != "cab":
        record_count(task.id, task.fingerprint, oracle.total)
        check.expected_tests = oracle.total
    else:
        check.expected_tests = task.test.expected_tests
    return check


def check_tasks(
    tasks: list[Task],
    sandbox: Sandbox,
    *,
    jobs: int = 1,
    on_result: Callable[[TaskCheck], None] | None = None,
) -> list[TaskCheck]:
    """Check many tasks, `jobs` at a time (slow languages first), in the input order."""
    order = sorted(range(len(tasks)), key=lambda i: -SLOW.get(tasks[i].language, 0))
    results: dict[int, TaskCheck] = {}
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        futures = {pool.submit(check_task, tasks[i], sandbox): i for i in order}
        for fut in as_completed(futures):
            results[futures[fut]] = fut.result()
            if on_result is not None:
                on_result(results[futures[fut]])
    return [results[i] for i in range(len(tasks))]


#: Rough relative cost of a language's check (C++ compiles Catch; Rust compiles tests).
SLOW = {"cpp": 3, "rust": 2, "javascript": 1}


def check_labels(task: Task) -> dict[str, str]:
    """The labels of this check's containers. cab.pid and cab.run keep a check's cleanup
    off the containers of another check of the same task running at the same time (CI
    checks the suite while the tests check it too); cab.pid lets a caller find them."""
    return {
        "cab.taskcheck": task.id.replace("/", "_"),
        "cab.pid": str(os.getpid()),
        "cab.run": uuid.uuid4().hex[:12],
    }


def _check(task: Task, sandbox: Sandbox, scratch_root: Path | None) -> TaskCheck:
    check = TaskCheck(task_id=task.id, ok=False)
    try:
        check.problems = static_problems(task)
        if task.harbor is not None:
            from runner.taskformats.harbor_run import ensure_image

            ensure_image(task, emit=lambda _text: None)
    except RunnerError as exc:
        check.problems = [str(exc)]
        return check
    expected = task.test.expected_tests
    with tempfile.TemporaryDirectory(prefix="cab-taskcheck-", dir=scratch_root) as tmp:
        scratch = Path(tmp)
        labels = check_labels(task)
        untouched = judge(
            task,
            "untouched",
            _tests(task, task.workspace_dir, sandbox, scratch / "u", labels),
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
            if task.oracle_unavailable:
                check.oracle_unavailable = task.oracle_unavailable
                sandbox.cleanup(labels)
                return check
            oracle_ws = scratch / "oracle-ws"
            shutil.copytree(task.workspace_dir, oracle_ws, symlinks=True)
            failure = _oracle(task, oracle_ws, sandbox, labels)
            oracle = (
                RunOutcome(label="oracle", problem=failure)
                if failure
                else judge(task, "oracle", _tests(task, oracle_ws, sandbox, scratch / "o", labels))
            )
            check.runs.append(oracle)
            if not oracle.problem and not oracle.passed:
                want = f"exactly {expected}" if expected is not None else "every one of its"
                check.problems.append(
                    f"the oracle must pass {want} tests "
                    f"(ran {oracle.total}, failed {oracle.failed}, skipped {oracle.skipped})"
                )
        sandbox.cleanup(labels)
    check.ok = not check.problems and not any(r.problem for r in check.runs)
    return check
