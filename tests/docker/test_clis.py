"""Real agent CLIs (mini-swe-agent, aider, codex, opencode) in their pinned images, run
through the recording proxy by `cab run-cell`, against the fake upstream.

A solve test starts a fake upstream serving config/scripts/clis/<tui>/ (each script speaks
its CLI's own protocol) and runs `cab run-cell --model scripted/<task> --endpoint <fake>`:
the hidden tests must pass and every call must be recorded with tokens and a request hash.
A throttle test uses the embedded `scripted-throttled` model (every call a 429 with
Retry-After: 1): the CLI's own retries must all be recorded as rate_limited and the verdict
must be infra:rate_limit. Measured figures: docs/adapters.md.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from proxy.server import FakeUpstreamServer
from runner import images
from runner.adapters import get_adapter
from runner.cell import CellOptions, Plugin, run_cell
from runner.models import resolve_model
from runner.tasks import get_task

ROOT = Path(__file__).resolve().parents[2]
TASK = "polyglot/go-http-handler-fix"
#: The fake needs no key; this stands in for a provider key that must never leak.
FAKE_KEY_ENV = "CAB_TEST_CLIS_PROVIDER_KEY"
FAKE_KEY = "sk-provider-key-that-must-not-leak-0451"
#: model calls each CLI's script plays for TASK (all answered 200)
SOLVE_CALLS = {"mini-swe-agent": 3, "aider": 1, "codex": 3, "opencode": 4, "openhands": 4}

ALL_TUIS = ["aider", "codex", "mini-swe-agent", "opencode", "openhands"]


@pytest.mark.parametrize("tui", ALL_TUIS)
def test_adapter_keeps_the_key_in_the_env_and_points_at_the_proxy(tui, tmp_path):
    """No engine needed: what `prepare` hands the sandbox. The command line is recorded in
    the container span and config files land in artifacts, so the key must be in neither."""
    from runner.adapters.base import AdapterContext

    key = "cab-session-key-0123456789"
    ctx = AdapterContext(
        task_id=TASK,
        prompt="fix it; don't break 'quotes' or $VARS",
        model="some/model-id",
        base_url="http://127.0.0.1:4567/v1",
        api_key=key,
        out_dir=tmp_path / "out",
        home_dir=tmp_path / "home",
    )
    ctx.write_home()
    run = get_adapter(tui).prepare(ctx)
    assert key not in " ".join(run.command)
    assert key in run.env.values()
    written = [p for p in tmp_path.rglob("*") if p.is_file()]
    for path in written:
        assert key not in path.read_text(), path
    wiring = " ".join([*run.command, *run.env.values()]) + "".join(p.read_text() for p in written)
    assert "http://127.0.0.1:4567/v1" in wiring
    assert "some/model-id" in wiring
    assert run.attrs["network"].startswith("host")
    assert images.resolve(run.image).startswith(f"codingagentbench/{tui}:")
    snippet = get_adapter(tui).byo_snippet("some/model-id", ctx.prompt)
    assert "YOUR_ENDPOINT" in snippet and "some/model-id" in snippet


def _image(tui: str) -> str:
    """The CLI's image; build it if missing (images/agents/build.sh where TLS is intercepted)."""
    try:
        return images.ensure(tui)
    except Exception as exc:
        pytest.fail(f"image for {tui} unavailable: {exc} (try images/agents/build.sh {tui})")


def _run_cell(args: list[str], out: Path) -> dict:
    env = {**os.environ, FAKE_KEY_ENV: FAKE_KEY}
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "cab",
            "run-cell",
            "--task",
            TASK,
            "--out",
            str(out),
            "--sandbox",
            "docker",
            "--json",
            *args,
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout)


def _cell_dir(out: Path) -> Path:
    (record,) = out.rglob("cell.json")
    return record.parent


@pytest.mark.docker
@pytest.mark.parametrize("tui", sorted(SOLVE_CALLS))
def test_cli_solves_the_task_through_the_proxy(
    tui, docker_client, tmp_path, host_service, assert_isolated
):
    """Isolated (the default): the record also shows that inside the CLI's container only
    `lo` existed and a service on the host's 127.0.0.1 was unreachable."""
    _image(tui)
    _image("sidecar")
    scripts = ROOT / "config" / "scripts" / "clis" / tui
    with FakeUpstreamServer(scripts_dir=scripts) as fake:
        record = _run_cell(
            [
                "--tui",
                tui,
                "--model",
                f"scripted/{TASK}",
                "--endpoint",
                fake.base_url + "/v1",
                "--key-env",
                FAKE_KEY_ENV,
                "--probe-port",
                str(host_service.port),
                "--probe-port",
                str(fake.port),
            ],
            tmp_path,
        )
        seen_keys = set(fake.state.authorizations)
    scores = record["scores"]
    assert scores["pass_rate"]["pass"] == 1, scores["pass_rate"]
    assert scores["verdict"]["verdict"] == "capability"
    assert record["identity"]["exit_code"] == 0
    assert record["identity"]["container_image"] == images.resolve(tui)
    calls = record["facts"]["calls"]
    api = get_adapter(tui).api
    assert len(calls) == SOLVE_CALLS[tui]
    for call in calls:
        assert call["outcome"] == "ok" and call["status_code"] == 200
        assert call["api"] == api
        assert call["path"] == ("/v1/responses" if api == "responses" else "/v1/chat/completions")
        assert call["prompt_tokens"] > 0 and call["completion_tokens"] > 0
        assert call["tokens_source"] == "usage"
        assert call["request_hash"].startswith("sha256:")
    assert len({c["request_hash"] for c in calls}) == len(calls)
    assert_isolated(record)
    # the provider key went upstream, and nowhere else
    assert seen_keys == {f"Bearer {FAKE_KEY}"}
    cell = _cell_dir(tmp_path)
    for path in cell.rglob("*"):
        if path.is_file():
            assert FAKE_KEY.encode() not in path.read_bytes(), path


#: CLIs whose retry budget is short enough to run as shipped.
THROTTLED = ["aider", "codex", "opencode"]


@pytest.mark.docker
@pytest.mark.parametrize("tui", THROTTLED)
def test_cli_gives_up_on_429_and_the_cell_is_infra(tui, docker_client, tmp_path):
    _image(tui)
    record = _run_cell(["--tui", tui, "--model", "scripted-throttled"], tmp_path)
    _assert_throttled(record)


@pytest.mark.docker
def test_mini_swe_agent_retry_budget_is_its_own_setting(docker_client, tmp_path):
    """mini-swe-agent's default budget is 10 attempts over ~4.5 minutes; its own setting
    MSWEA_MODEL_RETRY_STOP_AFTER_ATTEMPT (passed as a plugin env) makes it 2."""
    _image("mini-swe-agent")
    plugin = Plugin(name="retry-2", env={"MSWEA_MODEL_RETRY_STOP_AFTER_ATTEMPT": "2"})
    opts = CellOptions(out_root=tmp_path, sandbox="docker", plugins=[plugin])
    record = run_cell(
        "mini-swe-agent", resolve_model("scripted-throttled"), get_task(TASK), opts
    ).model_dump(mode="json")
    calls = _assert_throttled(record)
    # 2 attempts by mini-swe-agent, each retried twice by the OpenAI SDK inside litellm
    assert len(calls) == 6


@pytest.mark.docker
def test_openhands_retry_budget_is_its_own_setting(docker_client, tmp_path):
    """The SDK's default is 5 retries waiting 8-64 s; LLM_NUM_RETRIES and the wait bounds
    (read by the image's run script) make it 1 retry after ~1 s."""
    _image("openhands")
    env = {"LLM_NUM_RETRIES": "1", "LLM_RETRY_MIN_WAIT": "1", "LLM_RETRY_MAX_WAIT": "1"}
    opts = CellOptions(out_root=tmp_path, sandbox="docker", plugins=[Plugin(name="r1", env=env)])
    record = run_cell(
        "openhands", resolve_model("scripted-throttled"), get_task(TASK), opts
    ).model_dump(mode="json")
    assert record["identity"]["exit_code"] == 1
    _assert_throttled(record)


def _assert_throttled(record: dict) -> list[dict]:
    scores = record["scores"]
    assert scores["verdict"]["verdict"] == "infra:rate_limit", scores["verdict"]
    assert scores["pass_rate"]["pass"] == 0
    calls = record["facts"]["calls"]
    assert len(calls) >= 2, "the CLI did not retry"
    for call in calls:
        assert call["outcome"] == "rate_limited" and call["status_code"] == 429
        assert call["retry_after_s"] == 1.0
        assert call["request_hash"].startswith("sha256:")
    return calls
