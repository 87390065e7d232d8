"""A failed cell's last words: on `cab diagnose`'s console and on its cell page."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from proxy.capture import TranscriptWriter
from tests.test_atif import chat_reply, write


def test_diagnose_and_the_page_show_what_a_failed_cell_said_last(tmp_path):
    """A failed cell's last assistant message and last tool result, on the console and the
    cell page (from its wire transcript)."""
    fixture = Path(__file__).parent / "fixtures" / "schema_v2" / "reference"
    shutil.copytree(fixture, tmp_path / "sweep" / "reference")
    cell = (
        tmp_path / "sweep" / "reference" / "scripted-throttled" / "polyglot" / "go-http-handler-fix"
    )
    writer = TranscriptWriter(cell)
    history = [{"role": "system", "content": "sys"}, {"role": "user", "content": "task"}]
    write(writer, 1, history, chat_reply("run the tests", ("c1", "bash", '{"cmd": "go test"}')))
    history += [
        {"role": "assistant", "content": "run the tests"},
        {"role": "tool", "tool_call_id": "c1", "content": "FAIL TestGreet 200 != 400"},
    ]
    write(writer, 2, history, chat_reply("I give up"))
    cab = [sys.executable, "-m", "cab"]
    out = subprocess.run([*cab, "diagnose", str(cell)], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "last assistant message: I give up" in out.stdout
    assert "last tool result before the end: FAIL TestGreet 200 != 400" in out.stdout
    site = tmp_path / "site"
    proc = subprocess.run([*cab, "report", str(tmp_path / "sweep"), "--out", str(site)],
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    page = next(site.rglob("scripted-throttled/polyglot/go-http-handler-fix.html")).read_text()
    assert 'id="last-words"' in page and "FAIL TestGreet 200 != 400" in page
