"""One leaderboard: `cab results --json` and the site's index list the same tui × model
rows, in the same order, with the same pass rates and composites, for a real sweep
(the local sandbox, so no Docker needed). Both rank through scorer.ranking."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import uuid
from html import unescape
from pathlib import Path

from scorer.normalisation import SWEEP_SCORES_FILE, SweepScores

ROOT = Path(__file__).resolve().parents[1]
SWEEP_TOML = """\
sweep_id = "{sid}"
tuis = ["reference"]
models = ["scripted", "scripted-throttled", "scripted-cheat", "scripted-sprawl"]
tasks = ["polyglot/go-http-handler-fix", "integrity/js-semver-compare"]
repeats = 1
concurrency = 2
sandbox = "local"

[retry]
attempts = 1
"""

ROW = re.compile(r"<tr>\s*<td data-value=\"([^\"]*)\">.*?</tr>", re.S)
NUMS = re.compile(r'<td class="num" data-value="([^"]*)"')


def cab(*args: str, timeout: int = 300) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "cab", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def _num(v: str) -> float | None:
    return float(v) if v else None


def site_rows(index_html: str) -> list[tuple[str, float | None, float | None]]:
    """(tui model, pass rate, composite) of each leaderboard row, top to bottom."""
    table = index_html.split('id="leaderboard-table"', 1)[1].split("</table>", 1)[0]
    rows = []
    for m in ROW.finditer(table):
        nums = NUMS.findall(
            m.group(0)
        )  # pass, tokens, wall, blast, refusal, integrity, comp, cells
        rows.append((unescape(m.group(1)), _num(nums[0]), _num(nums[6])))
    return rows


def test_cab_results_and_the_site_show_the_same_leaderboard(tmp_path):
    sid = f"t-board-{uuid.uuid4().hex[:8]}"
    (tmp_path / "s.toml").write_text(SWEEP_TOML.format(sid=sid), encoding="utf-8")
    ran = cab("sweep", str(tmp_path / "s.toml"), "--out", str(tmp_path))
    assert ran.returncode == 0, ran.stdout + ran.stderr
    sweep = tmp_path / sid

    # the sweep wrote its sweep composites as data the report reads
    scores = SweepScores.model_validate_json((sweep / SWEEP_SCORES_FILE).read_text())
    assert scores.sweep_id == sid and scores.cells

    out = cab("results", str(sweep), "--json")
    assert out.returncode == 0, out.stderr
    board = json.loads(out.stdout)["leaderboard"]
    assert cab("report", str(sweep), "--out", str(tmp_path / "site")).returncode == 0
    site = site_rows((tmp_path / "site" / "index.html").read_text(encoding="utf-8"))

    expected = [(f"{r['tui']} {r['model']}", r["pass_rate"], r["mean_composite"]) for r in board]
    assert site == expected
    assert len(site) == 4
    # the order is the default one: pass rate (None last), ties by composite
    keys = [(p if p is not None else -1.0, c if c is not None else -1.0) for _, p, c in site]
    assert keys == sorted(keys, reverse=True)
    assert site[-1] == ("reference scripted-throttled", None, None)  # infra only
    assert any(p == 1.0 for _, p, _ in site) and any(p is not None and p < 1 for _, p, _ in site)
