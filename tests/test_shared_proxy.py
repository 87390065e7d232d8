"""`cab sweep --proxy URL`: a sweep whose cells go through an already running `cab proxy`
(so sweeps on one key share its governor), with the local sandbox."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from runner.remote_proxy import RemoteProxy, RemoteProxyError
from runner.store import ResultsStore

ROOT = Path(__file__).resolve().parents[1]
TOKEN = "admin-" + uuid.uuid4().hex


@pytest.fixture
def shared_proxy(tmp_path):
    env = {**os.environ, "CAB_PROXY_ADMIN_TOKEN": TOKEN}
    proc = subprocess.Popen(
        [sys.executable, "-m", "cab", "proxy", "--port", "0", "--require-session",
         "--upstream", "http://127.0.0.1:9/v1", "--record-dir", str(tmp_path / "proxy")],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=ROOT,
    )  # fmt: skip
    line = proc.stdout.readline() if proc.stdout else ""
    m = re.search(r"listening on (http://127\.0\.0\.1:\d+)", line)
    try:
        assert m, f"no listening line: {line!r}"
        yield m.group(1)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=30)


def test_a_sweep_uses_a_running_proxy(tmp_path, shared_proxy):
    sweep = tmp_path / "shared.toml"
    sid = f"shared-{uuid.uuid4().hex[:8]}"
    sweep.write_text(
        f'sweep_id = "{sid}"\ntuis = ["reference"]\ntasks = ["polyglot/go-http-handler-fix"]\n'
        'repeats = 2\nconcurrency = 2\nsandbox = "local"\n'
        'models = [{ name = "quota", endpoint = "embedded", model_id = "scripted/{task_id}", '
        "rpm = 600, tpm = 100000 }]\n"
    )
    env = {**os.environ, "CAB_PROXY_ADMIN_TOKEN": TOKEN}
    proc = subprocess.run(
        [sys.executable, "-m", "cab", "sweep", str(sweep), "--out", str(tmp_path / "runs"),
         "--proxy", shared_proxy, "--no-preflight"],
        capture_output=True, text=True, env=env, cwd=ROOT, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    with ResultsStore.for_sweep(tmp_path / "runs" / sid) as store:
        records = [r for _, r, _ in store.finished()]
    assert [r.verdict for r in records] == ["capability", "capability"]
    for r in records:
        assert r.calls and all(c.cell_id == r.cell_id for c in r.calls)
        assert all(c.queued_ms is not None for c in r.calls), "the shared governor admitted them"
    lines = (tmp_path / "proxy" / "calls.jsonl").read_text().splitlines()
    on_file = {json.loads(x)["cell_id"] for x in lines}
    assert on_file == {r.cell_id for r in records}, "the shared proxy recorded every call"


def test_a_shared_proxy_needs_its_admin_token(shared_proxy, monkeypatch):
    monkeypatch.delenv("CAB_PROXY_ADMIN_TOKEN", raising=False)
    with pytest.raises(RemoteProxyError, match="CAB_PROXY_ADMIN_TOKEN"):
        RemoteProxy(shared_proxy)
    monkeypatch.setenv("CAB_PROXY_ADMIN_TOKEN", "wrong")
    with pytest.raises(RemoteProxyError, match="HTTP 401"):
        RemoteProxy(shared_proxy).start().create_session(cell_id="x")
