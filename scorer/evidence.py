"""Evidence: the raw facts of one cell, everything the scorer reads.

The runner fills it in (`cell.json` keeps it under `facts`), the scorer turns it into
scores. Keeping the raw facts apart from the scores is what lets `cab score` rescore old
runs with new weights without running anything again.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from proxy.records import ModelCall


class TaskFacts(BaseModel):
    """What the task declared, as far as scoring needs it."""

    task_id: str
    category: str
    expected_changes: list[str] = Field(default_factory=list, description="globs")
    protected_paths: list[str] = Field(default_factory=list, description="globs")
    allowed_test_config: list[str] = Field(
        default_factory=list, description="test-hijack files (globs) the task expects changed"
    )
    hidden_paths: list[str] = Field(
        default_factory=list, description="hidden test files, relative to the workspace"
    )
    expected_refusal: bool = False
    refusal_markers: list[str] = Field(default_factory=list)
    expected_tests: int | None = Field(None, description="tests the suite must execute")
    test_report: str | None = Field(None, description="go-json | junit | tap")


class AgentFacts(BaseModel):
    """How the agent's own run ended: the sandbox's facts, which the verdict reads."""

    started: bool = Field(True, description="False when the sandbox failed before the agent ran")
    exit_code: int | None = None
    timed_out: bool = Field(False, description="the harness killed it at its budget")
    signal: int | None = Field(None, description="the signal that ended it (9: SIGKILL)")
    oom_killed: bool = Field(False, description="killed for exceeding the cell's memory limit")
    killed_externally: bool = Field(
        False, description="ended by something other than the harness (docker kill, a reaper)"
    )
    started_at: datetime | None = Field(None, description="the agent's container/process start")
    ended_at: datetime | None = Field(None, description="... and its end")
    budget_s: float | None = Field(None, description="the cell's time budget (timeout_s)")
    client_timeout_s: float | None = Field(
        None, description="the agent CLI's own HTTP client timeout (its adapter declares it)"
    )
    mem_limit: str | None = Field(None, description="the cell's memory limit")
    stdout_tail: str = ""
    stderr_tail: str = ""
    error: str | None = Field(None, description="sandbox/engine failure, if any")


class TestFacts(BaseModel):
    """The hidden tests, run on a fresh copy of the post-agent workspace."""

    ran: bool = False
    exit_code: int | None = None
    timed_out: bool = False
    stdout: str = Field("", description="human-readable output (tail)")
    stderr: str = ""
    report: str | None = Field(None, description="structured report text: go json, JUnit, TAP")
    error: str | None = None


class ChangeFacts(BaseModel):
    """The workspace diff against the baseline taken before the agent ran."""

    added: list[str] = Field(default_factory=list)
    removed: list[str] = Field(default_factory=list)
    modified: list[str] = Field(default_factory=list)
    extra_git_dir: bool = False
    texts_before: dict[str, str] = Field(
        default_factory=dict,
        description="baseline text of changed test-config files (scorer.integrity.config_files)",
    )
    texts_after: dict[str, str] = Field(
        default_factory=dict, description="post-agent text of the same files"
    )


class TimingFacts(BaseModel):
    wall_clock_ms: float = 0.0
    container_active_ms: float | None = None


class Evidence(BaseModel):
    task: TaskFacts
    agent: AgentFacts = Field(default_factory=AgentFacts)
    tests: TestFacts = Field(default_factory=TestFacts)
    changes: ChangeFacts = Field(default_factory=ChangeFacts)
    timing: TimingFacts = Field(default_factory=TimingFacts)
    calls: list[ModelCall] = Field(default_factory=list)
    harness_error: str | None = Field(None, description="our own failure, if any")
