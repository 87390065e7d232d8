"""The stages of one cell, in order; each reads and fills the CellState.

A stage raises for our own failures (a missing toolchain, a broken adapter); `run_cell`
catches that once, and the record says infra:harness. The agent's own failures (a crash,
a hang, a wrong answer) are facts, never exceptions.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable

from runner import images
from runner.adapters import AdapterContext
from runner.adapters.base import HOME_DIR, OUT_DIR, upstream_timeout_s
from runner.isolation import (
    agent_base_url,
    agent_network,
    confinement_attrs,
    container_limits,
    hidden_tests_network,
)
from runner.pipeline.assemble import network_note
from runner.pipeline.options import Plugin
from runner.pipeline.recording import attach_recording
from runner.pipeline.state import CellState, now
from runner.reproduce import prepared_files
from runner.sandbox import Mount, RunResult, RunSpec
from runner.taskformats.derived import agent_image
from runner.taskformats.harbor_run import prepare_task_image, task_workdir
from runner.testrun import run_hidden_tests
from runner.workspace import config_texts, copy_tree, diff, has_git_dir, snapshot, unified_diff
from scorer.evidence import AgentFacts
from scorer.integrity import config_files

#: Characters of the agent's stdout and stderr kept in the evidence (agent.log has it all).
AGENT_TAIL_CHARS = 4000


def prepare_workspace(state: CellState) -> None:
    """Copy the task's workspace into scratch, take its baseline, and ask the sandbox
    whether it can run this task at all (the local sandbox's host toolchain)."""
    task = state.task
    with state.tracer.span("task_setup", f"prepare:{task.id}") as attrs:
        prepare_task_image(task, state.sandbox)
        copy_tree(task.workspace_dir, state.workdir)
        state.baseline = snapshot(state.workdir)
        state.git_before = has_git_dir(state.workdir)
        attrs.update(
            workdir=str(state.workdir),
            task_category=task.category,
            plugin_stack=[p.name for p in state.opts.plugins],
            behavior_mode="scripted" if state.model.embedded else "endpoint",
            files=len(state.baseline),
            sandbox=state.sandbox.name,
        )
    state.sandbox.preflight(task)


def run_agent(state: CellState) -> None:
    """Open the proxy session, let the adapter build the run, run it in the sandbox."""
    state.adapter_start = now()
    applied = apply_plugins(state)
    state.session = state.harness.open_session(
        state.model,
        state.cell_id,
        state.task.id,
        state.tui,
        upstream_timeout_s=upstream_timeout_s(state.adapter.client_timeout_s, state.timeout_s),
    )
    attach_recording(state.session, state.opts, state.cell_dir, state.adapter)
    network_mode = agent_network(state.opts.network_mode, state.sandbox, state.task)
    state.ctx = AdapterContext(
        task_id=state.task.id,
        prompt=state.task.prompt,
        model=state.model.name,
        base_url=agent_base_url(network_mode, state.harness.base_url),
        api_key=state.session.key,
        out_dir=state.cell_dir / "out",
        home_dir=state.scratch / "home",
        timeout_s=state.timeout_s,
        extra_env={k: v for p in applied for k, v in p.env.items()},
        extra_args=[a for p in applied for a in p.args],
        task_image=images.resolve(state.task.image),
        solution_dir=state.task.solution_dir if state.task.solution_dir.is_dir() else None,
        solution_script=state.task.harbor is not None,
    )
    state.ctx.write_home()
    run = state.adapter.prepare(state.ctx)
    state.image_tag = agent_image(state.task, run.image)
    workdir, task_mounts, task_env = task_workdir(state.task, state.workdir)
    state.spec = RunSpec(
        image=state.image_tag,
        command=run.command,
        workspace=state.workdir,
        workdir=workdir,
        mounts=[
            *task_mounts,
            *run.mounts,
            Mount(source=state.ctx.out_dir, target=OUT_DIR),
            Mount(source=state.ctx.home_dir, target=HOME_DIR),
        ],
        env={**task_env, **run.env},
        network_mode=network_mode,
        proxy_socket_dir=state.harness.socket_dir,
        isolation_check=True,
        probe_ports=[state.harness.proxy_port, *state.opts.probe_ports],
        **agent_limits(state),
        timeout_s=state.timeout_s,
        labels=state.labels,
        log_path=state.cell_dir / "agent.log",
        name=f"cab-{state.tui}-{state.task.name}-{state.session.id}"[:60],
    )
    state.prepared = prepared_files(state.spec)
    parent = state.adapter_span
    with state.tracer.span("container", f"{state.tui}:run", parent_id=parent) as attrs:
        attrs.update(image=state.image_tag, command=run.command, **run.attrs)
        result = state.result = state.sandbox.run(state.spec)
        attrs.update(
            exit_code=result.exit_code,
            timed_out=result.timed_out,
            network_mode=result.network_mode,
            network=network_note(network_mode, result.isolated),
            isolated=result.isolated,
            docker_sock_mounted=result.docker_sock_mounted,
            read_only=result.read_only,
            **confinement_attrs(result),
            signal=result.signal,
            oom_killed=result.oom_killed,
            killed_externally=result.killed_externally,
        )
    state.adapter_end = now()
    state.agent = agent_facts(state, result)


def agent_facts(state: CellState, result: RunResult) -> AgentFacts:
    """How the agent's run ended, as the sandbox saw it: what the verdict reads."""
    return AgentFacts(
        started=result.error is None,
        exit_code=result.exit_code,
        timed_out=result.timed_out,
        signal=result.signal,
        oom_killed=result.oom_killed,
        killed_externally=result.killed_externally,
        started_at=result.container_started_at or state.adapter_start,
        ended_at=result.container_ended_at or state.adapter_end,
        budget_s=state.timeout_s,
        client_timeout_s=state.adapter.client_timeout_s,
        mem_limit=state.spec.mem_limit if state.spec else None,
        stdout_tail=result.stdout[-AGENT_TAIL_CHARS:],
        stderr_tail=result.stderr[-AGENT_TAIL_CHARS:],
        error=result.error,
    )


def agent_limits(state: CellState) -> dict[str, object]:
    """The task's limits (config/sandbox.toml's where it sets none); a cell's own
    mem_limit option wins over both."""
    limits = container_limits(state.task)
    if state.opts.mem_limit:
        limits["mem_limit"] = state.opts.mem_limit
    return limits


def apply_plugins(state: CellState) -> list[Plugin]:
    """The plugins that apply to this agent, in order; the span says which were skipped."""
    plugins = state.opts.plugins
    applied = [p for p in plugins if p.applies_to(state.tui)]
    env_keys = {k for p in applied for k in p.env}
    parent = state.adapter_span
    with state.tracer.span("tool_call", "applied_plugins", parent_id=parent) as attrs:
        attrs.update(
            tui=state.tui,
            count=len(plugins),
            applied=[p.name for p in applied],
            skipped=[p.name for p in plugins if not p.applies_to(state.tui)],
            env_keys=sorted(env_keys),
            extra_args=[a for p in applied for a in p.args],
            applied_count=len(applied),
            skipped_count=len(plugins) - len(applied),
        )
    return applied


def collect_changes(state: CellState) -> None:
    """What the agent changed: content hashes against the baseline, the config files'
    texts for the integrity axis, and diff.patch for people."""
    task, workdir = state.task, state.workdir
    changes = diff(
        state.baseline or {},
        snapshot(workdir),
        git_before=state.git_before,
        git_after=has_git_dir(workdir),
    )
    watched = config_files(changes.added + changes.removed + changes.modified)
    changes.texts_before = config_texts(task.workspace_dir, watched)
    changes.texts_after = config_texts(workdir, watched)
    (state.cell_dir / "diff.patch").write_text(
        unified_diff(task.workspace_dir, workdir, changes), encoding="utf-8"
    )
    state.changes = changes


def run_tests(state: CellState) -> None:
    """The hidden tests, on a fresh copy of the post-agent workspace (runner/testrun.py);
    skipped when the agent never ran (the engine or image failed first)."""
    if state.result is None or state.result.error is not None:
        return
    task = state.task
    with state.tracer.span("scoring", f"hidden_tests:{task.id}") as attrs:
        state.tests = run_hidden_tests(
            task,
            state.workdir,
            state.sandbox,
            scratch=state.scratch / "tests",
            labels=state.labels,
            log_path=state.cell_dir / "tests.log",
            network_mode=hidden_tests_network(state.opts.network_mode, task),
        )
        attrs.update(
            exit_code=state.tests.exit_code, timed_out=state.tests.timed_out, ran=state.tests.ran
        )


#: The stages `run_cell` runs, in order.
STAGES: tuple[Callable[[CellState], None], ...] = (
    prepare_workspace,
    run_agent,
    collect_changes,
    run_tests,
)


def clean_up(state: CellState) -> None:
    """Always runs: collect the session's calls, remove scratch and leftover containers,
    close the session, stop a harness started for this cell alone."""
    proxy = state.harness.proxy
    if state.session is not None and proxy is not None:
        state.calls = proxy.calls(state.session.id)
    with state.tracer.span("cleanup", f"cleanup:{state.tui}") as attrs:
        shutil.rmtree(state.scratch, ignore_errors=True)
        try:
            attrs["containers_removed"] = state.sandbox.cleanup(state.labels)
        except Exception as exc:  # the engine may be gone; say so, lose nothing
            attrs["cleanup_error"] = str(exc)
        if state.session is not None and proxy is not None:
            proxy.close_session(state.session.id)
        if state.own_harness:
            state.harness.stop()
        attrs["scratch_removed"] = not state.scratch.exists()
