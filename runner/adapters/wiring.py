"""The env blocks and "bring your own endpoint" lines that several adapters share.

Every adapter points its CLI at the proxy through the environment (never the command line,
which is recorded in the container span). The blocks here are the ones that repeat: the
OpenAI SDK's variables, litellm's offline price table, and the plugins' env, which always
comes last so a sweep can override any of them.
"""

from __future__ import annotations

from collections.abc import Mapping

from runner.adapters.base import AdapterContext

#: litellm fetches its price table from GitHub at import unless told to use its own copy.
LITELLM_OFFLINE = {"LITELLM_LOCAL_MODEL_COST_MAP": "True"}

#: The BYO snippet's lines that point the OpenAI SDK at the reader's endpoint.
BYO_OPENAI_EXPORTS = [
    'export OPENAI_API_BASE="$YOUR_ENDPOINT"',
    'export OPENAI_API_KEY="$YOUR_KEY"',
]


def openai_env(ctx: AdapterContext, *, base_url_alias: bool = False) -> dict[str, str]:
    """OPENAI_API_BASE and OPENAI_API_KEY for the proxy; with `base_url_alias`, also
    OPENAI_BASE_URL (the name newer OpenAI SDKs and litellm read)."""
    env = {"OPENAI_API_BASE": ctx.base_url}
    if base_url_alias:
        env["OPENAI_BASE_URL"] = ctx.base_url
    env["OPENAI_API_KEY"] = ctx.api_key
    return env


def agent_env(ctx: AdapterContext, *blocks: Mapping[str, str], **env: str) -> dict[str, str]:
    """The agent's environment: the blocks in order, then `env`, then the plugins' env."""
    merged: dict[str, str] = {}
    for block in blocks:
        merged.update(block)
    return {**merged, **env, **ctx.extra_env}


def published_model(model: str) -> str:
    """The BYO snippet's closing line: the model the published cell used."""
    return f"# Published cell used model: {model}"
