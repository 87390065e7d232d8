"""`openhands` (PyPI openhands-sdk + openhands-tools): OpenHands' agent, headless, local.

The OpenHands app (openhands-ai 1.x) is a web server that starts a runtime container per
conversation, which would need the host's docker.sock inside the cell (the reference
page's deviation "root+docker.sock"). The SDK underneath runs the same agent in-process
with a local workspace, so the image's cab_openhands_run.py drives it directly: no nested
container, commands run in the cell's own container. Tools: terminal, file editor, task
tracker; no browser.

The LLM is litellm's `openai/<model>` with LLM_BASE_URL = the proxy and LLM_API_KEY = the
session key (chat completions with tool calls). Events are persisted to /cab/out/openhands.

Retries: the SDK's LLM retries 5 times waiting 8-64 s (exponential, Retry-After not
read); LLM_NUM_RETRIES / LLM_RETRY_MIN_WAIT / LLM_RETRY_MAX_WAIT (extra_env) change that.
"""

from __future__ import annotations

import shlex

from runner.adapters.base import (
    HOME_DIR,
    OUT_DIR,
    TASK_FILE,
    AdapterContext,
    AgentRun,
    Api,
    run_attrs,
)
from runner.adapters.wiring import LITELLM_OFFLINE, agent_env, published_model
from runner.sandbox.base import WORKSPACE

MAX_ITERATIONS = 60


class OpenHandsAdapter:
    tui = "openhands"
    version = "1.34.0"
    api: Api = "chat"
    client_timeout_s = 300.0
    retry_hint = "set LLM_NUM_RETRIES / LLM_RETRY_MIN_WAIT / LLM_RETRY_MAX_WAIT (a plugin's env)"
    image = "openhands"
    #: per-run field of OpenHands' requests, left out when a replay compares them: the
    #: conversation id it sends as `prompt_cache_key` (a fresh uuid each run)
    replay_normalise: tuple[str, ...] = ("prompt_cache_key",)

    def prepare(self, ctx: AdapterContext) -> AgentRun:
        command = [
            "/opt/openhands/bin/python",
            "/opt/cab/cab_openhands_run.py",
            "--task-file",
            TASK_FILE,
            "--workspace",
            WORKSPACE,
            "--persist",
            f"{OUT_DIR}/openhands",
            "--max-iterations",
            str(MAX_ITERATIONS),
            *ctx.extra_args,
        ]
        llm = {
            "LLM_MODEL": f"openai/{ctx.model}",
            "LLM_BASE_URL": ctx.base_url,
            "LLM_API_KEY": ctx.api_key,
        }
        env = agent_env(ctx, llm, LITELLM_OFFLINE, HOME=HOME_DIR, OPENHANDS_SUPPRESS_BANNER="1")
        return AgentRun(
            image=self.image,
            command=command,
            env=env,
            attrs=run_attrs(
                self,
                runtime="local workspace in the cell's container (no docker.sock)",
                trajectory=f"{OUT_DIR}/openhands",
            ),
        )

    def byo_snippet(self, model: str, prompt: str) -> str:
        return "\n".join(
            [
                "# OpenHands' agent (openhands-sdk) on a local workspace; needs Python >= 3.12",
                f"pip install openhands-sdk=={self.version} openhands-tools=={self.version}",
                'export LLM_MODEL="openai/$YOUR_MODEL_ID"',
                'export LLM_BASE_URL="$YOUR_ENDPOINT"',
                'export LLM_API_KEY="$YOUR_KEY"',
                f"printf '%s' {shlex.quote(prompt)} > task.md",
                "python images/agents/openhands/cab_openhands_run.py \\",
                '  --task-file task.md --workspace "$PWD" --persist ./openhands-events',
                "",
                published_model(model),
            ]
        )


ADAPTER = OpenHandsAdapter()
