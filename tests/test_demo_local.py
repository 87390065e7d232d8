"""`cab demo --sandbox local` on a host without Go, as a newcomer sees it: it says which
tasks can run here and skips the Go ones with the reason, every cell it runs measures
something (the scripted model passes, the throttled one is rate-limited by design), no
traceback reaches the console (they are in the log file it names), and it ends with how
to get the full demo in Docker. `--all` then runs the Go tasks too: each such cell is one
line with the fix."""

from __future__ import annotations

import os
import re
import sqlite3
import subprocess
import sys
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
GO_TASKS = ("go-http-handler-fix", "go-lru-cache-eviction", "go-retry-backoff")
HIDDEN = {"go", "gofmt"}


def path_without_go(bin_dir: Path) -> str:
    """A PATH of one folder holding every command of this PATH but `go`; python3 is the
    interpreter running the tests (with pytest installed)."""
    if bin_dir.is_dir():
        return str(bin_dir)
    bin_dir.mkdir()
    for name in ("python3", "python"):
        (bin_dir / name).symlink_to(sys.executable)
    for folder in os.environ.get("PATH", "").split(os.pathsep):
        if not folder or not Path(folder).is_dir():
            continue
        for entry in Path(folder).iterdir():
            link = bin_dir / entry.name
            if entry.name in HIDDEN or link.exists() or link.is_symlink():
                continue
            if entry.is_file() and os.access(entry, os.X_OK):
                link.symlink_to(entry)
    return str(bin_dir)


def demo(tmp_path: Path, sweep_id: str, *extra: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PATH": path_without_go(tmp_path / "bin")}
    env.pop("CAB_RUNS_DIR", None)
    argv = ["demo", "--sandbox", "local", "--sweep-id", sweep_id, "--out", str(tmp_path / "runs")]
    return subprocess.run(
        [sys.executable, "-m", "cab", *argv, *extra],
        cwd=tmp_path,  # not the repository: the demo finds its files from anywhere
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


def cells(db: Path) -> list[tuple[str, str, str]]:
    with sqlite3.connect(db) as conn:
        return conn.execute("SELECT model, task_id, verdict FROM cells").fetchall()


def test_demo_without_go_runs_what_it_can_and_says_why_not_the_rest(tmp_path):
    sid = f"t-demo-{uuid.uuid4().hex[:8]}"
    done = demo(tmp_path, sid)
    console = done.stdout + done.stderr
    assert done.returncode == 0, console
    assert "Traceback" not in console
    for name in GO_TASKS:
        line = next(ln for ln in done.stdout.splitlines() if f"polyglot/{name}" in ln)
        assert "skipped" in line and "go version" in line and "install golang-go" in line
    assert "runs here: 5 of 8 tasks" in done.stdout

    ran = cells(tmp_path / "runs" / sid / "results.db")
    assert len(ran) == 10 and not any(task.startswith("polyglot/go-") for _, task, _ in ran)
    for model, task, verdict in ran:
        want = "capability" if model == "scripted" else "infra:rate_limit"
        assert verdict == want, (model, task, verdict)
    assert done.stdout.count("PASS ") == 5
    assert "`cab doctor demo`" in done.stdout.strip().splitlines()[-1]

    log = Path(re.search(r"^log: (\S+)", done.stdout, re.M).group(1))
    assert log.is_file() and '"event": "cell.done"' in log.read_text()
    assert done.stdout.count(f"log: {log}") == 1

    # --all: the Go cells run too and end infra:harness, one line each with the fix; the
    # traceback of each is in the log file, never on the console.
    again = demo(tmp_path, sid, "--all")
    console = again.stdout + again.stderr
    assert again.returncode == 0, console
    assert "Traceback" not in console and "resuming: 10 of 16" in again.stdout
    for name in GO_TASKS:
        for model in ("scripted", "scripted-throttled"):
            line = next(
                ln
                for ln in again.stdout.splitlines()
                if ln.startswith(f"INFRA {sid}/reference/{model}/polyglot/{name} ")
            )
            assert "infra:harness" in line and "install golang-go, or run in Docker" in line
    assert "Traceback (most recent call last)" in log.read_text()
