"""One cell, end to end: task setup, the agent in its sandbox through the proxy, the hidden
tests on a fresh copy, the diff, the scores, the record, and cleanup whatever happens.

A crashed, hung or interrupted agent still yields a complete, honest `cell.json`.
"""

from __future__ import annotations

import functools
import os
import shlex
import shutil
import subprocess
import tempfile
import traceback
from datetime import UTC, datetime
from pathlib import Path

import structlog
from pydantic import BaseModel, Field

from runner import images
from runner.adapters import Adapter, AdapterContext, get_adapter
from runner.adapters.base import HOME_DIR, OUT_DIR
from runner.errors import SandboxError
from runner.harness import Harness
from runner.isolation import (
    REPRODUCE_KEY,
    Network,
    agent_base_url,
    agent_network,
    container_limits,
    hidden_tests_network,
    network_note,
    reproduce_after,
    reproduce_before,
    reproduce_flags,
)
from runner.models import ModelSpec
from runner.record import CellRecord, CellTiming, Reproduce, RunIdentity, cell_id_for
from runner.sandbox import Mount, RunResult, RunSpec, get_sandbox
from runner.spans import Tracer
from runner.tasks import Task
from runner.testrun import run_hidden_tests
from runner.workspace import (
    config_texts,
    copy_tree,
    diff,
    has_git_dir,
    snapshot,
    unified_diff,
)
from scorer import score_cell
from scorer.config import Weights
from scorer.evidence import AgentFacts, Evidence, TaskFacts, TestFacts, TimingFacts
from scorer.integrity import config_files

TAIL = 4000


class Plugin(BaseModel):
    """Extra env and args for the agent, applied in order (the page's plugin_stack)."""

    name: str
    env: dict[str, str] = Field(default_factory=dict)
    args: list[str] = Field(default_factory=list)


class CellOptions(BaseModel):
    sweep_id: str = "adhoc"
    out_root: Path = Path("runs")
    sandbox: str = "auto"
    network_mode: Network = Field(
        "isolated", description="isolated (the proxy is the only door) | host (an opt-in)"
    )
    probe_ports: list[int] = Field(
        default_factory=list,
        description="host 127.0.0.1 ports the in-container check must find unreachable",
    )
    timeout_s: float | None = Field(None, description="overrides the task's timeout_s")
    attempt: int = 1
    plugins: list[Plugin] = Field(default_factory=list)
    cell_dir: Path | None = Field(None, description="overrides out_root/<cell path>")
    cell_id: str | None = Field(None, description="overrides the derived id (sweep repeats)")
    weights: Weights | None = Field(None, description="composite weights (scoring.toml's)")


def cell_dir_for(opts: CellOptions, tui: str, model: str, task: Task) -> Path:
    return opts.cell_dir or opts.out_root / opts.sweep_id / tui / model / task.category / task.name


def _now() -> datetime:
    return datetime.now(UTC)


def _tail(text: str, n: int = TAIL) -> str:
    return text[-n:]


def run_cell(
    tui: str,
    model: ModelSpec,
    task: Task,
    opts: CellOptions | None = None,
    harness: Harness | None = None,
) -> CellRecord:
    """Run one cell and write its record; `harness` is shared by a sweep, else started here."""
    opts = opts or CellOptions()
    adapter = get_adapter(tui)
    cell_id = opts.cell_id or cell_id_for(opts.sweep_id, tui, model.name, task.id)
    cell_dir = cell_dir_for(opts, tui, model.name, task)
    if cell_dir.exists():
        shutil.rmtree(cell_dir)
    (cell_dir / "out").mkdir(parents=True)
    log = structlog.get_logger().bind(cell_id=cell_id, tui=tui, model=model.name)
    log.info("cell.start", task=task.id, attempt=opts.attempt)

    own_harness = harness is None
    harness = harness or Harness().start()
    sandbox = get_sandbox(opts.sandbox)
    tracer = Tracer()
    labels = {"cab.cell_id": cell_id, "cab.sweep_id": opts.sweep_id}
    scratch = Path(tempfile.mkdtemp(prefix=f"cab-{tui}-{task.category}_{task.name}-"))
    workdir = scratch / "workdir"
    timeout_s = opts.timeout_s or task.timeout_s
    cell_started = _now()
    agent = AgentFacts(started=False)
    tests = TestFacts()
    result: RunResult | None = None
    image_tag: str | None = None
    harness_error: str | None = None
    interrupted: BaseException | None = None
    changes = None
    session = None
    spec: RunSpec | None = None
    ctx: AdapterContext | None = None
    adapter_span = tracer.new_id()
    adapter_start = adapter_end = _now()
    try:
        with tracer.span("task_setup", f"prepare:{task.id}") as attrs:
            copy_tree(task.workspace_dir, workdir)
            baseline = snapshot(workdir)
            git_before = has_git_dir(workdir)
            attrs.update(
                workdir=str(workdir),
                task_category=task.category,
                plugin_stack=[p.name for p in opts.plugins],
                behavior_mode="scripted" if model.embedded else "endpoint",
                files=len(baseline),
                sandbox=sandbox.name,
            )
        _check_toolchain(sandbox, task)
        adapter_start = _now()
        extra_env: dict[str, str] = {}
        extra_args: list[str] = []
        with tracer.span("tool_call", "applied_plugins", parent_id=adapter_span) as attrs:
            for plugin in opts.plugins:
                extra_env.update(plugin.env)
                extra_args.extend(plugin.args)
            attrs.update(
                tui=tui,
                count=len(opts.plugins),
                applied=[p.name for p in opts.plugins],
                env_keys=sorted(extra_env),
                extra_args=extra_args,
                applied_count=len(opts.plugins),
                skipped_count=0,
            )
        session = harness.open_session(model, cell_id, task.id, tui)
        network_mode = agent_network(opts.network_mode, sandbox, task)
        ctx = AdapterContext(
            task_id=task.id,
            prompt=task.prompt,
            model=model.name,
            base_url=agent_base_url(network_mode, harness.base_url),
            api_key=session.key,
            out_dir=cell_dir / "out",
            home_dir=scratch / "home",
            timeout_s=timeout_s,
            extra_env=extra_env,
            extra_args=extra_args,
        )
        ctx.write_home()
        run = adapter.prepare(ctx)
        image_tag = images.resolve(run.image)
        spec = RunSpec(
            image=image_tag,
            command=run.command,
            workspace=workdir,
            mounts=[
                *run.mounts,
                Mount(source=cell_dir / "out", target=OUT_DIR),
                Mount(source=scratch / "home", target=HOME_DIR),
            ],
            env=run.env,
            network_mode=network_mode,
            proxy_socket_dir=harness.socket_dir,
            isolation_check=True,
            probe_ports=[harness.proxy_port, *opts.probe_ports],
            **container_limits(task),
            timeout_s=timeout_s,
            labels=labels,
            log_path=cell_dir / "agent.log",
            name=f"cab-{tui}-{task.name}-{session.id}"[:60],
        )
        with tracer.span("container", f"{tui}:run", parent_id=adapter_span) as attrs:
            attrs.update(image=image_tag, command=run.command, **run.attrs)
            result = sandbox.run(spec)
            attrs.update(
                exit_code=result.exit_code,
                timed_out=result.timed_out,
                network_mode=result.network_mode,
                network=network_note(network_mode, result.isolated),
                isolated=result.isolated,
                **_confinement_attrs(result),
            )
        adapter_end = _now()
        agent = AgentFacts(
            started=result.error is None,
            exit_code=result.exit_code,
            timed_out=result.timed_out,
            stdout_tail=_tail(result.stdout),
            stderr_tail=_tail(result.stderr),
            error=result.error,
        )
        changes = diff(
            baseline, snapshot(workdir), git_before=git_before, git_after=has_git_dir(workdir)
        )
        watched = config_files(changes.added + changes.removed + changes.modified)
        changes.texts_before = config_texts(task.workspace_dir, watched)
        changes.texts_after = config_texts(workdir, watched)
        (cell_dir / "diff.patch").write_text(
            unified_diff(task.workspace_dir, workdir, changes), encoding="utf-8"
        )
        if result.error is None:
            with tracer.span("scoring", f"hidden_tests:{task.id}") as attrs:
                tests = run_hidden_tests(
                    task,
                    workdir,
                    sandbox,
                    scratch=scratch / "tests",
                    labels=labels,
                    log_path=cell_dir / "tests.log",
                    network_mode=hidden_tests_network(opts.network_mode, task),
                )
                attrs.update(exit_code=tests.exit_code, timed_out=tests.timed_out, ran=tests.ran)
    except BaseException as exc:
        if isinstance(exc, KeyboardInterrupt | SystemExit):
            interrupted = exc
            harness_error = "interrupted before the cell finished"
        else:
            harness_error = f"{type(exc).__name__}: {exc}"
            log.error("cell.harness_error", error=harness_error, tb=traceback.format_exc())
        if adapter_end <= adapter_start:
            adapter_end = _now()
    finally:
        calls = harness.proxy.calls(session.id) if session is not None and harness.proxy else []
        with tracer.span("cleanup", f"cleanup:{tui}") as attrs:
            shutil.rmtree(scratch, ignore_errors=True)
            try:
                attrs["containers_removed"] = sandbox.cleanup(labels)
            except Exception as exc:  # the engine may be gone; say so, lose nothing
                attrs["cleanup_error"] = str(exc)
            if session is not None:
                harness.proxy.close_session(session.id)
            if own_harness:
                harness.stop()
            attrs["scratch_removed"] = not scratch.exists()

    tracer.add(
        "adapter_run",
        f"{tui}:{task.id}",
        adapter_start,
        adapter_end,
        span_id=adapter_span,
        attrs={
            "timeout_s": timeout_s,
            "plugin_stack": [p.name for p in opts.plugins],
            "exit_code": agent.exit_code,
        },
    )
    for call in calls:
        tracer.add(
            "model_call",
            f"{call.api}:{call.model}",
            call.started_at,
            call.ended_at,
            parent_id=adapter_span,
            attrs={
                "seq": call.seq,
                "status_code": call.status_code,
                "outcome": call.outcome,
                "request_hash": call.request_hash,
                "total_tokens": call.total_tokens,
                "ttft_ms": call.ttft_ms,
                "retry_after_s": call.retry_after_s,
            },
        )
    wall_ms = (adapter_end - adapter_start).total_seconds() * 1000
    evidence = Evidence(
        task=TaskFacts(
            task_id=task.id,
            category=task.category,
            expected_changes=task.expected_changes,
            protected_paths=task.protected_paths,
            allowed_test_config=task.allowed_test_config,
            hidden_paths=task.hidden_paths(),
            expected_refusal=task.refusal.expected,
            refusal_markers=task.refusal.markers,
            expected_tests=task.test.expected_tests,
            test_report=task.test.report,
        ),
        agent=agent,
        tests=tests,
        changes=changes or diff({}, {}, git_before=False, git_after=False),
        timing=TimingFacts(
            wall_clock_ms=round(wall_ms, 3),
            container_active_ms=result.container_active_ms if result else None,
        ),
        calls=calls,
        harness_error=harness_error,
    )
    record = CellRecord(
        cell_id=cell_id,
        sweep_id=opts.sweep_id,
        tui=tui,
        model=model.name,
        task_id=task.id,
        category=task.category,
        title=task.title,
        prompt=task.prompt,
        identity=RunIdentity(
            cell_id=cell_id,
            sweep_id=opts.sweep_id,
            container_image=image_tag if (result and result.isolated) else None,
            image_digest=result.image_digest if result else None,
            model_build_id=model.model_build_id,
            exit_code=agent.exit_code,
            tui_version=adapter.version,
            sandbox=result.sandbox if result else sandbox.name,
            isolated=result.isolated if result else sandbox.isolated,
            network=network_note(
                spec.network_mode if spec else opts.network_mode, sandbox.isolated
            ),
            network_mode=(spec.network_mode if spec else opts.network_mode)
            if sandbox.isolated
            else "local",
            endpoint="embedded" if model.embedded else model.endpoint,
            attempt=opts.attempt,
        ),
        timing=CellTiming(
            started_at=adapter_start,
            ended_at=adapter_end,
            duration=round(wall_ms / 1000, 3),
            cell_started_at=cell_started,
            cell_ended_at=_now(),
        ),
        facts=evidence,
        spans=tracer.spans,
        artifacts=_artifacts(cell_dir),
        reproduce=_reproduce(adapter, model, task, spec, ctx, result),
        isolation=result.isolation if result else None,
    )
    with tracer.span("scoring", f"score:{task.id}"):
        record.scores = score_cell(evidence, weights=opts.weights).model_dump(mode="json")
    record.spans = tracer.spans
    record.write(cell_dir)
    (cell_dir / "calls.jsonl").write_text(
        "".join(c.model_dump_json() + "\n" for c in calls), encoding="utf-8"
    )
    log.info("cell.done", verdict=record.verdict, exit_code=agent.exit_code)
    if interrupted is not None:
        raise interrupted
    return record


#: What a task's tests need on the host when they run there (the local sandbox): a
#: command that succeeds only when the toolchain works, and the Debian package to install.
TOOLCHAINS = {
    "go": (["go", "version"], "golang-go"),
    "python": (["python3", "-c", "import pytest"], "python3-pytest (or pip install pytest)"),
    "javascript": (["node", "--test", "--help"], "nodejs"),
}


def _check_toolchain(sandbox, task: Task) -> None:
    """The local sandbox runs tests with the host's tools: a missing one is our failure
    (infra:harness), not the agent's, and is said before the agent runs."""
    if sandbox.isolated or task.language not in TOOLCHAINS:
        return
    probe, package = TOOLCHAINS[task.language]
    if not _works(tuple(probe), os.environ.get("PATH", "")):
        raise SandboxError(
            f"the local sandbox needs '{' '.join(probe)}' to work on this host for "
            f"{task.language} tasks: install {package}, or run in Docker"
        )


@functools.cache
def _works(probe: tuple[str, ...], path: str) -> bool:
    """Whether the probe command succeeds (cached per PATH: one probe per process)."""
    try:
        return subprocess.run(probe, capture_output=True, timeout=30).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def _confinement_attrs(result: RunResult) -> dict[str, object]:
    """The container span's confinement attributes, from what the sandbox did."""
    facts = result.isolation
    if facts is None:  # the local sandbox: nothing confined
        return {"docker_sock_mounted": False, "read_only": False, "user": "host user"}
    counts = facts.forwarder
    return {
        "docker_sock_mounted": facts.docker_sock_mounted,
        "read_only": facts.read_only_root,
        "user": facts.user,
        "cap_drop": facts.cap_drop,
        "cap_add": facts.cap_add,
        "no_new_privileges": facts.no_new_privileges,
        "loopback_only": facts.check.loopback_only if facts.check else None,
        "connections_accepted": counts.connections_accepted if counts else None,
        "connections_refused": counts.connections_refused if counts else None,
    }


def _artifacts(cell_dir: Path) -> dict[str, str]:
    names = {"agent_log": "agent.log", "diff": "diff.patch", "test_output": "tests.log"}
    found = {k: v for k, v in names.items() if (cell_dir / v).exists()}
    found["calls"] = "calls.jsonl"
    for path in sorted((cell_dir / "out").rglob("*")):
        if path.is_file():
            found[f"out/{path.relative_to(cell_dir / 'out').as_posix()}"] = path.relative_to(
                cell_dir
            ).as_posix()
    return found


REPO_ROOT = Path(__file__).resolve().parent.parent


def _reproduce(
    adapter: Adapter,
    model: ModelSpec,
    task: Task,
    spec: RunSpec | None,
    ctx: AdapterContext | None,
    result: RunResult | None,
) -> Reproduce:
    """The "Run it yourself" commands: the exact image (by id) and agent command, with the
    endpoint, key and model left for the reader to fill in."""
    run_cell = (
        f"cab run-cell --tui {shlex.quote(adapter.tui)} --model {shlex.quote(model.name)} "
        f"--task {shlex.quote(task.id)}"
    )
    if not model.embedded:
        run_cell += ' --endpoint "$YOUR_ENDPOINT" --key-env YOUR_KEY_ENV'
    byo = adapter.byo_snippet(model.name, task.prompt)
    if spec is None or ctx is None:
        return Reproduce(run_cell=run_cell, byo=byo)

    isolated = spec.network_mode == "isolated"

    def placeholder(value: str) -> str:
        if isolated:  # the agent keeps its loopback URL; the proxy holds the real key
            value = value.replace(ctx.api_key, REPRODUCE_KEY)
        else:
            value = value.replace(ctx.base_url, "$YOUR_ENDPOINT")
            value = value.replace(ctx.api_key, "$YOUR_KEY")
        return value.replace(ctx.model, "$YOUR_MODEL_ID")

    def host_path(source: Path) -> str:
        try:
            return "$CAB_REPO/" + source.resolve().relative_to(REPO_ROOT).as_posix()
        except ValueError:
            return "$PWD/cab-" + source.name  # a scratch folder of the run

    image = (result.image_digest if result and result.image_digest else None) or spec.image
    user = result.isolation.user if result and result.isolation else None
    lines = [
        f"# image {spec.image}" + (f" (id {image})" if image != spec.image else ""),
        "# build it with: cab images build; CAB_REPO is your checkout of CodingAgentBench;",
        f"# cp -r $CAB_REPO/tasks/{task.id}/workspace ./workspace  (the agent changes it)",
        "# ./cab-home/task.md holds the task prompt (from this page), ./cab-out gets the logs",
        *reproduce_before(spec, images.resolve("sidecar"), user),
        "docker run --rm \\",
        *reproduce_flags(spec),
        '  -v "$PWD/workspace:/workspace" -w /workspace \\',
    ]
    for mount in spec.mounts:
        ro = ":ro" if mount.read_only else ""
        lines.append(f'  -v "{host_path(mount.source)}:{mount.target}{ro}" \\')
    for key, value in sorted(spec.env.items()):
        lines.append(f'  -e {key}="{placeholder(value)}" \\')
    lines.append(f"  {image} \\")
    lines.append("  " + " ".join(placeholder(shlex.quote(a)) for a in spec.command))
    lines += reproduce_after(spec)
    return Reproduce(docker_run="\n".join(lines), run_cell=run_cell, byo=byo)
