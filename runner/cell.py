"""One cell, end to end: task setup, the agent in its sandbox through the proxy, the hidden
tests on a fresh copy, the diff, the scores, the record, and cleanup whatever happens.

`run_cell` is the stages of runner/pipeline/stages.py over one CellState, in the way
mini-swe-agent's agent loop is a few named steps: whatever a stage raises, the `finally`
cleans up and writes a complete, honest `cell.json` (a crashed, hung or interrupted agent
included; an interruption is raised again once the record is written).
"""

from __future__ import annotations

from runner.harness import Harness
from runner.models import ModelSpec
from runner.pipeline.finish import write_record
from runner.pipeline.options import CellOptions, Plugin, cell_dir_for
from runner.pipeline.stages import STAGES, clean_up
from runner.pipeline.state import open_cell
from runner.record import CellRecord
from runner.tasks import Task

__all__ = ["CellOptions", "Plugin", "cell_dir_for", "run_cell"]


def run_cell(
    tui: str,
    model: ModelSpec,
    task: Task,
    opts: CellOptions | None = None,
    harness: Harness | None = None,
) -> CellRecord:
    """Run one cell and write its record; `harness` is shared by a sweep, else started here."""
    state = open_cell(tui, model, task, opts or CellOptions(), harness)
    try:
        for stage in STAGES:
            stage(state)
    except BaseException as exc:  # ours, or Ctrl-C: said in the record, never lost
        state.fail(exc)
    finally:
        clean_up(state)
        record = write_record(state)
    if state.interrupted is not None:
        raise state.interrupted
    return record
