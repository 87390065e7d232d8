"""pass_rate: did the hidden tests pass, and can we prove they actually ran?

The run cannot grade itself: pass is 1 only when the tests ran to completion, exited 0,
and (when the task names a report format) the report shows exactly the expected number
of tests executed with none failed and none skipped. Every reason for a 0 is kept in
`fail_reasons`.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from scorer.config import ScoringConfig
from scorer.evidence import Evidence
from scorer.reports import ReportError, TestCounts, go_events, go_text, parse_report
from scorer.timeline import tidy


class PassRate(BaseModel):
    model_config = ConfigDict(serialize_by_alias=True, validate_by_name=True)

    # the reference page's keys
    pass_: int = Field(alias="pass", description="1 when the hidden tests passed, else 0")
    exit_code: int | None
    timed_out: bool
    stdout_tail: str
    stderr_tail: str
    partial_score: float | int | None = Field(
        description="share of tests passed, from the structured report; null without one"
    )
    # extras
    tests_ran: bool
    report_format: str | None
    tests_expected: int | None
    tests_executed: int | None
    tests_passed: int | None
    tests_failed: int | None
    tests_skipped: int | None
    failed_tests: list[str]
    skipped_tests: list[str]
    report_error: str | None
    fail_reasons: list[str]


def last_chars(text: str, n: int) -> str:
    """The last `n` characters (0: all of it); the page's stdout_tail/stderr_tail."""
    return text[-n:] if n and len(text) > n else text


def human_stdout(evidence: Evidence) -> str:
    """The test output as a person reads it: go -json streams are turned back into
    what plain `go test` prints."""
    stdout = evidence.tests.stdout
    if go_events(stdout):
        return go_text(stdout)
    report = evidence.tests.report
    if not stdout.strip() and evidence.task.test_report == "go-json" and report:
        return go_text(report)
    return stdout


def score(evidence: Evidence, config: ScoringConfig | None = None) -> PassRate:
    config = config or ScoringConfig()
    tests, task = evidence.tests, evidence.task
    fmt = task.test_report
    reasons: list[str] = []
    counts: TestCounts | None = None
    report_error = None

    if tests.report and fmt:
        try:
            counts = parse_report(fmt, tests.report)
        except ReportError as exc:
            report_error = str(exc)

    if not tests.ran:
        reasons.append(f"the tests did not run{': ' + tests.error if tests.error else ''}")
    elif tests.error:
        reasons.append(f"the test run failed: {tests.error}")
    if tests.timed_out:
        reasons.append("the tests timed out")
    if tests.ran and tests.exit_code != 0:
        reasons.append(f"the test command exited {tests.exit_code}")
    if fmt and tests.ran:
        if report_error:
            reasons.append(f"the {fmt} report could not be read: {report_error}")
        elif counts is None:
            reasons.append(f"no {fmt} report: the suite did not show that it ran")
    if counts is not None:
        expected = task.expected_tests
        if expected is not None and counts.total != expected:
            reasons.append(f"{counts.total} tests executed, the task expects {expected}")
        elif counts.total == 0:
            reasons.append("the report lists no tests")
        if counts.failed:
            reasons.append(f"{counts.failed} test(s) failed")
        if counts.skipped:
            reasons.append(f"{counts.skipped} test(s) skipped (a skip counts as a failure)")
        if tests.exit_code not in (0, None) and not counts.failed:
            reasons.append("the report shows no failures but the test command exited non-zero")

    partial = None
    if counts is not None:
        denominator = max(counts.total, task.expected_tests or 0)
        partial = tidy(counts.passed / denominator) if denominator else 0
        if counts.score is not None:  # a verifier's own reward (Harbor) is the partial score
            partial = tidy(counts.score)

    return PassRate(
        pass_=0 if reasons else 1,
        exit_code=tests.exit_code,
        timed_out=tests.timed_out,
        stdout_tail=last_chars(human_stdout(evidence), config.pass_rate.tail_chars),
        stderr_tail=last_chars(tests.stderr, config.pass_rate.tail_chars),
        partial_score=partial,
        tests_ran=tests.ran,
        report_format=fmt,
        tests_expected=task.expected_tests,
        tests_executed=counts.total if counts else None,
        tests_passed=counts.passed if counts else None,
        tests_failed=counts.failed if counts else None,
        tests_skipped=counts.skipped if counts else None,
        failed_tests=counts.failed_names if counts else [],
        skipped_tests=counts.skipped_names if counts else [],
        report_error=report_error,
        fail_reasons=reasons,
    )
