"""`oracle`: applies the task's reference solution, with no model (Harbor's oracle agent).

Our format and aider-polyglot: the solution files, mounted read-only, are copied over the
workspace. Harbor: `solution/` is mounted at /solution and `solve.sh` runs in the task's
environment, as Harbor's own oracle does. It runs in the task's own image (its tools are
what solve.sh may use), makes no model call, and proves a task solvable: together with
`nop` (which must fail) it is how `cab tasks check` proves a task set.
"""

from __future__ import annotations

from runner.adapters.base import AdapterContext, AgentRun, Api, run_attrs
from runner.errors import TaskSpecError
from runner.sandbox.base import Mount

#: Where the solution is mounted: Harbor's solve.sh expects /solution.
SOLUTION_DIR = "/solution"


class OracleAdapter:
    tui = "oracle"
    version = "0.1.0"
    api: Api = "chat"
    image = "toolbox"
    client_timeout_s = 60.0
    retry_hint = "it makes no model call, so it has no retries to raise"

    def prepare(self, ctx: AdapterContext) -> AgentRun:
        solution = ctx.solution_dir
        if solution is None or not solution.is_dir() or not any(solution.iterdir()):
            raise TaskSpecError(ctx.task_id, "solution", "the task has no reference solution")
        if (solution / "solve.sh").is_file() and ctx.solution_script:
            command = ["bash", f"{SOLUTION_DIR}/solve.sh"]
        else:
            command = ["cp", "-R", f"{SOLUTION_DIR}/.", "."]
        return AgentRun(
            image=ctx.task_image or self.image,
            command=command,
            # no model is called; the session's endpoint is there like every agent's
            env={"OPENAI_API_BASE": ctx.base_url, "OPENAI_API_KEY": ctx.api_key, **ctx.extra_env},
            mounts=[Mount(source=solution, target=SOLUTION_DIR, read_only=True)],
            attrs=run_attrs(self, model_calls="none: applies the reference solution"),
        )

    def byo_snippet(self, model: str, prompt: str) -> str:
        return "# the oracle applies the task's reference solution; it uses no model"


ADAPTER = OracleAdapter()
