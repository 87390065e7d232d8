"""CellRecord: everything one cell recorded, written as `cell.json`.

The raw facts (`facts`, the scorer's Evidence) are kept apart from the scores so that
`cab score` can rescore a cell without running it again. Names follow the reference
cell page: run identity, timing, scorer breakdown, spans, model calls.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from proxy.records import ModelCall
from runner.sandbox.isolation import IsolationFacts
from runner.spans import Span
from scorer.evidence import Evidence

SCHEMA_VERSION = 1


class RunIdentity(BaseModel):
    cell_id: str
    sweep_id: str
    container_image: str | None = None
    image_digest: str | None = None
    model_build_id: str | None = None
    exit_code: int | None = None
    tui_version: str | None = None
    sandbox: str = "docker"
    isolated: bool = True
    network: str | None = Field(None, description="how the agent reached the proxy")
    network_mode: str | None = Field(
        None, description="isolated (default) | host (opted in) | local (not isolated)"
    )
    endpoint: str = Field("embedded", description="'embedded' or the upstream base URL")
    attempt: int = 1


class CellTiming(BaseModel):
    started_at: datetime
    ended_at: datetime
    duration: float = Field(description="seconds: the agent's run, as wall_clock_ms")
    cell_started_at: datetime | None = Field(None, description="the whole cell, setup to score")
    cell_ended_at: datetime | None = None


class Reproduce(BaseModel):
    """The "Run it yourself" section's commands."""

    docker_run: str = ""
    run_cell: str = ""
    byo: str = ""


class CellRecord(BaseModel):
    schema_version: int = SCHEMA_VERSION
    cell_id: str
    sweep_id: str
    tui: str
    model: str
    task_id: str
    category: str
    title: str
    prompt: str
    identity: RunIdentity
    timing: CellTiming
    facts: Evidence
    scores: dict[str, Any] | None = Field(None, description="the scorer's Scorecard dump")
    spans: list[Span] = Field(default_factory=list)
    artifacts: dict[str, str] = Field(default_factory=dict, description="name -> file in cell dir")
    reproduce: Reproduce = Field(default_factory=Reproduce)
    isolation: IsolationFacts | None = Field(
        None, description="how the agent's container was confined, with the evidence"
    )

    @property
    def calls(self) -> list[ModelCall]:
        return self.facts.calls

    @property
    def verdict(self) -> str | None:
        return (self.scores or {}).get("verdict", {}).get("verdict")

    def write(self, cell_dir: Path) -> Path:
        cell_dir.mkdir(parents=True, exist_ok=True)
        path = cell_dir / "cell.json"
        tmp = path.with_suffix(".json.tmp")
        tmp.write_text(self.model_dump_json(indent=1), encoding="utf-8")
        tmp.replace(path)
        return path

    @classmethod
    def read(cls, cell_dir: Path) -> CellRecord:
        path = cell_dir / "cell.json" if cell_dir.is_dir() else cell_dir
        return cls.model_validate(json.loads(path.read_text(encoding="utf-8")))


def cell_id_for(sweep_id: str, tui: str, model: str, task_id: str) -> str:
    return f"{sweep_id}/{tui}/{model}/{task_id}"
