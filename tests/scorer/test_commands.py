"""`cab score` and `cab diagnose` as a user runs them: real subprocesses on a cell dir."""

from __future__ import annotations

import json
import subprocess
import sys

from scorer_evidence import call, page_cell


def cab(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "cab", *args], capture_output=True, text=True, timeout=120
    )


def _cell(tmp_path, evidence=None, **extra):
    cell = tmp_path / "cell"
    cell.mkdir()
    data = {"cell_id": "s/openhands/m/polyglot/go", "artifacts": {"log": "agent.log"}, **extra}
    data["facts"] = (evidence or page_cell()).model_dump(mode="json")
    (cell / "cell.json").write_text(json.dumps(data))
    return cell


def test_score_writes_scores_back_and_keeps_other_keys(tmp_path):
    cell = _cell(tmp_path, scores={"stale": True})
    proc = cab("score", str(cell))
    assert proc.returncode == 0, proc.stderr
    assert "infra:rate_limit" in proc.stdout and "composite" in proc.stdout
    data = json.loads((cell / "cell.json").read_text())
    assert data["cell_id"] == "s/openhands/m/polyglot/go"
    assert data["artifacts"] == {"log": "agent.log"}
    assert data["scores"]["verdict"]["verdict"] == "infra:rate_limit"
    assert data["scores"]["pass_rate"]["pass"] == 0
    assert "stale" not in data["scores"]


def test_score_json_with_weights_file(tmp_path):
    cell = _cell(tmp_path)
    weights = tmp_path / "w.toml"
    weights.write_text(
        "[weights]\npass_rate = 0.0\nintegrity = 1.0\ncost = 0.0\nlatency = 0.0\nblast_radius = 0.0\n"
    )
    proc = cab("score", str(cell), "--weights", str(weights), "--json")
    assert proc.returncode == 0, proc.stderr
    (out,) = json.loads(proc.stdout)
    assert out["scores"]["composite"]["composite"] == 1
    assert (
        json.loads((cell / "cell.json").read_text())["scores"]["composite"]["weights"]["integrity"]
        == 1
    )


def test_score_bad_inputs_name_file_and_field(tmp_path):
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "cell.json").write_text(json.dumps({"facts": {"task": {"category": "x"}}}))
    good = _cell(tmp_path)
    proc = cab("score", str(bad), str(good))
    assert proc.returncode == 1
    assert f"{bad / 'cell.json'}: field 'facts.task.task_id'" in proc.stderr
    assert "scores" in json.loads((good / "cell.json").read_text())  # the good one still scored
    assert json.loads((bad / "cell.json").read_text()) == {"facts": {"task": {"category": "x"}}}
    weights = tmp_path / "w.toml"
    weights.write_text("[weights]\npass_rate = 2\n")
    proc = cab("score", str(good), "--weights", str(weights))
    assert proc.returncode == 2 and f"{weights}: field 'weights'" in proc.stderr


def test_diagnose_cell_dir(tmp_path):
    proc = cab("diagnose", str(_cell(tmp_path)), "--json")
    assert proc.returncode == 0, proc.stderr
    d = json.loads(proc.stdout)
    assert (d["attempts"], d["completed"], d["throttled"]) == (5, 0, 5)
    assert d["verdict"]["verdict"] == "infra:rate_limit"
    # the page cell backed off exactly as asked: 1, 2, 4, 8 s
    assert [r["waited_ms"] for r in d["timeline"]] == [1000, 2000, 4000, 8000, None]
    assert d["retry_after"] == {"asked": 4, "honoured": 4, "ignored": 0, "summary": "honoured"}
    assert d["gave_up"]["failing_attempts"] == 5 and d["gave_up"]["last_status"] == 429
    assert any(a.startswith("Raise the agent's retry budget") for a in d["advice"])
    human = cab("diagnose", str(tmp_path / "cell"))
    assert "infra:rate_limit" in human.stdout and "gave up at call 5" in human.stdout


def test_diagnose_calls_jsonl_impatient_parallel_agent(tmp_path):
    heads = {"x-ratelimit-remaining-requests": "0", "x-ratelimit-reset-requests": "12s"}
    calls = [
        call(1, 0.0, 1000),
        call(2, 0.2, 1000),
        call(3, 0.4, 1000),
        call(4, 1.5, 100, "rate_limited", retry_after_s=5.0, rate_limit_headers=heads),
        call(5, 1.7, 2000),  # retried after 0.1 s though 5 s were asked
    ]
    path = tmp_path / "calls.jsonl"
    path.write_text("".join(c.model_dump_json() + "\n" for c in calls))
    proc = cab("diagnose", str(path), "--json")
    assert proc.returncode == 0, proc.stderr
    d = json.loads(proc.stdout)
    assert d["peak_concurrency"] == 3 and d["gave_up"] is None
    assert d["retry_after"]["summary"] == "ignored"
    row = d["timeline"][3]
    assert (row["status_code"], row["retry_after_s"], row["remaining_requests"]) == (429, 5.0, "0")
    assert row["waited_ms"] == 100 and row["honoured"] is False
    assert d["verdict"]["verdict"] == "capability"
    text = " ".join(d["advice"])
    assert "Lower concurrency to 1: 3 calls" in text
    assert "requests quota ran out at call 4" in text and "resets in 12s" in text
    assert "honour Retry-After" in text


def test_diagnose_bad_jsonl_names_line_and_field(tmp_path):
    path = tmp_path / "calls.jsonl"
    path.write_text(call(1, 0).model_dump_json() + "\n" + '{"seq": 2}\n')
    proc = cab("diagnose", str(path))
    assert proc.returncode == 2
    assert f"{path}: line 2: field 'started_at'" in proc.stderr
