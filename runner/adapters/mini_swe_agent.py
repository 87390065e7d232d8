"""`mini-swe-agent` (PyPI mini-swe-agent 2.x): bash tool calls over chat completions.

The model is reached through litellm as `openai/<model>`, so OPENAI_API_BASE (and
OPENAI_BASE_URL, which newer litellm prefers) point it at the proxy. The agent's loop ends
when a command prints COMPLETE_TASK_AND_SUBMIT_FINAL_OUTPUT; --exit-immediately stops it
from asking a human whether to carry on. Its trajectory (every message, with litellm's
responses) is written to /cab/out/trajectory.json after each step.

Retries: mini-swe-agent wraps each call in tenacity (10 attempts, exponential wait 4-60 s,
Retry-After not read); MSWEA_MODEL_RETRY_STOP_AFTER_ATTEMPT sets the attempt count. We
leave the CLI's own defaults unless the cell passes that variable in `extra_env`.
"""

from __future__ import annotations

import shlex

from runner.adapters.base import HOME_DIR, OUT_DIR, AdapterContext, AgentRun, Api, run_attrs
from runner.adapters.wiring import (
    BYO_OPENAI_EXPORTS,
    LITELLM_OFFLINE,
    agent_env,
    openai_env,
    published_model,
)
from runner.sandbox.base import WORKSPACE

#: Steps (model calls) before mini-swe-agent stops itself; its default (0) is unlimited
#: and cost tracking cannot stop it because unknown models cost 0.
STEP_LIMIT = 60


class MiniSweAgentAdapter:
    tui = "mini-swe-agent"
    version = "2.4.6"
    api: Api = "chat"
    client_timeout_s = 600.0
    retry_hint = "set MSWEA_MODEL_RETRY_STOP_AFTER_ATTEMPT=N (a plugin's env)"
    image = "mini-swe-agent"
    #: nothing in mini-swe-agent's requests changes from run to run (docs/transcripts.md)
    replay_normalise: tuple[str, ...] = ()

    def prepare(self, ctx: AdapterContext) -> AgentRun:
        command = [
            "mini",
            "--model",
            f"openai/{ctx.model}",
            "--task",
            ctx.prompt,
            "--yolo",
            "--exit-immediately",
            "--cost-limit",
            "0",
            "--output",
            f"{OUT_DIR}/trajectory.json",
            "--config",
            "mini.yaml",
            "--config",
            f"environment.cwd={WORKSPACE}",
            "--config",
            f"agent.step_limit={STEP_LIMIT}",
            *ctx.extra_args,
        ]
        env = agent_env(
            ctx,
            openai_env(ctx, base_url_alias=True),
            LITELLM_OFFLINE,
            HOME=HOME_DIR,
            MSWEA_GLOBAL_CONFIG_DIR=f"{HOME_DIR}/mini-swe-agent",
            MSWEA_CONFIGURED="true",
            MSWEA_COST_TRACKING="ignore_errors",
        )
        return AgentRun(
            image=self.image,
            command=command,
            env=env,
            attrs=run_attrs(
                self,
                trajectory=f"{OUT_DIR}/trajectory.json",
            ),
        )

    def byo_snippet(self, model: str, prompt: str) -> str:
        return "\n".join(
            [
                "# swap base_url, api_key, and model for your endpoint",
                *BYO_OPENAI_EXPORTS,
                "export MSWEA_CONFIGURED=true MSWEA_COST_TRACKING=ignore_errors",
                "",
                f"pip install mini-swe-agent=={self.version}",
                'mini --model "openai/$YOUR_MODEL_ID" \\',
                "  --yolo --exit-immediately --cost-limit 0 \\",
                f"  --config mini.yaml --config agent.step_limit={STEP_LIMIT} \\",
                "  --output trajectory.json \\",
                f"  --task {shlex.quote(prompt)}",
                "",
                published_model(model),
            ]
        )


ADAPTER = MiniSweAgentAdapter()
