"""What a caller may choose about one cell: where it is written, which sandbox, plugins."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, Field, field_validator

from runner.adapters import ADAPTERS
from runner.isolation import Network
from runner.tasks import Task
from scorer.config import Weights


class Plugin(BaseModel):
    """Extra env and args for the agent, applied in order (the page's plugin_stack)."""

    name: str
    env: dict[str, str] = Field(default_factory=dict)
    args: list[str] = Field(default_factory=list)
    tuis: list[str] | None = Field(
        None, description="the agent CLIs it applies to (every one when unset); skipped for others"
    )

    @field_validator("tuis")
    @classmethod
    def _known(cls, v: list[str] | None) -> list[str] | None:
        unknown = sorted(set(v or ()) - set(ADAPTERS))
        if unknown:
            raise ValueError(f"unknown agents {unknown} (known: {', '.join(sorted(ADAPTERS))})")
        return v

    def applies_to(self, tui: str) -> bool:
        return self.tuis is None or tui in self.tuis


class ReplayOptions(BaseModel):
    """Answer the agent from a recorded cell's transcript instead of its model."""

    source: Path = Field(description="the recorded cell's folder (cell.json, transcript)")
    cell_id: str = Field(description="the recorded cell's id, said in the replay's record")
    real_time: bool = Field(False, description="wait each call's recorded latency")


class CellOptions(BaseModel):
    sweep_id: str = "adhoc"
    out_root: Path = Path("runs")
    sandbox: str = "auto"
    network_mode: Network = Field(
        "isolated", description="isolated (the proxy is the only door) | host (an opt-in)"
    )
    probe_ports: list[int] = Field(
        default_factory=list,
        description="host 127.0.0.1 ports the in-container check must find unreachable",
    )
    timeout_s: float | None = Field(None, description="overrides the task's timeout_s")
    mem_limit: str | None = Field(
        None, description="the agent container's memory limit (default: the task's, config's)"
    )
    attempt: int = 1
    plugins: list[Plugin] = Field(default_factory=list)
    cell_dir: Path | None = Field(None, description="overrides out_root/<cell path>")
    cell_id: str | None = Field(None, description="overrides the derived id (sweep repeats)")
    weights: Weights | None = Field(None, description="composite weights (scoring.toml's)")
    transcripts: bool = Field(True, description="keep request bodies and replies (keys redacted)")
    replay: ReplayOptions | None = Field(None, description="replay a recorded cell")


def cell_dir_for(opts: CellOptions, tui: str, model: str, task: Task) -> Path:
    return opts.cell_dir or opts.out_root / opts.sweep_id / tui / model / task.category / task.name
