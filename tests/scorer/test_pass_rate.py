"""pass_rate cannot be fooled by the run: it needs proof the expected suite ran clean."""

from __future__ import annotations

import scorer_suites as suites
from scorer_evidence import passing_cell, task

from scorer import pass_rate
from scorer.evidence import TestFacts as RunFacts

GO_OK = """package ok

import "testing"

func TestOne(t *testing.T) {}
func TestTwo(t *testing.T) {}
"""
GO_SKIP = GO_OK + 'func TestThree(t *testing.T) { t.Skip("not today") }\n'


def _go(tmp_path, source: str) -> RunFacts:
    root = suites.go_suite(tmp_path / "g", "example.com/ok", {"ok_test.go": source})
    proc = suites.go_test(root, json=True)
    return RunFacts(ran=True, exit_code=proc.returncode, stdout=proc.stdout, report=proc.stdout)


def test_clean_go_run_passes_with_full_partial(tmp_path):
    ev = passing_cell(
        task=task(test_report="go-json", expected_tests=2), tests=_go(tmp_path, GO_OK)
    )
    p = pass_rate.score(ev)
    assert (p.pass_, p.partial_score, p.tests_executed, p.fail_reasons) == (1, 1, 2, [])
    assert "=== RUN" not in p.stdout_tail


def test_fewer_tests_than_expected_fails(tmp_path):
    ev = passing_cell(
        task=task(test_report="go-json", expected_tests=3), tests=_go(tmp_path, GO_OK)
    )
    p = pass_rate.score(ev)
    assert p.pass_ == 0
    assert "2 tests executed, the task expects 3" in p.fail_reasons
    assert p.partial_score == 2 / 3  # the missing test counts against it


def test_a_skip_is_a_failure(tmp_path):
    tests = _go(tmp_path, GO_SKIP)
    assert tests.exit_code == 0  # go itself calls this a pass
    p = pass_rate.score(
        passing_cell(task=task(test_report="go-json", expected_tests=3), tests=tests)
    )
    assert p.pass_ == 0
    assert p.skipped_tests == ["TestThree"]
    assert any("skipped" in r for r in p.fail_reasons)


def test_no_failures_reported_but_nonzero_exit_fails(tmp_path):
    tests = _go(tmp_path, GO_OK)
    tests.exit_code = 1
    p = pass_rate.score(
        passing_cell(task=task(test_report="go-json", expected_tests=2), tests=tests)
    )
    assert p.pass_ == 0
    assert "the report shows no failures but the test command exited non-zero" in p.fail_reasons


def test_missing_report_fails_when_the_task_declares_one():
    ev = passing_cell(task=task(test_report="junit", expected_tests=2))
    p = pass_rate.score(ev)
    assert p.pass_ == 0 and p.partial_score is None
    assert "no junit report: the suite did not show that it ran" in p.fail_reasons


def test_broken_report_is_recorded_not_raised():
    tests = RunFacts(ran=True, exit_code=0, report="<testsuite><testcase")
    p = pass_rate.score(passing_cell(task=task(test_report="junit", expected_tests=1), tests=tests))
    assert p.pass_ == 0 and p.partial_score is None
    assert "not well-formed" in p.report_error


def test_timed_out_tests_fail():
    tests = RunFacts(ran=True, exit_code=None, timed_out=True)
    p = pass_rate.score(passing_cell(tests=tests))
    assert p.pass_ == 0 and p.timed_out is True
    assert "the tests timed out" in p.fail_reasons


def test_tests_that_never_ran_fail():
    p = pass_rate.score(passing_cell(tests=RunFacts(ran=False, error="image missing")))
    assert p.pass_ == 0
    assert p.fail_reasons == ["the tests did not run: image missing"]


def test_without_a_declared_report_the_exit_code_decides():
    assert pass_rate.score(passing_cell()).pass_ == 1
    failing = RunFacts(ran=True, exit_code=2, stdout="boom", stderr="trace")
    p = pass_rate.score(passing_cell(tests=failing))
    assert (p.pass_, p.partial_score, p.stderr_tail) == (0, None, "trace")


def test_junit_and_tap_reports_give_partial_scores(tmp_path):
    _, xml = suites.pytest_junit(tmp_path / "py")
    tests = RunFacts(ran=True, exit_code=1, report=xml)
    p = pass_rate.score(passing_cell(task=task(test_report="junit", expected_tests=6), tests=tests))
    assert (p.pass_, p.partial_score, p.tests_failed, p.tests_skipped) == (0, 2 / 6, 3, 1)
    node = suites.node_tap(tmp_path / "n")
    tests = RunFacts(ran=True, exit_code=node.returncode, stdout=node.stdout, report=node.stdout)
    p = pass_rate.score(passing_cell(task=task(test_report="tap", expected_tests=5), tests=tests))
    assert (p.pass_, p.partial_score) == (0, 2 / 5)


def test_tails_are_bounded():
    tests = RunFacts(ran=True, exit_code=1, stdout="x" * 10000 + "END")
    assert pass_rate.score(passing_cell(tests=tests)).stdout_tail.endswith("END")
    assert len(pass_rate.score(passing_cell(tests=tests)).stdout_tail) == 4000
