"""Running a Harbor task: its image, its workspace (the image's WORKDIR), its oracle
(solution/solve.sh) and its verifier (tests/test.sh writing /logs/verifier/reward.*).

The agent and the verifier run in separate containers over the same workspace folder,
mounted at the task's WORKDIR: what the agent leaves there is what the verifier sees.
Harbor runs the verifier in the agent's own container, so changes an agent makes outside
WORKDIR (installed packages, /etc) do not reach our verifier (docs/tasks.md).
"""

from __future__ import annotations

import io
import shutil
import tarfile
from collections.abc import Callable
from pathlib import Path

from runner.errors import SandboxError
from runner.sandbox.base import Mount, RunResult, RunSpec, Sandbox
from runner.taskformats.harbor import LOGS_DIR, TESTS_DIR
from runner.tasks import HarborRun, Task
from scorer.evidence import TestFacts

#: Marks a workspace folder as filled from the image (an empty WORKDIR is valid).
FILLED = ".cab-filled"
TAIL = 16 * 1024


def run_of(task: Task) -> HarborRun:
    if task.harbor is None:
        raise SandboxError(f"{task.id} is not a Harbor task")
    return task.harbor


def ensure_image(task: Task, emit: Callable[[str], None] | None = None) -> str:
    """The task's image, built from environment/ when missing ([environment].docker_image
    must be present locally: nothing is pulled); its WORKDIR is copied out as the
    workspace the first time. Returns the tag."""
    from runner import images

    run = run_of(task)
    if task.unsupported:
        raise SandboxError(f"{task.id}: {task.unsupported}")
    if images.digest(task.image) is None:
        if run.prebuilt:
            raise SandboxError(
                f"{task.id}: [environment].docker_image {task.image} is not present locally "
                "and nothing is pulled here: load or build it first (docker load / docker build)"
            )
        assert run.context is not None
        spec = images.ImageSpec(tag=task.image, dockerfile=str(run.context))
        if emit is None:
            images.build(["task"], specs={"task": spec})
        else:
            images.build(["task"], specs={"task": spec}, emit=emit)
    _fill_workspace(task, run)
    return task.image


def prepare_task_image(task: Task, sandbox: Sandbox) -> None:
    """Before a cell: a Harbor task's image is built and its workspace taken out of it
    (Docker only); other tasks need nothing here."""
    if task.harbor is None:
        return
    if not sandbox.isolated:
        raise SandboxError(f"{task.id}: Harbor tasks run in Docker only (--sandbox docker)")
    ensure_image(task, emit=lambda _text: None)


def task_workdir(task: Task, workspace: Path) -> tuple[str, list[Mount], dict[str, str]]:
    """Where the agent works, the mounts that put the workspace there, and the task's env:
    a Harbor task's WORKDIR and [environment.env]; /workspace and nothing for others."""
    if task.harbor is None:
        return "/workspace", [], {}
    run = task.harbor
    mounts = [Mount(source=workspace, target=run.workdir)] if run.workdir != "/workspace" else []
    return run.workdir, mounts, dict(run.agent_env)


def _fill_workspace(task: Task, run: HarborRun) -> None:
    import docker

    ws = task.workspace_dir
    if (ws.parent / FILLED).exists():
        return
    client = docker.from_env(timeout=120)
    container = client.containers.create(task.image, ["true"], labels={"cab.managed": "1"})
    try:
        stream, _ = container.get_archive(run.workdir.rstrip("/") + "/.")
        data = io.BytesIO(b"".join(stream))
    finally:
        container.remove(force=True)
        client.close()
    tmp = ws.parent / "workspace.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    with tarfile.open(fileobj=data) as tar:
        tar.extractall(tmp, filter="data")
    inner = tmp / "."
    shutil.rmtree(ws, ignore_errors=True)
    inner.resolve().rename(ws)
    (ws.parent / FILLED).write_text(task.image + "\n")


def _spec(task: Task, workspace: Path, command: list[str], **kw) -> RunSpec:
    run = run_of(task)
    mounts = [Mount(source=workspace, target=run.workdir)] if run.workdir != "/workspace" else []
    return RunSpec(
        image=task.image,
        command=command,
        workspace=workspace,
        workdir=run.workdir,
        mounts=mounts + kw.pop("mounts", []),
        network_mode="none" if not run.allow_internet else kw.pop("network_mode", "none"),
        mem_limit=f"{run.memory_mb}m",
        nano_cpus=int(run.cpus * 1_000_000_000),
        **kw,
    )


def run_solution(
    task: Task, workspace: Path, sandbox: Sandbox, labels: dict[str, str]
) -> RunResult:
    """The oracle: solution/solve.sh in the task's image over `workspace`."""
    run = run_of(task)
    spec = _spec(
        task,
        workspace,
        ["bash", "/solution/solve.sh"],
        mounts=[Mount(source=task.solution_dir, target="/solution", read_only=True)],
        env={**run.agent_env, **run.solution_env},
        timeout_s=task.timeout_s,
        labels={**labels, "cab.stage": "oracle"},
    )
    return sandbox.run(spec)


def run_verifier(
    task: Task,
    post_agent_workspace: Path,
    sandbox: Sandbox,
    *,
    scratch: Path,
    labels: dict[str, str] | None = None,
    log_path: Path | None = None,
) -> TestFacts:
    """tests/test.sh over a copy of the post-agent workspace, tests/ at /tests (read-only),
    a fresh /logs/verifier; the reward file is the report."""
    run = run_of(task)
    work = scratch / "workspace"
    logs = scratch / "logs"
    for path in (work, logs):
        shutil.rmtree(path, ignore_errors=True)
    shutil.copytree(post_agent_workspace, work, symlinks=True)
    logs.mkdir(parents=True)
    spec = _spec(
        task,
        work,
        ["bash", f"{TESTS_DIR}/test.sh"],
        mounts=[
            Mount(source=task.tests_dir, target=TESTS_DIR, read_only=True),
            Mount(source=logs, target=LOGS_DIR),
        ],
        env={**run.agent_env, **run.verifier_env},
        timeout_s=run.verifier_timeout_s,
        labels={**(labels or {}), "cab.stage": "hidden_tests"},
        log_path=log_path,
    )
    result = sandbox.run(spec)
    if result.error is not None:
        return TestFacts(ran=False, error=result.error, stderr=result.stderr[-TAIL:])
    report = read_reward(logs)
    return TestFacts(
        ran=True,
        exit_code=0 if report is not None and not result.timed_out else result.exit_code,
        timed_out=result.timed_out,
        stdout=result.stdout[-TAIL:],
        stderr=result.stderr[-TAIL:],
        report=report,
        error=None if report is not None else "the verifier wrote no reward.txt or reward.json",
    )


def read_reward(logs: Path) -> str | None:
    """reward.txt, else reward.json (regular files only, never links)."""
    for name in ("reward.txt", "reward.json"):
        path = logs / name
        if path.is_file() and not path.is_symlink():
            text = path.read_text(encoding="utf-8", errors="replace")[:65536]
            if text.strip():
                return text
    return None
