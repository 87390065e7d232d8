"""`reference`: our own stdlib-only agent (runner/agents/reference_agent.py).

The agent file is mounted read-only at /cab/agent; the task prompt goes in a file under
/cab/home so no shell quoting is involved; the trajectory lands in /cab/out.
"""

from __future__ import annotations

import shlex
from pathlib import Path

from runner.adapters.base import OUT_DIR, TASK_FILE, AdapterContext, AgentRun, Api, run_attrs
from runner.adapters.wiring import BYO_OPENAI_EXPORTS, agent_env, openai_env, published_model
from runner.sandbox.base import Mount

AGENT_DIR = Path(__file__).resolve().parent.parent / "agents"


class ReferenceAdapter:
    tui = "reference"
    version = "0.1.0"
    api: Api = "chat"
    client_timeout_s = 300.0
    retry_hint = "pass --retries N (and --max-wait S, the cap on one wait) to the reference agent (a plugin's args)"
    image = "toolbox"

    def prepare(self, ctx: AdapterContext) -> AgentRun:
        command = [
            "python3",
            "/cab/agent/reference_agent.py",
            "--model",
            ctx.model,
            "--task-file",
            TASK_FILE,
            "--trajectory",
            f"{OUT_DIR}/trajectory.json",
            "--client-timeout",
            f"{self.client_timeout_s:g}",
            *ctx.extra_args,
        ]
        env = agent_env(ctx, openai_env(ctx), PYTHONUNBUFFERED="1")
        return AgentRun(
            image=self.image,
            command=command,
            env=env,
            mounts=[Mount(source=AGENT_DIR, target="/cab/agent", read_only=True)],
            attrs=run_attrs(self),
        )

    def byo_snippet(self, model: str, prompt: str) -> str:
        return "\n".join(
            [
                "# the reference agent is one stdlib-only file: runner/agents/reference_agent.py",
                *BYO_OPENAI_EXPORTS,
                "",
                "python3 runner/agents/reference_agent.py \\",
                '  --model "$YOUR_MODEL_ID" \\',
                f"  --task {shlex.quote(prompt)}",
                "",
                published_model(model),
            ]
        )


ADAPTER = ReferenceAdapter()
