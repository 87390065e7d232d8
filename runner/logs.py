"""structlog, set up once: a console renderer for people, JSON lines with `--log-json`,
and optionally a log file that gets every line in full.

With a log file (`cab demo`), the console is for people reading a run: it shows warnings
and errors that are not about one cell (the progress display prints a line per cell
already) and never a traceback; the file keeps every line at the level asked for,
tracebacks included, as JSON lines.
"""

from __future__ import annotations

import json as jsonlib
import logging
import sys
from collections.abc import Mapping, MutableMapping
from pathlib import Path
from typing import Any, TextIO

import structlog

#: Keys holding a traceback: kept in the log file, dropped from the console.
TRACEBACK_KEYS = ("tb", "exc_info", "exception")


class FileTee:
    """A processor: writes each event to the file as a JSON line, then passes on to the
    console only what the console should show."""

    def __init__(self, path: Path, console_level: int) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.file: TextIO = open(path, "a", encoding="utf-8")  # noqa: SIM115 - process-long
        self.console_level = console_level

    def __call__(
        self, logger: Any, method: str, event: MutableMapping[str, Any]
    ) -> Mapping[str, Any]:
        self.file.write(jsonlib.dumps(event, default=str) + "\n")
        self.file.flush()
        level = logging.getLevelName(str(event.get("level", method)).upper())
        if not isinstance(level, int) or level < self.console_level or "cell_id" in event:
            raise structlog.DropEvent
        shown = {k: v for k, v in event.items() if k not in TRACEBACK_KEYS}
        if len(shown) < len(event):
            shown["details"] = str(self.path)
        return shown

    def close(self) -> None:
        self.file.close()


_tee: FileTee | None = None


def stderr_logger(*_args: Any) -> structlog.PrintLogger:
    """A logger printing to whatever sys.stderr is *now*: binding the stream once, at
    configure time, keeps writing to it after it is closed (a replaced stderr, as under
    pytest's capture), and then every later log line raises."""
    return structlog.PrintLogger(file=sys.stderr)


def configure(
    json: bool = False,
    level: str = "INFO",
    log_file: Path | None = None,
    console_level: str = "WARNING",
) -> None:
    """Console logging at `level`; with `log_file`, the file gets everything at `level`
    and the console only `console_level` and above, cell lines and tracebacks left out."""
    global _tee
    lvl = getattr(logging, level.upper(), logging.INFO)
    renderer: structlog.types.Processor = (
        structlog.processors.JSONRenderer()
        if json
        else structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
    )
    processors: list[structlog.types.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    if _tee is not None:
        _tee.close()
        _tee = None
    if log_file is not None:
        _tee = FileTee(log_file, getattr(logging, console_level.upper(), logging.WARNING))
        processors += [structlog.processors.format_exc_info, _tee]
    structlog.configure(
        processors=[*processors, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(lvl),
        logger_factory=stderr_logger,
        cache_logger_on_first_use=False,
    )
