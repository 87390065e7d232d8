"""Sweep files (`config/sweeps/*.toml`): which agents × models × tasks to run, and how.

A sweep file is data, validated by pydantic; every error names the file and the field
(`config/sweeps/x.toml: field 'models.1.endpoint': ...`) so a typo never costs a run.
The matrix it expands to is a list of `CellPlan`s, one per (tui, model, task, repeat);
their cell ids and folders are fixed here so resume can find them again.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from runner.cell import Plugin
from runner.errors import ConfigError, RunnerError
from runner.models import ModelSpec, load_models
from runner.record import cell_id_for
from runner.tasks import TASKS_DIR, Task, select
from scorer.config import Weights

SWEEPS_DIR = Path(__file__).resolve().parent.parent / "config" / "sweeps"


class RetryConfig(BaseModel):
    """Infra retries: a cell whose verdict is infra is queued again, with backoff."""

    model_config = ConfigDict(extra="forbid")

    attempts: int = Field(3, ge=1, le=20, description="attempts in all, the first included")
    backoff_s: float = Field(2.0, ge=0, description="wait before the 2nd attempt; doubles")
    backoff_max_s: float = Field(60.0, ge=0, description="cap on one wait")


class SweepScoring(BaseModel):
    """A sweep file's [scoring]: only the weights (scorer.config.ScoringConfig is the rest)."""

    model_config = ConfigDict(extra="forbid")

    weights: Weights | None = Field(
        None, description="composite weights (config/scoring.toml's when unset); sum to 1"
    )


class ModelEntry(BaseModel):
    """A model given inline: its endpoint, the env var holding its key, the model id."""

    model_config = ConfigDict(extra="forbid")

    name: str
    endpoint: str
    key_env: str | None = None
    model_id: str | None = None
    build_id: str | None = None

    @field_validator("endpoint")
    @classmethod
    def _url(cls, v: str) -> str:
        if v != "embedded" and not v.startswith(("http://", "https://")):
            raise ValueError("must be 'embedded' or an http(s) base URL ending in /v1")
        return v.rstrip("/")


class SweepConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sweep_id: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
    tuis: list[str] = Field(min_length=1, description="agent CLIs (adapter names)")
    models: list[str | ModelEntry] = Field(min_length=1)
    tasks: list[str] = Field(min_length=1, description="task ids, globs or categories")
    repeats: int = Field(1, ge=1, le=100)
    concurrency: int = Field(2, ge=1, le=64)
    timeout_s: float | None = Field(None, gt=0, description="agent timeout; task's own if unset")
    network_mode: Literal["isolated", "host"] = Field(
        "isolated", description="isolated: the proxy is the agent's only door; host: opt-in"
    )
    sandbox: str = Field("auto", pattern="^(auto|docker|local)$")
    plugins: list[Plugin] = Field(default_factory=list)
    scoring: SweepScoring = Field(default_factory=SweepScoring)
    retry: RetryConfig = Field(default_factory=RetryConfig)

    # Filled in by the loader.
    path: Path = Field(default=Path("<inline>"), exclude=True)


class CellPlan(BaseModel):
    """One cell of the matrix: what to run and where its record lives."""

    cell_id: str
    base_cell_id: str = Field(description="the cell id without the repeat suffix")
    tui: str
    model: ModelSpec
    task: Task
    repeat: int = 1
    rel_dir: str = Field(description="the cell's folder, relative to the sweep folder")


def load_sweep(path: Path) -> SweepConfig:
    """Read and validate a sweep file; errors name the file and the field."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(path, "<file>", f"cannot read: {exc.strerror or exc}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(path, "<toml>", f"not valid TOML: {exc}") from exc
    return parse_sweep(data, path)


def parse_sweep(data: dict, path: Path = Path("<inline>")) -> SweepConfig:
    try:
        cfg = SweepConfig.model_validate(data)
    except ValidationError as exc:
        errors = exc.errors()
        # a `str | ModelEntry` union fails both branches; a table's error is the useful one
        err = next((e for e in errors if "str" not in e["loc"]), errors[0])
        loc = [str(p) for p in err["loc"] if p not in ("str", "ModelEntry")]
        raise ConfigError(path, ".".join(loc) or "<root>", err["msg"]) from exc
    cfg.path = path
    return cfg


def resolve_models(cfg: SweepConfig) -> list[ModelSpec]:
    """Names are looked up in config/models.toml; inline entries become ModelSpecs."""
    named = load_models() if any(isinstance(m, str) for m in cfg.models) else {}
    out: list[ModelSpec] = []
    for i, entry in enumerate(cfg.models):
        if isinstance(entry, str):
            if entry not in named:
                raise ConfigError(
                    cfg.path,
                    f"models.{i}",
                    f"unknown model '{entry}' (known: {', '.join(sorted(named))}); "
                    "or give a table with name, endpoint, key_env, model_id",
                )
            out.append(named[entry])
        else:
            out.append(ModelSpec(**entry.model_dump()))
    names = [m.name for m in out]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ConfigError(cfg.path, "models", f"model names repeat: {dupes}")
    return out


def expand(cfg: SweepConfig, tasks_dir: Path = TASKS_DIR) -> list[CellPlan]:
    """The matrix, tui × model × task × repeat, in a stable order."""
    from runner.adapters import all_adapters

    adapters = all_adapters()
    for i, tui in enumerate(cfg.tuis):
        if tui not in adapters:
            raise ConfigError(
                cfg.path, f"tuis.{i}", f"unknown agent '{tui}' (known: {', '.join(adapters)})"
            )
    models = resolve_models(cfg)
    try:
        tasks = select(cfg.tasks, tasks_dir)
    except RunnerError as exc:
        raise ConfigError(cfg.path, "tasks", str(exc)) from exc
    plans: list[CellPlan] = []
    for tui in cfg.tuis:
        for model in models:
            for task in tasks:
                base = cell_id_for(cfg.sweep_id, tui, model.name, task.id)
                rel = f"{tui}/{model.name}/{task.category}/{task.name}"
                for r in range(1, cfg.repeats + 1):
                    many = cfg.repeats > 1
                    plans.append(
                        CellPlan(
                            cell_id=f"{base}#r{r}" if many else base,
                            base_cell_id=base,
                            tui=tui,
                            model=model,
                            task=task,
                            repeat=r,
                            rel_dir=f"{rel}/r{r}" if many else rel,
                        )
                    )
    return plans
