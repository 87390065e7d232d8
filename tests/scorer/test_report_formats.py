"""jest --json, Rust libtest text and Harbor rewards -> test counts (scorer/report_formats.py)."""

from __future__ import annotations

import json

import pytest

from scorer.reports import ReportError, parse_report

JEST = {
    "numTotalTests": 4,
    "testResults": [
        {
            "name": "/workspace/two-bucket.spec.js",
            "status": "failed",
            "assertionResults": [
                {"ancestorTitles": ["TwoBucket"], "title": "a", "fullName": "TwoBucket a",
                 "status": "passed"},
                {"ancestorTitles": ["TwoBucket"], "title": "b", "fullName": "TwoBucket b",
                 "status": "failed"},
                {"ancestorTitles": [], "title": "c", "fullName": "c", "status": "pending"},
            ],
        },
        {"name": "/workspace/broken.spec.js", "status": "failed", "assertionResults": [],
         "message": "SyntaxError"},
    ],
}  # fmt: skip

LIBTEST = """
running 0 tests

test result: ok. 0 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.00s

running 3 tests
test empty ... ok
test basic ... FAILED
test slow ... ignored, needs time
test result: FAILED. 1 passed; 1 failed; 1 ignored; 0 measured; 0 filtered out

running 1 test
test empty ... ok
"""


def test_jest_counts_leaf_results_and_a_file_that_failed_to_run():
    got = parse_report("jest-json", json.dumps(JEST))
    assert (got.total, got.passed, got.failed, got.skipped) == (4, 1, 2, 1)
    assert "broken.spec.js: the test file failed to run" in got.failed_names
    assert "two-bucket.spec.js > TwoBucket b" in got.failed_names


def test_jest_rejects_what_is_not_its_report():
    with pytest.raises(ReportError, match="jest-json"):
        parse_report("jest-json", "PASS ./x.spec.js")
    with pytest.raises(ReportError, match="testResults"):
        parse_report("jest-json", "{}")


def test_libtest_counts_every_binary_and_ignored_as_skipped():
    got = parse_report("libtest", LIBTEST)
    assert (got.total, got.passed, got.failed, got.skipped) == (4, 2, 1, 1)
    assert got.passed_names == ["empty", "empty #2"]


def test_libtest_with_no_tests_and_a_compile_error():
    assert parse_report("libtest", "").total == 0
    with pytest.raises(ReportError, match="libtest"):
        parse_report("libtest", "error[E0425]: cannot find value `x`")


@pytest.mark.parametrize(
    ("text", "passed", "score"),
    [
        ("1\n", 1, 1.0),
        ("0", 0, 0.0),
        ("0.667", 0, 0.667),
        ('{"reward": 1}', 1, 1.0),
        ('{"tests": 1, "lint": 0.5}', 0, 0.75),
    ],
)
def test_harbor_reward_is_one_test_and_the_partial_score(text, passed, score):
    got = parse_report("harbor-reward", text)
    assert (got.total, got.passed, got.score) == (1, passed, score)


@pytest.mark.parametrize("text", ["yes", "1.5", "-1", '{"a": "b"}', "NaN"])
def test_a_bad_reward_is_an_error(text):
    with pytest.raises(ReportError, match="harbor-reward"):
        parse_report("harbor-reward", text)
