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
from runner.models import ModelSpec, checked_endpoint, load_models
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
    # quota, absorb and fault injection, as in config/models.toml (docs/proxy.md)
    rpm: int | None = Field(None, gt=0)
    tpm: int | None = Field(None, gt=0)
    max_concurrency: int | None = Field(None, gt=0)
    quota_window_s: float = Field(60.0, gt=0)
    absorb: bool = False
    inject: str | None = None

    @field_validator("endpoint")
    @classmethod
    def _url(cls, v: str) -> str:
        return checked_endpoint(v).rstrip("/")


class SweepConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sweep_id: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
    tuis: list[str] = Field(min_length=1, description="agent CLIs (adapter names)")
    models: list[str | ModelEntry] = Field(min_length=1)
    tasks: list[str] = Field(min_length=1, description="task ids, globs or categories")
    visible_tests: bool = Field(
        False,
        description="aider-polyglot exercises keep their tests visible, read-only (aider's "
        "mode; ids aider-polyglot-visible/...)",
    )
    task_sources: list[Path] = Field(
        default_factory=list,
        description="task folders read besides the built-in tasks/ (ours, aider-polyglot, "
        "Harbor); relative paths are from the sweep file's folder",
    )
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
    inject: dict[str, str] = Field(
        default_factory=dict,
        description="faults to inject per model name, e.g. { scripted = '429@30%;seed=1' }",
    )
    robustness: bool = Field(
        False, description="a robustness sweep: cells that met injected faults are ranked too"
    )

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
    base = path.parent if path != Path("<inline>") else Path.cwd()
    cfg.task_sources = [p if p.is_absolute() else (base / p) for p in cfg.task_sources]
    for i, source in enumerate(cfg.task_sources):
        if not source.is_dir():
            raise ConfigError(path, f"task_sources.{i}", f"not a folder: {source}")
    return cfg


def task_sources(cfg: SweepConfig, tasks_dir: Path = TASKS_DIR) -> list[Path]:
    """The built-in suite (or `tasks_dir`) and the sweep's own task sources."""
    return [tasks_dir, *cfg.task_sources]


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
            try:
                out.append(ModelSpec(**entry.model_dump()))
            except ValidationError as exc:
                raise ConfigError(cfg.path, f"models.{i}", exc.errors()[0]["msg"]) from exc
    out = [_with_inject(cfg, m) for m in out]
    unknown = sorted(set(cfg.inject) - {m.name for m in out})
    if unknown:
        raise ConfigError(cfg.path, f"inject.{unknown[0]}", "not a model of this sweep")
    names = [m.name for m in out]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ConfigError(cfg.path, "models", f"model names repeat: {dupes}")
    return out


def _with_inject(cfg: SweepConfig, model: ModelSpec) -> ModelSpec:
    spec = cfg.inject.get(model.name)
    if spec is None:
        return model
    try:
        return ModelSpec.model_validate({**model.model_dump(), "inject": spec})
    except ValidationError as exc:
        raise ConfigError(cfg.path, f"inject.{model.name}", exc.errors()[0]["msg"]) from exc


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
        tasks = select(cfg.tasks, task_sources(cfg, tasks_dir), visible_tests=cfg.visible_tests)
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
