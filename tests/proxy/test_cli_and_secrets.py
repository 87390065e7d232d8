"""`cab proxy` and `cab fake-upstream` as real subprocesses; the key stays in the proxy."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import openai
import pytest

from proxy.records import ModelCall

from .conftest import KEY_ENV, SCRIPTS, SECRET


def start(args: list[str], env: dict[str, str]) -> tuple[subprocess.Popen, str]:
    """Start `cab ...`, return it and the base URL it printed."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "cab", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    line = proc.stdout.readline()
    m = re.search(r"listening on (http://127\.0\.0\.1:\d+)", line)
    if not m:
        proc.kill()
        pytest.fail(f"no listening line from {args[0]}: {line!r} {proc.stderr.read()}")
    return proc, m.group(1)


def stop(proc: subprocess.Popen) -> tuple[str, str]:
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=20)
    assert proc.returncode == 0, err
    return out, err


@pytest.fixture
def cli_stack(tmp_path: Path):
    env = {**os.environ, KEY_ENV: SECRET}
    fake, fake_url = start(["fake-upstream", "--port", "0", "--scripts", str(SCRIPTS),
                            "--retry-after", "0.05"], env)  # fmt: skip
    proxy, proxy_url = start(
        ["--log-json", "--log-level", "DEBUG", "proxy", "--port", "0",
         "--upstream", fake_url + "/v1", "--upstream-key-env", KEY_ENV,
         "--record-dir", str(tmp_path)],
        env,
    )  # fmt: skip
    try:
        yield {"proxy_url": proxy_url, "fake_url": fake_url, "dir": tmp_path}
    finally:
        stop(proxy)
        stop(fake)


def test_cab_proxy_records_and_never_leaks_the_key(cli_stack):
    base = cli_stack["proxy_url"] + "/v1"
    with openai.OpenAI(base_url=base, api_key="cab-run1", max_retries=1) as c:
        reply = c.chat.completions.create(
            model="echo", messages=[{"role": "user", "content": "hi"}]
        )
        list(c.chat.completions.create(model="echo", messages=[{"role": "user", "content": "hi"}],
                                       stream=True))  # fmt: skip
        with pytest.raises(openai.RateLimitError):
            c.chat.completions.create(
                model="throttled/x", messages=[{"role": "user", "content": "hi"}]
            )
        with pytest.raises(openai.InternalServerError):
            c.chat.completions.create(
                model="fault/500", messages=[{"role": "user", "content": "hi"}]
            )
    # a plain key in standalone mode goes to session "default"
    httpx.post(base + "/chat/completions", json={"model": "echo", "messages": []},
               headers={"Authorization": "Bearer sk-client-own"})  # fmt: skip
    metrics = httpx.get(cli_stack["proxy_url"] + "/metrics").text
    assert httpx.get(cli_stack["proxy_url"] + "/healthz").json()["status"] == "ok"
    lines = (cli_stack["dir"] / "calls.jsonl").read_text().splitlines()
    calls = [ModelCall.model_validate_json(line) for line in lines]
    run1 = [c for c in calls if c.session == "run1"]
    assert [c.outcome for c in run1] == ["ok", "ok", "rate_limited", "rate_limited",
                                         "upstream_error", "upstream_error"]  # fmt: skip
    assert [c.seq for c in run1] == [1, 2, 3, 4, 5, 6]
    assert run1[0].total_tokens == reply.usage.total_tokens
    assert run1[0].request_hash == run1[1].request_hash
    assert [c.session for c in calls if c not in run1] == ["default"]
    up = f'upstream="{cli_stack["fake_url"]}/v1"'
    assert f'cab_proxy_calls_total{{outcome="rate_limited",api="chat",{up}}} 2' in metrics
    assert f'cab_proxy_calls_total{{outcome="ok",api="chat",{up}}} 3' in metrics
    assert "cab_proxy_calls_in_flight 0" in metrics
    assert "cab_proxy_latency_seconds_count 7" in metrics
    assert (
        "cab_proxy_overhead_seconds_bucket" in metrics and "cab_proxy_ttft_seconds_sum" in metrics
    )
    assert SECRET not in "\n".join(lines)
    assert "sk-client-own" not in "\n".join(lines)


def test_logs_never_hold_the_key(tmp_path):
    env = {**os.environ, KEY_ENV: SECRET}
    fake, fake_url = start(["fake-upstream", "--port", "0", "--scripts", str(SCRIPTS)], env)
    proxy, proxy_url = start(
        ["--log-level", "DEBUG", "proxy", "--port", "0", "--upstream", fake_url + "/v1",
         "--upstream-key-env", KEY_ENV, "--require-session"],
        env,
    )  # fmt: skip
    try:
        for model in ("echo", "fault/500", "fault/401", "throttled/x"):
            httpx.post(proxy_url + "/v1/chat/completions",
                       json={"model": model, "messages": []},
                       headers={"Authorization": "Bearer cab-s1"})  # fmt: skip
        refused = httpx.post(proxy_url + "/v1/chat/completions", json={"model": "echo", "messages": []},
                             headers={"Authorization": f"Bearer {SECRET}"})  # fmt: skip
        assert refused.status_code == 401 and SECRET not in refused.text
    finally:
        out, err = stop(proxy)
        stop(fake)
    assert "outcome" in err  # the failed calls were logged ...
    assert SECRET not in out and SECRET not in err  # ... without the key


def test_upstream_sees_the_real_key_the_agent_never_holds_it(
    proxy, fake, session, client, record_dir
):
    client.chat.completions.create(model="echo", messages=[{"role": "user", "content": "x"}])
    assert session.key.startswith("cab-") and SECRET not in session.key
    assert list(fake.state.authorizations) == [f"Bearer {SECRET}"]
    calls = proxy.calls(session.id)
    lines = (record_dir / "calls.jsonl").read_text().splitlines()
    assert [json.loads(line)["seq"] for line in lines] == [1]
    assert SECRET not in "\n".join(lines) and SECRET not in repr(calls)


def test_cab_proxy_rejects_a_bad_upstream_url():
    proc = subprocess.run([sys.executable, "-m", "cab", "proxy", "--upstream", "localhost:1"],
                          capture_output=True, text=True, timeout=60)  # fmt: skip
    assert proc.returncode == 2 and "--upstream" in proc.stderr
