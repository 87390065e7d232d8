"""`codex` (npm @openai/codex, a native Rust binary): the Responses API, streamed.

Codex has no OpenAI-compatible env switch worth trusting for a custom endpoint, so the
adapter writes $CODEX_HOME/config.toml with a `cab` model provider (`base_url` = the proxy,
`env_key` = CAB_API_KEY, `wire_api = "responses"`) and selects it. The key stays in the
environment; config.toml holds no secret. CODEX_HOME is under /cab/out so its session
rollout (every item of the conversation) and its own log are kept as cell artifacts; the
`--json` event stream goes to stdout, i.e. the agent log.

`codex exec --dangerously-bypass-approvals-and-sandbox` runs without asking and without
codex's own Landlock/seccomp sandbox: the container is the sandbox.

Also off: web search (`web_search = "disabled"`; the proxy serves no such tool), analytics
and the curated-plugin sync from GitHub (`[features] plugins = false`).

Retries: measured against a 429 with Retry-After: 1, codex 0.169 makes 6 attempts (its
provider's `stream_max_retries` default of 5), waiting what Retry-After says, and gives up
after ~5 s. We keep its defaults; set `stream_max_retries` in config.toml to change them.
"""

from __future__ import annotations

import json
import shlex

from runner.adapters.base import OUT_DIR, AdapterContext, AgentRun, Api, run_attrs
from runner.adapters.wiring import agent_env, published_model
from runner.sandbox.base import WORKSPACE

CODEX_HOME = f"{OUT_DIR}/codex-home"
KEY_ENV = "CAB_API_KEY"


def config_toml(model: str, base_url: str) -> str:
    """The config.toml that points codex at the proxy (json.dumps quotes TOML strings)."""
    q = json.dumps
    return "\n".join(
        [
            f"model = {q(model)}",
            'model_provider = "cab"',
            'approval_policy = "never"',
            'sandbox_mode = "danger-full-access"',
            "check_for_update_on_startup = false",
            'web_search = "disabled"',
            "",
            "[analytics]",
            "enabled = false",
            "",
            "[features]",
            "plugins = false",
            "",
            "[model_providers.cab]",
            'name = "CodingAgentBench proxy"',
            f"base_url = {q(base_url)}",
            f"env_key = {q(KEY_ENV)}",
            'wire_api = "responses"',
            "",
        ]
    )


class CodexAdapter:
    tui = "codex"
    version = "0.169.0"
    api: Api = "responses"
    client_timeout_s = 300.0
    retry_hint = "set request_max_retries / stream_max_retries on the model provider in $CODEX_HOME/config.toml (-c model_providers.cab.stream_max_retries=N)"
    image = "codex"
    #: per-run fields of codex's requests, left out when a replay compares them
    #: (docs/transcripts.md): its session/thread/turn/installation ids and turn timestamp
    #: (`client_metadata`), the cache key (= the session id) and every input item's `id`
    #: (msg_<uuid>, fco_<uuid>). Not normalisable by key: the exec tool's output text
    #: ("Chunk ID: <random>", "Wall time: <s>"), so a replay misses at the first call
    #: that sends a tool result back.
    replay_normalise: tuple[str, ...] = ("client_metadata", "prompt_cache_key", "input.*.id")
    #: its exec tool's output, sent back next turn, starts with a random chunk id and the
    #: command's wall time: per-run text, compared with placeholders on replay
    replay_rewrite: tuple[tuple[str, str], ...] = (
        (r"Chunk ID: [0-9A-Za-z]+", "Chunk ID: <id>"),
        (r"Wall time: [0-9.]+ seconds", "Wall time: <s> seconds"),
    )

    def prepare(self, ctx: AdapterContext) -> AgentRun:
        home = ctx.out_dir / "codex-home"
        home.mkdir(parents=True, exist_ok=True)
        (home / "config.toml").write_text(config_toml(ctx.model, ctx.base_url), encoding="utf-8")
        command = [
            "codex",
            "exec",
            "--skip-git-repo-check",
            "--dangerously-bypass-approvals-and-sandbox",
            "--json",
            "--cd",
            WORKSPACE,
            "--output-last-message",
            f"{OUT_DIR}/last-message.md",
            *ctx.extra_args,
            ctx.prompt,
        ]
        env = agent_env(
            ctx, {"CODEX_HOME": CODEX_HOME, KEY_ENV: ctx.api_key}, HOME=CODEX_HOME, RUST_LOG="warn"
        )
        return AgentRun(
            image=self.image,
            command=command,
            env=env,
            attrs=run_attrs(
                self,
                codex_home=CODEX_HOME,
                retries="codex defaults (429: 5 retries, waits Retry-After)",
            ),
        )

    def byo_snippet(self, model: str, prompt: str) -> str:
        return "\n".join(
            [
                "# codex speaks the Responses API: your endpoint must serve POST /v1/responses",
                'export CAB_API_KEY="$YOUR_KEY"',
                "mkdir -p ~/.codex && cat > ~/.codex/config.toml <<'EOF'",
                config_toml("YOUR_MODEL_ID", "YOUR_ENDPOINT").rstrip(),
                "EOF",
                "",
                f"npm install -g @openai/codex@{self.version}",
                "codex exec --skip-git-repo-check --dangerously-bypass-approvals-and-sandbox \\",
                f"  --json {shlex.quote(prompt)}",
                "",
                published_model(model),
            ]
        )


ADAPTER = CodexAdapter()
