"""`aider` (PyPI aider-chat): SEARCH/REPLACE edits over chat completions, one message.

aider reaches the model through litellm as `openai/<model>`; OPENAI_API_BASE and
OPENAI_API_KEY come from the environment (never the command line, which lands in span
attrs). The image's `cab-aider` wrapper adds the workspace's text files to the chat and runs
with --no-git when the workspace is not a repository, so aider neither needs a repo map nor
`git init`s one (see images/agents/aider/cab-aider). The task goes in a file
(--message-file), so no shell quoting is involved; aider answers once and exits.

Logs: the chat transcript and the raw LLM exchange land in /cab/out; history files that
aider would otherwise drop into the workspace are redirected there too.

Retries: aider retries a 429 itself (waits 0.25 s doubling up to 32 s, ~64 s in all,
Retry-After not read; not configurable), on top of the OpenAI SDK's own retries inside
litellm.
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
from runner.adapters.wiring import (
    BYO_OPENAI_EXPORTS,
    LITELLM_OFFLINE,
    agent_env,
    openai_env,
    published_model,
)

#: The reference page's flags, plus where the history files go.
FLAGS = [
    "--edit-format",
    "diff",
    "--yes-always",
    "--no-stream",
    "--no-check-update",
    "--no-analytics",
    "--no-show-model-warnings",
    "--no-suggest-shell-commands",
    "--no-auto-commits",
    "--no-gitignore",
    "--no-pretty",
    "--no-fancy-input",
    "--no-detect-urls",
    "--no-show-release-notes",
]


class AiderAdapter:
    tui = "aider"
    version = "0.86.2"
    api: Api = "chat"
    client_timeout_s = 600.0
    retry_hint = "aider's own 429 retry (~64 s in all) is not configurable; raise timeout_s or the quota, or let the proxy absorb 429s"
    image = "aider"
    #: no per-run field in aider's requests (its file order is pinned by PYTHONHASHSEED,
    #: below); its system prompt says "Current date: …", so a replay matches on the day
    #: of the recording only (docs/transcripts.md)
    replay_normalise: tuple[str, ...] = ()

    def prepare(self, ctx: AdapterContext) -> AgentRun:
        command = [
            "cab-aider",
            "--model",
            f"openai/{ctx.model}",
            *FLAGS,
            "--chat-history-file",
            f"{OUT_DIR}/aider.chat.history.md",
            "--llm-history-file",
            f"{OUT_DIR}/aider.llm.history",
            "--input-history-file",
            f"{HOME_DIR}/aider.input.history",
            *ctx.extra_args,
            "--message-file",
            TASK_FILE,
        ]
        # aider keeps the chat's files in a set: a fixed hash seed sends them in the same
        # order every run, so a recorded cell replays strictly (docs/transcripts.md)
        env = agent_env(ctx, openai_env(ctx), LITELLM_OFFLINE, HOME=HOME_DIR, PYTHONHASHSEED="0")
        return AgentRun(
            image=self.image,
            command=command,
            env=env,
            attrs=run_attrs(
                self,
                transcript=f"{OUT_DIR}/aider.chat.history.md",
            ),
        )

    def byo_snippet(self, model: str, prompt: str) -> str:
        flags = " ".join(f for f in FLAGS if f not in ("--edit-format", "diff"))
        return "\n".join(
            [
                "# swap base_url, api_key, and model for your endpoint",
                *BYO_OPENAI_EXPORTS,
                "",
                "aider \\",
                '  --openai-api-base "$OPENAI_API_BASE" \\',
                '  --openai-api-key "$OPENAI_API_KEY" \\',
                '  --model "openai/$YOUR_MODEL_ID" --edit-format diff \\',
                f"  {flags} \\",
                f"  --message {shlex.quote(prompt)}",
                "",
                published_model(model),
            ]
        )


ADAPTER = AiderAdapter()
