"""More test-runner reports -> counts: jest's `--json`, Rust libtest's text (`cargo test`),
and a Harbor verifier's reward (`/logs/verifier/reward.txt` or `reward.json`).

The counting rules are scorer.reports' own: leaf tests, skipped is not passed, a suite that
could not even load is a failure. A Harbor reward is one graded outcome, not a list of
tests: it counts as one test, passed only at reward 1, and the reward itself is the
partial score (`TestCounts.score`).
"""

from __future__ import annotations

import json
import math
import re

from scorer.reports import ReportError, TestCounts, unique_name

# --- jest --json -------------------------------------------------------------------------

_JEST = {"passed": "passed", "failed": "failed", "pending": "skipped", "todo": "skipped"}


def parse_jest_json(text: str) -> TestCounts:
    """jest's `--json` result: every assertion result is a leaf test; a test file that
    failed to run (syntax error, missing module) is one failed test named after the file."""
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise ReportError(f"jest-json: not JSON: {exc}") from exc
    if not isinstance(data, dict) or not isinstance(data.get("testResults"), list):
        raise ReportError("jest-json: no 'testResults' list (was jest run with --json?)")
    outcomes: dict[str, str] = {}
    for suite in data["testResults"]:
        results = suite.get("assertionResults") or []
        file = str(suite.get("name", "?")).rsplit("/", 1)[-1]
        if not results and suite.get("status") == "failed":
            outcomes[unique_name(f"{file}: the test file failed to run", outcomes)] = "failed"
        for case in results:
            name = case.get("fullName") or " ".join(
                [*case.get("ancestorTitles", []), case.get("title", "?")]
            )
            outcomes[unique_name(f"{file} > {name}", outcomes)] = _JEST.get(
                case.get("status"), "skipped"
            )
    return TestCounts.from_outcomes(outcomes)


# --- Rust libtest (cargo test) -----------------------------------------------------------

_LIBTEST = re.compile(r"^test (.+?) \.\.\. (ok|FAILED|ignored|bench)(?:,.*)?$")
_RUNNING = re.compile(r"^running \d+ tests?$")


def parse_libtest(text: str) -> TestCounts:
    """`cargo test` stdout: one `test NAME ... ok|FAILED|ignored` line per test, per test
    binary (`running N tests` heads each). A binary that did not compile prints nothing:
    its tests are missing from the count, which the expected count catches."""
    outcomes: dict[str, str] = {}
    binary = 0
    for line in text.splitlines():
        line = line.rstrip()
        if _RUNNING.match(line):
            binary += 1
            continue
        m = _LIBTEST.match(line)
        if not m:
            continue
        status = {"ok": "passed", "FAILED": "failed", "ignored": "skipped"}.get(m.group(2))
        if status:
            outcomes[unique_name(m.group(1), outcomes)] = status
    if not binary and not outcomes and text.strip() and "test result:" not in text:
        raise ReportError("libtest: no `running N tests` or `test NAME ... ok` lines")
    return TestCounts.from_outcomes(outcomes)


# --- Harbor reward -----------------------------------------------------------------------


def parse_harbor_reward(text: str) -> TestCounts:
    """reward.txt (a number) or reward.json (a number, {"reward": x}, or named rewards,
    averaged). 1 = pass; fractions are partial credit."""
    text = text.strip()
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise ReportError(f"harbor-reward: not a number or JSON: {text[:80]!r}") from exc
    if isinstance(value, dict):
        if "reward" in value:
            value = value["reward"]
        else:
            numbers = [v for v in value.values() if _is_number(v)]
            if not numbers:
                raise ReportError("harbor-reward: reward.json holds no number")
            value = sum(numbers) / len(numbers)
    if not _is_number(value) or not 0 <= float(value) <= 1:
        raise ReportError(f"harbor-reward: the reward must be a number in [0, 1], not {value!r}")
    reward = float(value)
    passed = reward >= 1
    counts = TestCounts.from_outcomes({"reward": "passed" if passed else "failed"})
    counts.score = reward
    return counts


def _is_number(v: object) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)


PARSERS = {
    "jest-json": parse_jest_json,
    "libtest": parse_libtest,
    "harbor-reward": parse_harbor_reward,
}
