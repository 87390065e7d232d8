"""`reference`: our own stdlib-only agent (runner/agents/reference_agent.py).

The agent file is mounted read-only at /cab/agent; the task prompt goes in a file under
/cab/home so no shell quoting is involved; the trajectory lands in /cab/out.
"""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Literal

from runner.adapters.base import OUT_DIR, TASK_FILE, AdapterContext, AgentRun, run_attrs
from runner.sandbox.base import Mount

AGENT_DIR = Path(__file__).resolve().parent.parent / "agents"


class ReferenceAdapter:
    tui = "reference"
    version = "0.1.0"
    api: Literal["chat", "responses"] = "chat"
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
        env = {
            "OPENAI_API_BASE": ctx.base_url,
            "OPENAI_API_KEY": ctx.api_key,
            "PYTHONUNBUFFERED": "1",
            **ctx.extra_env,
        }
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
                'export OPENAI_API_BASE="$YOUR_ENDPOINT"',
                'export OPENAI_API_KEY="$YOUR_KEY"',
                "",
                "python3 runner/agents/reference_agent.py \\",
                '  --model "$YOUR_MODEL_ID" \\',
                f"  --task {shlex.quote(prompt)}",
                "",
                f"# Published cell used model: {model}",
            ]
        )


ADAPTER = ReferenceAdapter()
