"""Run a task's hidden tests on a fresh copy of the post-agent workspace.

Why a copy and an overlay: the agent's workspace is evidence (its diff is scored) and must
not change, and the agent must not be able to influence grading by what it left behind.
So the hidden tests are copied in fresh over whatever the agent did to them (edited,
weakened, deleted, replaced by a symlink), a report file the agent may have planted is
removed before the run, and the tests run with no network in the task's own image.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from runner import images
from runner.isolation import container_limits
from runner.sandbox.base import WORKSPACE, RunSpec, Sandbox
from runner.tasks import Task
from scorer.evidence import TestFacts
from scorer.reports import go_text

#: Tails of stdout/stderr kept in the evidence (the full text goes to log_path).
TAIL_BYTES = 16 * 1024
#: A structured report bigger than this is cut (from the end: its start holds the header).
REPORT_LIMIT = 8 * 1024 * 1024


def tail_bytes(text: str, limit: int = TAIL_BYTES) -> str:
    """The last `limit` bytes of `text` as UTF-8, never splitting a character."""
    data = text.encode("utf-8", "replace")
    if len(data) <= limit:
        return text
    return data[-limit:].decode("utf-8", "ignore")


def _clear(path: Path) -> None:
    """Remove whatever sits at `path` (file, symlink or folder) so a fresh copy can go there."""
    if path.is_symlink() or path.is_file():
        path.unlink()
    elif path.is_dir():
        shutil.rmtree(path)


def _safe_parents(root: Path, rel: Path) -> None:
    """Make every folder on the way to root/rel a real folder inside root: a symlinked
    folder left by the agent would otherwise send the copy (or the run) outside it."""
    here = root
    for part in rel.parts[:-1]:
        here = here / part
        if here.is_symlink() or (here.exists() and not here.is_dir()):
            _clear(here)
        here.mkdir(exist_ok=True)


def prepare_test_workspace(task: Task, post_agent_workspace: Path, dest: Path) -> Path:
    """dest := post-agent workspace + hidden tests (fresh) - any stale report file."""
    if dest.exists() or dest.is_symlink():
        _clear(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copytree(post_agent_workspace, dest, symlinks=True)
    for rel in task.hidden_paths():
        target = dest / rel
        _safe_parents(dest, Path(rel))
        _clear(target)
        shutil.copy2(task.tests_dir / rel, target)
    if task.test.report_path:
        _safe_parents(dest, Path(task.test.report_path))
        _clear(dest / task.test.report_path)
    return dest


def read_report(task: Task, workdir: Path, stdout: str) -> str | None:
    """The structured report: stdout, or the report file (a regular file, never a link)."""
    if not task.test.report_path:
        text = stdout
    else:
        path = workdir / task.test.report_path
        if path.is_symlink() or not path.is_file():
            return None
        text = path.read_bytes()[:REPORT_LIMIT].decode("utf-8", "replace")
    text = text[:REPORT_LIMIT]
    return text if text.strip() else None


def run_hidden_tests(
    task: Task,
    post_agent_workspace: Path,
    sandbox: Sandbox,
    *,
    scratch: Path,
    labels: dict[str, str] | None = None,
    log_path: Path | None = None,
    network_mode: str = "none",
) -> TestFacts:
    """Copy, overlay the hidden tests, run the task's test command in its image with no
    network, and return what happened. Never raises for the tests' own failure.
    A Harbor task runs its own verifier (runner/taskformats/harbor_run.py)."""
    if task.harbor is not None:
        from runner.taskformats.harbor_run import run_verifier

        return run_verifier(
            task, post_agent_workspace, sandbox, scratch=scratch, labels=labels, log_path=log_path
        )
    workdir = prepare_test_workspace(task, Path(post_agent_workspace), Path(scratch) / "workspace")
    spec = RunSpec(
        image=images.resolve(task.image),
        command=["bash", "-c", task.test.command],
        workspace=workdir,
        workdir=WORKSPACE,
        env={"PYTHONDONTWRITEBYTECODE": "1", "NO_COLOR": "1"},
        network_mode=network_mode,
        timeout_s=task.timeout_s,
        **container_limits(task),
        labels={**(labels or {}), "cab.stage": "hidden_tests"},
        log_path=log_path,
    )
    result = sandbox.run(spec)
    if result.error is not None:
        return TestFacts(ran=False, error=result.error, stderr=tail_bytes(result.stderr))
    report = read_report(task, workdir, result.stdout)
    stdout = go_text(result.stdout) if task.test.report == "go-json" else result.stdout
    error = None
    if report is None:
        where = task.test.report_path or "stdout"
        error = f"the test command left no {task.test.report} report in {where}"
    return TestFacts(
        ran=True,
        exit_code=result.exit_code,
        timed_out=result.timed_out,
        stdout=tail_bytes(stdout),
        stderr=tail_bytes(result.stderr),
        report=report,
        error=error,
    )
