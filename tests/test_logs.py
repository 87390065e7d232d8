"""runner.logs: the console logger follows sys.stderr as it is when a line is logged."""

from __future__ import annotations

import io
import sys

import structlog

from runner.logs import configure


def test_logging_still_works_after_the_stderr_it_was_configured_with_is_closed(monkeypatch):
    first = io.StringIO()
    monkeypatch.setattr(sys, "stderr", first)
    configure()
    structlog.get_logger("t").info("while.first")
    first.close()  # as pytest closes a test's captured stderr
    second = io.StringIO()
    monkeypatch.setattr(sys, "stderr", second)
    try:
        structlog.get_logger("t").info("after.close")
    finally:
        configure()
    assert "after.close" in second.getvalue()
