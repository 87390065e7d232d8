"""The cell pipeline's parts without Docker: the adapter registry, plugins that apply to
some agents only, and the "Run it yourself" text run through a real shell with a stand-in
`docker` that reports the argv it was given."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from runner.adapters import ADAPTERS, get_adapter
from runner.adapters.base import HOME_DIR, OUT_DIR, AdapterContext
from runner.cell import CellOptions, Plugin, run_cell
from runner.errors import ConfigError, UnknownNameError
from runner.harness import Harness
from runner.models import resolve_model
from runner.reproduce import docker_run, prepared_files
from runner.sandbox import Mount, RunResult, RunSpec
from runner.sweep_config import parse_sweep
from runner.tasks import get_task

TASK = "polyglot/go-http-handler-fix"
KEY = "cab-session-key-that-must-not-show-0123"
PROXY = "http://127.0.0.1:45678/v1"


def test_every_registered_adapter_loads_under_its_name():
    for tui in ADAPTERS:
        assert get_adapter(tui).tui == tui
    with pytest.raises(UnknownNameError, match="known: aider, codex"):
        get_adapter("no-such-cli")


def test_a_plugin_for_another_agent_is_skipped_and_said_so(tmp_path):
    plugins = [
        Plugin(name="aider-only", env={"AIDER_ONLY": "1"}, tuis=["aider"]),
        Plugin(name="everyone", env={"EVERYONE": "1"}, args=["--flag"]),
    ]
    opts = CellOptions(sweep_id="t-plug", out_root=tmp_path, sandbox="local", plugins=plugins)
    with Harness() as h:
        record = run_cell("reference", resolve_model("scripted"), get_task(TASK), opts, h)
    span = next(s for s in record.spans if s.kind == "tool_call")
    assert span.attrs["applied"] == ["everyone"] and span.attrs["skipped"] == ["aider-only"]
    assert (span.attrs["applied_count"], span.attrs["skipped_count"]) == (1, 1)
    assert span.attrs["env_keys"] == ["EVERYONE"] and span.attrs["extra_args"] == ["--flag"]


def test_a_plugin_naming_an_unknown_agent_is_a_config_error():
    data = {
        "sweep_id": "s",
        "tuis": ["reference"],
        "models": ["scripted"],
        "tasks": [TASK],
        "plugins": [{"name": "p", "tuis": ["reference", "nope"]}],
    }
    with pytest.raises(ConfigError, match=r"plugins\.0\.tuis.*nope"):
        parse_sweep(data)


def _spec_for(tui: str, tmp_path: Path) -> tuple[AdapterContext, RunSpec]:
    """What the pipeline hands the sandbox for `tui`, built the way run_agent builds it."""
    ctx = AdapterContext(
        task_id=TASK,
        prompt="Fix it. Keep 'quotes', $HOME and `ticks` as they are.\n",
        model="vendor/model-x",
        base_url=PROXY,
        api_key=KEY,
        out_dir=tmp_path / "runs" / "out",
        home_dir=tmp_path / "scratch" / "home",
        solution_dir=get_task(TASK).solution_dir,  # run_agent passes the task's (the oracle's)
    )
    ctx.write_home()
    run = get_adapter(tui).prepare(ctx)
    mounts = [
        *run.mounts,
        Mount(source=ctx.out_dir, target=OUT_DIR),
        Mount(source=ctx.home_dir, target=HOME_DIR),
    ]
    spec = RunSpec(
        image="codingagentbench/x:1",
        command=run.command,
        workspace=tmp_path / "ws",
        mounts=mounts,
        env=run.env,
    )
    return ctx, spec


STAND_IN_DOCKER = """#!{python}
import json, sys
print(json.dumps(sys.argv[1:]))
"""


@pytest.mark.parametrize("tui", sorted(ADAPTERS))
def test_run_it_yourself_runs_as_written_from_an_empty_folder(tui, tmp_path):
    ctx, spec = _spec_for(tui, tmp_path)
    text = docker_run(get_task(TASK), spec, ctx, None, prepared_files(spec))
    assert KEY not in text and PROXY not in text and "vendor/model-x" not in text
    assert "runs/" not in text  # the logs go to ./cab-out, as the comment says

    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "docker").write_text(STAND_IN_DOCKER.format(python=sys.executable))
    (bin_dir / "docker").chmod(0o755)
    reader = tmp_path / "reader"
    reader.mkdir()
    env = {
        "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
        "CAB_REPO": str(Path(__file__).resolve().parents[1]),
        "YOUR_ENDPOINT": "http://127.0.0.1:9/v1",
        "YOUR_KEY": "sk-reader",
        "YOUR_MODEL_ID": "reader/model",
    }
    proc = subprocess.run(
        ["bash", "-e", "-c", text], cwd=reader, env=env, capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    argv = json.loads(proc.stdout.strip().splitlines()[-1])
    assert argv[argv.index("-w") + 1] == "/workspace"
    envs = dict(a.split("=", 1) for a in argv[1:] if "=" in a and not a.startswith("/"))
    assert "sk-reader" in envs.values()
    # the command is the sandbox's, with the reader's model where the run's was
    n = len(spec.command)
    assert argv[-n:] == [a.replace("vendor/model-x", "reader/model") for a in spec.command]
    # the files the adapter wrote before the run, with the reader's endpoint in them
    assert (reader / "workspace" / "handler.go").is_file()
    assert (reader / "cab-home" / "task.md").read_text() == ctx.prompt
    for rel in prepared_files(spec):
        written = (reader / rel).read_text()
        assert PROXY not in written and "vendor/model-x" not in written
    wired = " ".join(argv) + "".join((reader / r).read_text() for r in prepared_files(spec))
    assert "http://127.0.0.1:9/v1" in wired


def test_run_it_yourself_names_the_exact_image_by_id(tmp_path):
    ctx, spec = _spec_for("reference", tmp_path)
    result = RunResult(
        sandbox="docker",
        isolated=True,
        started_at="2026-01-01T00:00:00Z",
        ended_at="2026-01-01T00:00:01Z",
        image_digest="sha256:" + "ab" * 32,
    )
    text = docker_run(get_task(TASK), spec, ctx, result, {})
    assert f"  sha256:{'ab' * 32} \\" in text.splitlines()
    assert "# image codingagentbench/x:1 (id sha256:" in text
