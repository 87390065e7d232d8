"""CellRecord: everything one cell recorded, written as `cell.json`.

The raw facts (`facts`, the scorer's Evidence) are kept apart from the scores (the
scorer's Scorecard, typed) so that `cab score` can rescore a cell without running it
again. Names follow the reference cell page: run identity, timing, scorer breakdown,
spans, model calls.

The format carries `schema_version`. Every cell.json written so far still loads: a
before-validator upgrades an old file one step at a time (MIGRATIONS), as Inspect's
EvalLog does. The standing rule (docs/records.md, "Versions"): every change to cell.json
bumps SCHEMA_VERSION, adds a migration step here and an old-format fixture under
tests/fixtures/.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field, model_validator

from proxy.records import ModelCall
from runner.confinement import IsolationFacts
from runner.spans import Span
from scorer.card import Scorecard
from scorer.evidence import Evidence
from scorer.ranking import CellResult
from scorer.throttle import account
from scorer.timeline import held_intervals, tidy, union_ms
from scorer.verdict import judge

#: The format of cell.json this code writes.
SCHEMA_VERSION = 6


def _v1_to_v2(data: dict[str, Any]) -> dict[str, Any]:
    """v2 stores the throttle account with the scorecard (`scores.throttle`). It is a pure
    function of the recorded calls, so a v1 file gets the same account a rescore would."""
    scores = data.get("scores")
    if isinstance(scores, dict) and "throttle" not in scores:
        evidence = Evidence.model_validate(data.get("facts"))
        data["scores"] = {**scores, "throttle": account(evidence.calls).model_dump(mode="json")}
    return data


def _v2_to_v3(data: dict[str, Any]) -> dict[str, Any]:
    """v3 says whether a cell is a replay (`identity.replay_of`): cells before were not."""
    identity = data.get("identity")
    if isinstance(identity, dict):
        data["identity"] = {**identity, "replay_of": identity.get("replay_of")}
    return data


def _v3_to_v4(data: dict[str, Any]) -> dict[str, Any]:
    """v4 records the sandbox's facts in `facts.agent` (signal, oom_killed,
    killed_externally, start/end, budget_s, client_timeout_s, mem_limit; all optional) and
    judges verdicts by the infra-streak rule. The verdict is a pure function of the facts,
    so an older file gets the verdict a rescore would give (without the new facts, the
    agent's window is rebuilt from its calls and wall clock)."""
    scores = data.get("scores")
    if isinstance(scores, dict) and isinstance(scores.get("verdict"), dict):
        evidence = Evidence.model_validate(data.get("facts"))
        passed = (scores.get("pass_rate") or {}).get("pass") == 1
        data["scores"] = {**scores, "verdict": judge(evidence, passed).model_dump(mode="json")}
    return data


def _v4_to_v5(data: dict[str, Any]) -> dict[str, Any]:
    """v5 records what the proxy's governor did: calls carry queued_ms, retry_of,
    absorbed, injected and client_retry_count (absent before: none of it happened), the
    latency axis `queued_ms`, and the throttle account what was held back, absorbed and
    injected: both computed from the recorded calls, as a rescore would."""
    scores = data.get("scores")
    if isinstance(scores, dict):
        evidence = Evidence.model_validate(data.get("facts"))
        latency = scores.get("latency")
        if isinstance(latency, dict):
            queued = tidy(round(union_ms(held_intervals(evidence.calls)), 3))
            scores = {**scores, "latency": {**latency, "queued_ms": queued}}
        data["scores"] = {**scores, "throttle": account(evidence.calls).model_dump(mode="json")}
    return data


def _v5_to_v6(data: dict[str, Any]) -> dict[str, Any]:
    """v6 records the agent's confinement (`identity.network_mode`, `isolation`). Before
    it, a docker agent used host networking unless a note says another docker network;
    what the container saw was not recorded, so `isolation` stays null."""
    identity = data.get("identity")
    if isinstance(identity, dict) and "network_mode" not in identity:
        note = identity.get("network") or ""
        mode = "host"
        if note.startswith("docker network '"):
            mode = note.removeprefix("docker network '").rstrip("'")
        identity = {**identity, "network_mode": mode if identity.get("isolated", True) else "local"}
        data["identity"] = identity
    data.setdefault("isolation", None)
    return data


#: version n -> the step that upgrades a version-n dict to version n + 1.
MIGRATIONS: dict[int, Callable[[dict[str, Any]], dict[str, Any]]] = {
    1: _v1_to_v2,
    2: _v2_to_v3,
    3: _v3_to_v4,
    4: _v4_to_v5,
    5: _v5_to_v6,
}


def migrate(data: Any) -> Any:
    """Upgrade a cell.json dict of any earlier version to SCHEMA_VERSION."""
    if not isinstance(data, dict):
        return data
    # Every file ever written carries its version; a dict without one is built in code.
    version = data.get("schema_version", SCHEMA_VERSION)
    if not isinstance(version, int) or version > SCHEMA_VERSION:
        raise ValueError(
            f"schema_version {version!r}: this cab reads cell.json up to version "
            f"{SCHEMA_VERSION} (written by a newer cab?)"
        )
    data = dict(data)
    while version < SCHEMA_VERSION:
        data = MIGRATIONS[version](data)
        version += 1
    data["schema_version"] = version
    return data


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
    replay_of: str | None = Field(
        None, description="a replay: the cell_id of the recorded cell whose replies it served"
    )


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
    scores: Scorecard | None = Field(None, description="None only when scoring never ran")
    spans: list[Span] = Field(default_factory=list)
    artifacts: dict[str, str] = Field(default_factory=dict, description="name -> file in cell dir")
    reproduce: Reproduce = Field(default_factory=Reproduce)
    isolation: IsolationFacts | None = Field(
        None, description="how the agent's container was confined, with the evidence"
    )

    @model_validator(mode="before")
    @classmethod
    def _upgrade(cls, data: Any) -> Any:
        return migrate(data)

    @property
    def calls(self) -> list[ModelCall]:
        return self.facts.calls

    @property
    def verdict(self) -> str | None:
        return self.scores.verdict.verdict if self.scores else None

    @property
    def infra(self) -> bool:
        """The verdict says infra: the cell is kept, but counts as no capability result."""
        return self.scores.infra if self.scores else False

    def result(self, sweep_composite: float | None = None) -> CellResult:
        """What the leaderboard (scorer.ranking) reads of this cell. An unscored record
        (scoring never ran) keeps its raw facts: tests passed or not, tokens, wall time."""
        card, calls = self.scores, self.calls
        common = {
            "tui": self.tui,
            "model": self.model,
            "task_id": self.task_id,
            "attempts": self.identity.attempt,
            "sweep_composite": sweep_composite,
        }
        if card is None:
            tests = self.facts.tests
            return CellResult(
                **common,
                infra=False,
                pass_=(1.0 if tests.exit_code == 0 else 0.0) if tests.ran else None,
                composite=None,
                total_tokens=sum(c.total_tokens or 0 for c in calls),
                wall_clock_ms=self.facts.timing.wall_clock_ms,
                injected=any(c.injected for c in calls),
            )
        return CellResult(
            **common,
            infra=card.infra,
            pass_=float(card.pass_rate.pass_),
            composite=float(card.composite.composite),
            total_tokens=card.tokens.total_tokens,
            wall_clock_ms=card.latency.wall_clock_ms,
            blast_radius=card.blast_radius.blast_radius,
            refusal=None if card.refusal.not_applicable else card.refusal.refusal,
            integrity=card.integrity.integrity,
            injected=bool(card.throttle.injected),
            attempted_calls=card.throttle.attempts,
            throttled_calls=card.throttle.throttled,
            queued_ms=card.latency.queued_ms,
        )

    def to_json(self) -> str:
        """cell.json's text: every writer (the runner, `cab score`) goes through here."""
        return self.model_dump_json(indent=1)

    def write(self, cell_dir: Path) -> Path:
        cell_dir.mkdir(parents=True, exist_ok=True)
        path = cell_dir / "cell.json"
        tmp = path.with_suffix(".json.tmp")
        tmp.write_text(self.to_json(), encoding="utf-8")
        tmp.replace(path)
        return path

    @classmethod
    def read(cls, cell_dir: Path) -> CellRecord:
        path = cell_dir / "cell.json" if cell_dir.is_dir() else cell_dir
        return cls.model_validate(json.loads(path.read_text(encoding="utf-8")))


def cell_id_for(sweep_id: str, tui: str, model: str, task_id: str) -> str:
    return f"{sweep_id}/{tui}/{model}/{task_id}"
