"""`nop`: changes nothing and calls no model (Harbor's nop agent). A task whose hidden
tests pass after `nop` tests nothing; `cab tasks check` proves every task fails it."""

from __future__ import annotations

from runner.adapters.base import AdapterContext, AgentRun, Api, run_attrs


class NopAdapter:
    tui = "nop"
    version = "0.1.0"
    api: Api = "chat"
    image = "toolbox"
    client_timeout_s = 60.0
    retry_hint = "it makes no model call, so it has no retries to raise"

    def prepare(self, ctx: AdapterContext) -> AgentRun:
        return AgentRun(
            image=ctx.task_image or self.image,
            command=["true"],
            # no model is called; the session's endpoint is there like every agent's
            env={"OPENAI_API_BASE": ctx.base_url, "OPENAI_API_KEY": ctx.api_key, **ctx.extra_env},
            attrs=run_attrs(self, model_calls="none: changes nothing"),
        )

    def byo_snippet(self, model: str, prompt: str) -> str:
        return "# nop changes nothing and uses no model"


ADAPTER = NopAdapter()
