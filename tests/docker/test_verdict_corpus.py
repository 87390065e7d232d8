"""The labelled verdict corpus: real cells in Docker against the scenario provider.

Each scenario is a real cell (the reference agent, or a real agent CLI) whose provider
plays a per-session fault sequence (`faults/<sequence>/<model>`, proxy.fake.sequences),
with the verdict a careful maintainer gives it written beside it. The cells run
concurrently in one module fixture (short budgets, Retry-After scaled down); each
scenario is then its own test. docs/scoring.md lists the same table.

The reference agent plays `scenario/py-text-utils`: three harmless turns (ls, pwd, wc),
then the task's own script, so its fix is written on call 5 ("3 ok, then ..." fails
before any fix) and it submits on call 7.
"""

from __future__ import annotations

import shutil
import threading
import time
import tomllib
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import docker
import pytest

from runner.cell import CellOptions, Plugin, run_cell
from runner.harness import SCRIPTS_DIR, Harness
from runner.models import ModelSpec
from runner.record import CellRecord
from runner.tasks import get_task

pytestmark = pytest.mark.docker

PY_TASK = "partial/py-text-utils"
GO_TASK = "polyglot/go-http-handler-fix"
#: The reference agent, quick to give up: 2 retries, waits capped at 1 s.
QUICK = Plugin(name="quick-retries", args=["--retries", "2", "--max-wait", "1"])
#: mini-swe-agent's tenacity retries, cut from 10 attempts to 2.
MSWEA_QUICK = Plugin(name="mswea-2-attempts", env={"MSWEA_MODEL_RETRY_STOP_AFTER_ATTEMPT": "2"})


@dataclass
class Scenario:
    name: str
    sequence: str
    verdict: str
    bullet: str
    tui: str = "reference"
    budget_s: float = 30
    plugins: list[Plugin] = field(default_factory=lambda: [QUICK])
    mem_limit: str | None = None
    kill_after_s: float | None = None  # `docker kill` the agent from outside
    inner: str | None = None  # the inner model, when not the tui's default
    passed: bool | None = None
    says: str | None = None  # words the sentence must hold

    @property
    def task(self) -> str:
        return PY_TASK if self.tui == "reference" else GO_TASK

    def model(self) -> ModelSpec:
        inner = self.inner or (
            "scripted/scenario/py-text-utils" if self.tui == "reference" else "scripted/{task_id}"
        )
        return ModelSpec(
            name=f"scn-{self.name}", endpoint="embedded", model_id=f"faults/{self.sequence}/{inner}"
        )


S = Scenario
SCENARIOS = [
    # healthy runs and recoveries: capability
    S("healthy", "ok", "capability", "baseline", passed=True),
    S("recovers-after-503s", "ok*2,503*2,ok", "capability", "streak then ok", passed=True,
      says="recovered"),
    S("recovers-after-429s", "ok*2,429:retry_after=0.5*2,ok", "capability", "streak then ok",
      passed=True, says="recovered"),
    S("pass-then-streak", "ok*5,429:retry_after=0.2", "capability", "pass stays capability",
      passed=True),
    S("context-after-work", "ok*3,context", "capability", "context after work",
      says="outgrew the model's context window"),
    S("flagged-after-work", "ok*3,flagged", "capability", "moderation refused the request",
      says="moderation refused its last request"),
    S("plain-400-after-work", "ok*3,400", "capability", "agent's own bad request"),
    S("422-after-work", "ok*3,422", "capability", "agent's own bad request"),
    S("slow-provider", "slow:s=4", "capability", "healthy but slow", budget_s=14),
    S("late-short-streak", "slow:s=5*4,429:retry_after=3", "capability",
      "timed out, streak under half the budget", budget_s=30,
      plugins=[Plugin(name="patient", args=["--retries", "8", "--max-wait", "3"])],
      says="under half"),
    S("no-calls", "ok", "capability", "zero calls, no connection errors",
      plugins=[Plugin(name="no-steps", args=["--max-steps", "0"])], says="no model calls"),
    S("oom-in-own-limit", "ok", "capability", "OOM within the cell's limit", mem_limit="128m",
      inner="scripted/scenario/oom", says="memory limit (128m)"),
    # mid-run streaks that ended the run: infra
    S("mid-429", "ok*3,429:retry_after=0.3", "infra:rate_limit", "3 ok then 429",
      says="after 3 completed call(s)"),
    S("mid-503", "ok*3,503", "infra:provider_error", "3 ok then 5xx", says="HTTP 503"),
    S("mid-500", "ok*3,500", "infra:provider_error", "3 ok then 5xx"),
    S("mid-502", "ok*3,502", "infra:provider_error", "3 ok then 5xx"),
    S("mid-504", "ok*3,504", "infra:provider_error", "3 ok then 5xx"),
    S("mid-overloaded", "ok*3,overloaded", "infra:provider_error", "3 ok then 5xx"),
    S("mid-cut", "ok*3,cut", "infra:provider_error", "cut body", says="broke off mid-body"),
    S("mid-drop", "ok*3,drop", "infra:provider_error", "dropped connection",
      says="Provider unreachable"),
    S("mid-junk", "ok*3,junk", "infra:provider_error", "2xx non-API body",
      says="not the API's JSON"),
    S("mid-empty", "ok*3,empty", "infra:provider_error", "3 ok then a 200 with no answer",
      says="nothing in it"),
    S("mid-quota-in-200", "ok*3,quota-in-200", "infra:rate_limit",
      "3 ok then the quota bites inside a 200", says="reported inside its answer"),
    S("mid-overloaded-in-200", "ok*3,overloaded-in-200", "infra:provider_error",
      "3 ok then overloaded inside a 200", says="inside its answer"),
    S("mid-hang", "ok*2,hang", "infra:provider_error", "hang (upstream timeout)", budget_s=30),
    S("mid-hang-short", "ok*3,hang:s=1", "infra:provider_error", "hang that ends in 504"),
    S("mid-401", "ok*3,401", "infra:auth", "key revoked mid-run", says="HTTP 401"),
    S("mid-403", "ok*3,403", "infra:auth", "key revoked mid-run", says="HTTP 403"),
    S("mid-402", "ok*3,402", "infra:auth", "the account ran out of credit mid-run",
      says="out of credit (HTTP 402)"),
    S("mid-credit-in-200", "ok*3,credit-in-200", "infra:auth",
      "the credit ran out, said inside a 200", says="out of credit (reported inside its answer)"),
    S("mid-no-quota", "ok*3,no-quota", "infra:auth", "OpenAI's 429 insufficient_quota mid-run",
      says="out of credit (HTTP 429)"),
    S("mid-429-then-401", "ok*3,429:retry_after=0.2*2,401", "infra:auth", "auth wins"),
    S("mid-mixed", "ok*3,429:retry_after=0.2,503*2", "infra:provider_error",
      "last failure's type, every type listed", says="1 rate limit"),
    S("fix-blocked", "ok*4,429:retry_after=0.2", "infra:rate_limit", "streak before the fix"),
    S("worn-down-by-429s", "ok,429:retry_after=3*2,ok,429:retry_after=3*2,ok,"
      "429:retry_after=3*2,slow:s=4", "infra:rate_limit",
      "timed out after throttles it recovered from, one by one, took most of the budget",
      budget_s=24, plugins=[Plugin(name="patient", args=["--retries", "8", "--max-wait", "3"])],
      says="Provider rate limits took"),
    S("throttled-to-timeout", "ok*3,429:retry_after=3", "infra:rate_limit",
      "timed out honouring Retry-After", budget_s=14,
      plugins=[Plugin(name="patient", args=["--retries", "8", "--max-wait", "3"])],
      says="budget ran out"),
    S("hang-to-timeout", "ok*3,hang", "infra:provider_error", "killed while a call was in flight",
      budget_s=30, plugins=[Plugin(name="patient", args=["--retries", "8"])]),
    # from the first call: infra (the old rule's cases still hold)
    S("first-429", "429:retry_after=0.2", "infra:rate_limit", "throttled from the start",
      says="before doing any work"),
    S("first-503", "503", "infra:provider_error", "provider down"),
    S("first-401", "401", "infra:auth", "bad key"),
    S("first-cut", "cut", "infra:provider_error", "cut body"),
    S("first-drop", "drop", "infra:provider_error", "dropped connection"),
    S("first-junk", "junk", "infra:provider_error", "2xx non-API body"),
    S("first-hang", "hang", "infra:provider_error", "hang", budget_s=20),
    # set-up the user must fix: config
    S("model-not-found", "404", "infra:config", "404 model-not-found", says="model_not_found"),
    S("context-first-call", "context", "infra:config", "context-length on the first call"),
    # the sandbox: container
    S("unreachable-proxy", "ok", "infra:container", "zero calls, agent could not reach the proxy",
      plugins=[QUICK, Plugin(name="no-door", env={"OPENAI_API_BASE": "http://127.0.0.1:9/v1"})],
      says="could not reach the proxy"),
    S("killed-from-outside", "ok*2,slow:s=20", "infra:container", "exit 137 not timed out",
      budget_s=40, kill_after_s=5, says="killed from outside"),
    # real agent CLIs
    S("mswea-healthy", "ok", "capability", "real CLI baseline", tui="mini-swe-agent",
      budget_s=120, plugins=[MSWEA_QUICK], passed=True),
    S("mswea-mid-429", "ok,429:retry_after=0.2", "infra:rate_limit", "real CLI, 1 ok then 429",
      tui="mini-swe-agent", budget_s=120, plugins=[MSWEA_QUICK]),
    S("mswea-mid-401", "ok,401", "infra:auth", "real CLI, key revoked", tui="mini-swe-agent",
      budget_s=120, plugins=[MSWEA_QUICK]),
    S("mswea-mid-quota-in-200", "ok,quota-in-200", "infra:rate_limit",
      "real CLI, 1 ok then a gateway's 200 whose body is the quota error",
      tui="mini-swe-agent", budget_s=120, plugins=[MSWEA_QUICK], says="inside its answer"),
    S("mswea-model-not-found", "404", "infra:config", "real CLI, wrong model id",
      tui="mini-swe-agent", budget_s=120, plugins=[MSWEA_QUICK]),
    S("codex-mid-429", "ok,429:retry_after=0.2", "infra:rate_limit",
      "real CLI (Responses API), 1 ok then 429", tui="codex", budget_s=120, plugins=[],
      says="after 1 completed call(s)"),
    S("codex-mid-quota-in-200", "ok,quota-in-200", "infra:rate_limit",
      "real CLI (Responses API), 1 ok then the quota error event mid-stream", tui="codex",
      budget_s=120, plugins=[], says="reported inside its answer"),
    S("opencode-mid-quota-in-200", "ok,quota-in-200", "infra:rate_limit",
      "real CLI (Vercel AI SDK), 1 ok then the quota error as a stream event", tui="opencode",
      budget_s=120, plugins=[], says="reported inside its answer"),
    S("mswea-mid-empty", "ok,empty", "infra:provider_error",
      "real CLI, 1 ok then a 200 with no answer in it", tui="mini-swe-agent", budget_s=120,
      plugins=[MSWEA_QUICK], says="nothing in it"),
    S("opencode-mid-empty", "ok,empty", "infra:provider_error",
      "real CLI, 1 ok then streams of `data: [DONE]` alone (opencode asks again at once, for"
      " as long as the budget lasts)", tui="opencode", budget_s=120, plugins=[],
      says="until the 120 s budget ran out"),
    S("aider-first-quota-in-200", "quota-in-200", "infra:rate_limit",
      "real CLI, the quota error inside every 200 (aider may exit 0)", tui="aider",
      budget_s=120, plugins=[], says="before doing any work"),
    S("aider-first-401", "401", "infra:auth", "real CLI, bad key (aider may exit 0)",
      tui="aider", budget_s=120, plugins=[]),
]  # fmt: skip


def scenario_scripts(root: Path) -> Path:
    """config/scripts plus scenario/py-text-utils: three harmless turns, then the task's
    own script (fix on call 5, submit on call 7), and a memory hog for the OOM case."""
    scripts = root / "scripts"
    shutil.copytree(SCRIPTS_DIR, scripts)
    own = (SCRIPTS_DIR / f"{PY_TASK}.toml").read_text(encoding="utf-8")
    tomllib.loads(own)  # it parses: the scenario adds turns in the same format
    lead = "".join(
        f'[[turns]]\ncontent = "Looking around."\n[[turns.tool_calls]]\nname = "bash"\n'
        f'[turns.tool_calls.arguments]\ncommand = "{cmd}"\n\n'
        for cmd in ("ls", "pwd", "wc -l textutils.py")
    )
    (scripts / "scenario").mkdir()
    (scripts / "scenario" / "py-text-utils.toml").write_text(lead + own, encoding="utf-8")
    hog = "python3 -c 'b = bytearray(1024 * 1024 * 1024)'"
    (scripts / "scenario" / "oom.toml").write_text(
        f'[[turns]]\ncontent = "Loading everything."\n[[turns.tool_calls]]\nname = "bash"\n'
        f'[turns.tool_calls.arguments]\ncommand = "{hog}"\n',
        encoding="utf-8",
    )
    return scripts


def _kill_later(cell_id: str, after_s: float) -> threading.Thread:
    """`docker kill` the cell's agent container from outside, once it is running."""

    def kill() -> None:
        client = docker.from_env(timeout=30)
        deadline = time.monotonic() + after_s + 30
        time.sleep(after_s)
        while time.monotonic() < deadline:
            found = client.containers.list(
                filters={"label": f"cab.cell_id={cell_id}"}, ignore_removed=True
            )
            if found:
                found[0].kill()
                break
            time.sleep(0.2)
        client.close()

    thread = threading.Thread(target=kill, daemon=True)
    thread.start()
    return thread


def _run(scn: Scenario, harness: Harness, out: Path, sweep_id: str) -> CellRecord:
    opts = CellOptions(
        sweep_id=sweep_id,
        out_root=out,
        sandbox="docker",
        timeout_s=scn.budget_s,
        plugins=scn.plugins,
        mem_limit=scn.mem_limit,
    )
    task = get_task(scn.task)
    killer = None
    if scn.kill_after_s is not None:
        killer = _kill_later(f"{sweep_id}/{scn.tui}/scn-{scn.name}/{task.id}", scn.kill_after_s)
    record = run_cell(scn.tui, scn.model(), task, opts, harness)
    if killer is not None:
        killer.join(timeout=60)
    return record


@pytest.fixture(scope="module")
def corpus(tmp_path_factory, docker_client) -> dict[str, CellRecord]:
    root = tmp_path_factory.mktemp("verdict-corpus")
    sweep_id = f"corpus-{uuid.uuid4().hex[:8]}"
    # no governor: each scenario is its own provider; a shared lane would let one
    # scenario's hangs slow the others' calls
    with Harness(scripts_dir=scenario_scripts(root), governor=False) as harness:
        ordered = sorted(SCENARIOS, key=lambda s: -s.budget_s)  # long ones first
        with ThreadPoolExecutor(max_workers=8) as pool:
            futures = {
                s.name: pool.submit(_run, s, harness, root / "runs", sweep_id) for s in ordered
            }
            return {name: f.result() for name, f in futures.items()}


def test_the_corpus_is_big_enough_and_covers_every_bullet():
    assert len(SCENARIOS) >= 40
    assert len({s.name for s in SCENARIOS}) == len(SCENARIOS)
    assert len({s.tui for s in SCENARIOS if s.tui != "reference"}) >= 3
    verdicts = {s.verdict for s in SCENARIOS}
    for v in ("capability", "infra:rate_limit", "infra:provider_error", "infra:auth",
              "infra:config", "infra:container"):  # fmt: skip
        assert v in verdicts


@pytest.mark.parametrize("scn", SCENARIOS, ids=lambda s: s.name)
def test_scenario_verdict(scn: Scenario, corpus: dict[str, CellRecord]):
    record = corpus[scn.name]
    card = record.scores
    assert card is not None
    v = card.verdict
    story = (
        f"{scn.name} ({scn.bullet}): {v.verdict} — {v.sentence}\n"
        f"calls: {[(c.seq, c.outcome, c.status_code) for c in record.calls]}\n"
        f"agent: exit {record.facts.agent.exit_code}, timed out {record.facts.agent.timed_out}\n"
        f"{record.facts.agent.stdout_tail[-600:]}"
    )
    assert v.verdict == scn.verdict, story
    if scn.passed is not None:
        assert (card.pass_rate.pass_ == 1) == scn.passed, story
    if scn.says:
        assert scn.says in v.sentence, story
    assert "HTTP 200" not in v.sentence
