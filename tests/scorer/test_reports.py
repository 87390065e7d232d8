"""The report parsers, on output the real tools printed just now (no hand-typed reports)."""

from __future__ import annotations

import re

import pytest
import scorer_suites as suites

from scorer.reports import ReportError, go_text, parse_report


def _untimed(text: str) -> str:
    return re.sub(r"\(\d+\.\d+s\)|\t\d+\.\d+s", "<t>", text)


def test_go_json_counts_leaf_tests_and_subtests(tmp_path):
    root = suites.go_suite(tmp_path / "m", "example.com/mixed", {"m_test.go": suites.GO_MIXED_TEST})
    proc = suites.go_test(root, json=True)
    assert proc.returncode == 1
    counts = parse_report("go-json", proc.stdout)
    # TestParent has subtests, so it is a container, not a test
    assert (counts.total, counts.passed, counts.failed, counts.skipped) == (5, 2, 2, 1)
    assert counts.failed_names == ["TestFail", "TestParent/bad"]
    assert counts.skipped_names == ["TestSkip"]
    assert "TestParent" not in counts.names


def test_go_json_page_suite_two_of_four_fail(tmp_path):
    root = suites.handler_suite(tmp_path / "h")
    counts = parse_report("go-json", suites.go_test(root, json=True).stdout)
    assert (counts.total, counts.passed, counts.failed) == (4, 2, 2)
    assert counts.failed_names == [
        "TestGreet_MissingNameReturns400",
        "TestGreet_EmptyNameReturns400",
    ]


@pytest.mark.parametrize("suite", ["handler", "mixed"])
def test_go_text_reads_like_plain_go_test(tmp_path, suite):
    if suite == "handler":
        root = suites.handler_suite(tmp_path / "h")
    else:
        root = suites.go_suite(
            tmp_path / "m", "example.com/mixed", {"m_test.go": suites.GO_MIXED_TEST}
        )
    plain = suites.go_test(root, json=False).stdout
    rebuilt = go_text(suites.go_test(root, json=True).stdout)
    if suite == "mixed":  # we keep skips visible; plain go test hides them
        rebuilt = re.sub(r"--- SKIP: TestSkip \(.*?\)\n    m_test.go:7: later\n", "", rebuilt)
    assert _untimed(rebuilt) == _untimed(plain)
    assert "=== RUN" not in rebuilt


def test_go_text_page_tail(tmp_path):
    root = suites.handler_suite(tmp_path / "h")
    rebuilt = _untimed(go_text(suites.go_test(root, json=True).stdout))
    assert rebuilt == (
        "--- FAIL: TestGreet_MissingNameReturns400 <t>\n"
        "    handler_test.go:34: status: got 200 want 400\n"
        "--- FAIL: TestGreet_EmptyNameReturns400 <t>\n"
        "    handler_test.go:44: status: got 200 want 400\n"
        "FAIL\nFAIL\tcodingagentbench/gohttphandler<t>\nFAIL\n"
    )


def test_junit_from_pytest(tmp_path):
    proc, xml = suites.pytest_junit(tmp_path / "py")
    assert proc.returncode == 1
    counts = parse_report("junit", xml)
    assert (counts.total, counts.passed, counts.failed, counts.skipped) == (6, 2, 3, 1)
    assert "test_mixed::test_error" in counts.failed_names  # a setup error is a failure
    assert "test_mixed::test_param[2]" in counts.failed_names
    assert counts.skipped_names == ["test_mixed::test_skip"]


def test_tap_from_node(tmp_path):
    proc = suites.node_tap(tmp_path / "node")
    assert proc.returncode == 1
    counts = parse_report("tap", proc.stdout)
    # node's own footer agrees: "# tests 5"; the describe block is not a test
    assert re.search(r"^# tests 5$", proc.stdout, re.M)
    assert (counts.total, counts.passed, counts.failed, counts.skipped) == (5, 2, 2, 1)
    assert counts.failed_names == ["fails", "group > inner bad"]
    assert "group" not in counts.names


def test_all_passing_suites_count_every_test(tmp_path):
    proc, xml = suites.pytest_junit(
        tmp_path / "py", "def test_a():\n    pass\n\ndef test_b():\n    pass\n"
    )
    assert proc.returncode == 0
    assert parse_report("junit", xml).model_dump(include={"total", "passed"}) == {
        "total": 2,
        "passed": 2,
    }
    node = suites.node_tap(tmp_path / "n", "require('node:test')('one', () => {});\n")
    assert node.returncode == 0
    assert parse_report("tap", node.stdout).passed == 1


@pytest.mark.parametrize(
    ("fmt", "text", "needle"),
    [
        ("junit", "<testsuite><testcase", "not well-formed"),
        ("junit", '<!DOCTYPE x [<!ENTITY a "b">]><x/>', "entity"),
        ("go-json", "this is not json\n", "no `go test -json` events"),
        ("tap", "hello\n", "no TAP test points"),
        ("xunit", "", "unknown report format 'xunit'"),
    ],
)
def test_bad_reports_name_format_and_problem(fmt, text, needle):
    with pytest.raises(ReportError, match=re.escape(needle)):
        parse_report(fmt, text)
