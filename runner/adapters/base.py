"""The Adapter protocol: how one agent CLI is given a task and pointed at the proxy.

An adapter is data plus two functions (`prepare`, `byo_snippet`). Adding a CLI means
adding one module under runner/adapters/ that defines `ADAPTER`, and its line in the
registry (`ADAPTERS` in runner/adapters/__init__.py). Shared env blocks: wiring.py.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal, Protocol

from pydantic import BaseModel, Field

from runner.sandbox.base import Mount

#: Where an adapter's logs and trajectories go inside the sandbox (kept as cell artifacts).
OUT_DIR = "/cab/out"
#: A scratch home for the agent's config files (mounted read-write); the pipeline creates
#: it and writes the task prompt into it before `prepare` is called.
HOME_DIR = "/cab/home"
#: The task prompt as a file, so no adapter has to quote it on a command line.
TASK_FILE = f"{HOME_DIR}/task.md"
#: How agents reach the proxy here (said in the container span).
HOST_NETWORK = "host (proxy on 127.0.0.1)"


class AdapterContext(BaseModel):
    """Everything an adapter may use to build its run."""

    task_id: str
    prompt: str
    model: str = Field(description="the model name the agent should ask for")
    base_url: str = Field(description="the proxy's OpenAI base URL, ending in /v1")
    api_key: str = Field(description="the session key (cab-...), never a provider key")
    out_dir: Path = Field(description="host folder seen at /cab/out")
    home_dir: Path = Field(description="host folder seen at /cab/home (holds task.md)")
    timeout_s: float = 600
    extra_env: dict[str, str] = Field(default_factory=dict, description="from plugins")
    extra_args: list[str] = Field(default_factory=list, description="from plugins")
    task_image: str | None = Field(
        None, description="the task's own image (oracle and nop run there; None: toolbox)"
    )
    solution_dir: Path | None = Field(None, description="the task's reference solution")
    solution_script: bool = Field(
        False, description="the solution is a script to run (Harbor's solve.sh), not files"
    )

    def write_home(self) -> None:
        """Create the home folder with the task prompt in it (TASK_FILE inside the sandbox).
        The pipeline calls this before `prepare`, so adapters only add their config files."""
        self.home_dir.mkdir(parents=True, exist_ok=True)
        (self.home_dir / "task.md").write_text(self.prompt, encoding="utf-8")


class AgentRun(BaseModel):
    """What the sandbox runs for the agent: paths are the sandbox's (/workspace, /cab/...)."""

    image: str = Field(description="image name from config/images.toml (or a full tag)")
    command: list[str]
    env: dict[str, str] = Field(default_factory=dict)
    mounts: list[Mount] = Field(default_factory=list)
    attrs: dict[str, object] = Field(
        default_factory=dict, description="extra span attributes (e.g. a deviation note)"
    )


def run_attrs(adapter: Adapter, **extra: object) -> dict[str, object]:
    """The container span attributes every adapter gives: network, CLI version, extras."""
    return {"network": HOST_NETWORK, "cli_version": adapter.version, **extra}


#: The API an agent speaks to the model: chat completions or the Responses API.
Api = Literal["chat", "responses"]
#: The proxy's upstream timeout for a session: this share of the agent's client timeout,
#: so a hung provider is recorded as `timeout` before the agent gives up on the call ...
UPSTREAM_SHARE_OF_CLIENT = 0.8
#: ... and at most this share of the cell's budget, so a hang still leaves time to retry.
UPSTREAM_SHARE_OF_BUDGET = 0.5


def upstream_timeout_s(client_timeout_s: float, budget_s: float) -> float:
    """The per-session upstream timeout the proxy applies for an agent and budget."""
    return round(
        max(1.0, min(UPSTREAM_SHARE_OF_CLIENT * client_timeout_s,
                     UPSTREAM_SHARE_OF_BUDGET * budget_s)), 3
    )  # fmt: skip


class Adapter(Protocol):
    tui: str
    version: str
    api: Api
    image: str
    #: The CLI's own HTTP client timeout per model call, in seconds.
    client_timeout_s: float
    #: How to raise the CLI's retry budget (a flag, env var or config key), for advice.
    retry_hint: str

    def prepare(self, ctx: AdapterContext) -> AgentRun: ...

    def byo_snippet(self, model: str, prompt: str) -> str:
        """The "Run it yourself" wiring for a person's own endpoint."""
        ...
