"""`opencode` (npm opencode-ai, a native binary): chat completions via an OpenAI-compatible
provider.

OpenCode's built-in `openai` provider calls the Responses API, so the adapter declares a
provider `cab` backed by @ai-sdk/openai-compatible (chat completions) in a config file
(OPENCODE_CONFIG=/cab/home/opencode.json): `options.baseURL` is the proxy, `options.apiKey`
is `{env:CAB_API_KEY}` so the key stays in the environment. The provider package is
pre-installed in the image; nothing is fetched from npm at run time.

`opencode run --auto` answers the one message and exits (`--title` spares the extra
title-generation call it would otherwise make with the same model); permissions are allowed in the
config (edit, bash) and web fetches denied. `--format json` puts its event stream on
stdout (the agent log); XDG_DATA_HOME under /cab/out keeps its own log and session storage
as artifacts.
"""

from __future__ import annotations

import json
import shlex

from runner.adapters.base import HOME_DIR, OUT_DIR, AdapterContext, AgentRun, Api, run_attrs
from runner.adapters.wiring import agent_env, published_model
from runner.sandbox.base import WORKSPACE

KEY_ENV = "CAB_API_KEY"
PROVIDER = "cab"


def opencode_config(model: str, base_url: str) -> dict:
    """opencode.json: one OpenAI-compatible provider with one model, no sharing, no updates."""
    return {
        "$schema": "https://opencode.ai/config.json",
        "provider": {
            PROVIDER: {
                "npm": "@ai-sdk/openai-compatible",
                "name": "CodingAgentBench proxy",
                "options": {"baseURL": base_url, "apiKey": f"{{env:{KEY_ENV}}}"},
                "models": {model: {"name": model}},
            }
        },
        "model": f"{PROVIDER}/{model}",
        "autoupdate": False,
        "share": "disabled",
        "permission": {"edit": "allow", "bash": "allow", "webfetch": "deny"},
    }


class OpenCodeAdapter:
    tui = "opencode"
    version = "1.18.33"
    api: Api = "chat"
    client_timeout_s = 300.0
    retry_hint = "opencode's provider retries are not exposed as a flag; raise timeout_s or the quota, or let the proxy absorb 429s"
    image = "opencode"
    #: no per-run field in opencode's requests; its system prompt says "Today's date: …",
    #: so a replay matches on the day of the recording only (docs/transcripts.md)
    replay_normalise: tuple[str, ...] = ()

    def prepare(self, ctx: AdapterContext) -> AgentRun:
        config = opencode_config(ctx.model, ctx.base_url)
        (ctx.home_dir / "opencode.json").write_text(json.dumps(config, indent=2), "utf-8")
        command = [
            "opencode",
            "run",
            "--auto",
            "--format",
            "json",
            "--print-logs",
            "--log-level",
            "INFO",
            "--dir",
            WORKSPACE,
            "--model",
            f"{PROVIDER}/{ctx.model}",
            "--title",
            ctx.task_id,
            *ctx.extra_args,
            ctx.prompt,
        ]
        env = agent_env(
            ctx,
            {KEY_ENV: ctx.api_key},
            OPENCODE_CONFIG=f"{HOME_DIR}/opencode.json",
            HOME=HOME_DIR,
            XDG_CONFIG_HOME=f"{HOME_DIR}/config",
            XDG_CACHE_HOME=f"{HOME_DIR}/cache",
            XDG_STATE_HOME=f"{HOME_DIR}/state",
            XDG_DATA_HOME=f"{OUT_DIR}/opencode-data",
            OPENCODE_DISABLE_AUTOUPDATE="1",
            OPENCODE_DISABLE_MODELS_FETCH="1",
        )
        return AgentRun(
            image=self.image,
            command=command,
            env=env,
            attrs=run_attrs(
                self,
                logs=f"{OUT_DIR}/opencode-data/opencode/log",
            ),
        )

    def byo_snippet(self, model: str, prompt: str) -> str:
        config = json.dumps(opencode_config("YOUR_MODEL_ID", "YOUR_ENDPOINT"), indent=2)
        return "\n".join(
            [
                "# opencode: an @ai-sdk/openai-compatible provider (chat completions)",
                'export CAB_API_KEY="$YOUR_KEY"',
                "cat > opencode.json <<'EOF'",
                config,
                "EOF",
                "",
                f"npm install -g opencode-ai@{self.version}",
                "OPENCODE_CONFIG=$PWD/opencode.json opencode run --auto \\",
                f"  --model {PROVIDER}/YOUR_MODEL_ID {shlex.quote(prompt)}",
                "",
                published_model(model),
            ]
        )


ADAPTER = OpenCodeAdapter()
