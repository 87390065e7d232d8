"""The same cells in the local sandbox (no Docker needed) give the same verdicts."""

from __future__ import annotations

from runner.cell import CellOptions, run_cell
from runner.harness import Harness
from runner.models import resolve_model
from runner.tasks import get_task

GO_TASK = "polyglot/go-http-handler-fix"


def test_local_sandbox_gives_the_docker_verdicts(tmp_path):
    task = get_task(GO_TASK)
    with Harness() as h:
        passing = run_cell(
            "reference",
            resolve_model("scripted"),
            task,
            CellOptions(sweep_id="t-local", out_root=tmp_path, sandbox="local"),
            h,
        )
        throttled = run_cell(
            "reference",
            resolve_model("scripted-throttled"),
            task,
            CellOptions(sweep_id="t-local", out_root=tmp_path, sandbox="local"),
            h,
        )
    assert passing.identity.sandbox == "local" and passing.identity.isolated is False
    assert "not isolated" in passing.identity.network
    assert passing.scores.pass_rate.pass_ == 1
    assert passing.scores.verdict.verdict == "capability"
    assert throttled.identity.exit_code == 1
    assert throttled.scores.verdict.verdict == "infra:rate_limit"
    assert "status: got 200 want 400" in throttled.scores.pass_rate.stdout_tail
    assert all(c.outcome == "rate_limited" for c in throttled.calls)


def test_missing_toolchain_in_the_local_sandbox_is_infra(tmp_path, monkeypatch):
    """Without `go` on the host, a Go task's cell is our failure, said before the agent
    runs, and still leaves a complete record."""
    import shutil
    import sys
    from pathlib import Path

    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("bash", "node", "git"):
        if shutil.which(tool):
            (bin_dir / tool).symlink_to(shutil.which(tool))
    (bin_dir / "python3").symlink_to(Path(sys.executable))
    monkeypatch.setenv("PATH", str(bin_dir))
    with Harness() as h:
        record = run_cell(
            "reference",
            resolve_model("scripted"),
            get_task(GO_TASK),
            CellOptions(sweep_id="t-nogo", out_root=tmp_path, sandbox="local"),
            h,
        )
    verdict = record.scores.model_dump(mode="json")["verdict"]
    assert verdict["verdict"] == "infra:harness"
    assert "needs 'go version' to work" in verdict["sentence"]
    assert record.calls == [] and record.facts.agent.started is False
    assert (tmp_path / "t-nogo/reference/scripted/polyglot/go-http-handler-fix/cell.json").is_file()
