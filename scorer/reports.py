"""Test-runner reports -> counts: `go test -json`, JUnit XML (pytest) and TAP (node --test).

Grading reads the structured report, never the exit code alone: the report says how many
tests *ran*, which is what stops a run from passing by deleting, skipping or not running
the hidden suite. `cab tasks check` reuses `parse_report` to prove each task's oracle
passes with exactly `expected_tests` tests.

Counting rules, the same for every format:
- a test is a *leaf* test case: a go test with subtests, a pytest class or a node
  `describe` suite is a container, not a test (its outcome is its children's);
- skipped (go `skip`, JUnit `<skipped>`, TAP `# SKIP`/`# TODO`, pytest xfail) counts as
  skipped, which grading treats as not passed;
- a test that started but never reported a result (a go panic, a timeout) is failed;
- JUnit `<error>` is failed.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET

from pydantic import BaseModel, Field

#: The report formats a task's `test.report` may name (the last three: report_formats.py).
FORMATS = ("go-json", "junit", "tap", "jest-json", "libtest", "harbor-reward")


class ReportError(ValueError):
    """A report could not be read. The message names the format and what was wrong."""


class TestCounts(BaseModel):
    """How many leaf tests ran, and how each ended."""

    __test__ = False  # not a pytest class, despite the name

    total: int = 0
    passed: int = 0
    failed: int = 0
    skipped: int = 0
    passed_names: list[str] = Field(default_factory=list)
    failed_names: list[str] = Field(default_factory=list)
    skipped_names: list[str] = Field(default_factory=list)
    score: float | None = Field(
        None, description="the verifier's own reward in [0, 1] (Harbor), else None"
    )

    @property
    def names(self) -> list[str]:
        """Every leaf test's name, in report order within each outcome."""
        return [*self.passed_names, *self.failed_names, *self.skipped_names]

    @classmethod
    def from_outcomes(cls, outcomes: dict[str, str]) -> TestCounts:
        """Build from name -> "passed" | "failed" | "skipped" (insertion ordered)."""
        by: dict[str, list[str]] = {"passed": [], "failed": [], "skipped": []}
        for name, outcome in outcomes.items():
            by[outcome].append(name)
        return cls(
            total=len(outcomes),
            passed=len(by["passed"]),
            failed=len(by["failed"]),
            skipped=len(by["skipped"]),
            passed_names=by["passed"],
            failed_names=by["failed"],
            skipped_names=by["skipped"],
        )


def parse_report(fmt: str, text: str) -> TestCounts:
    """Count the leaf tests in a report of format `fmt` (one of FORMATS)."""
    if fmt == "go-json":
        return _parse_go_json(text)
    if fmt == "junit":
        return _parse_junit(text)
    if fmt == "tap":
        return _parse_tap(text)
    from scorer.report_formats import PARSERS  # they build on this module's TestCounts

    if fmt in PARSERS:
        return PARSERS[fmt](text)
    raise ReportError(f"unknown report format '{fmt}' (known: {', '.join(FORMATS)})")


# --- go test -json ---------------------------------------------------------------------

_GO_RESULTS = {"pass": "passed", "fail": "failed", "skip": "skipped"}


def go_events(text: str) -> list[dict]:
    """The JSON events of a `go test -json` stream; other lines are ignored here."""
    events = []
    for line in text.splitlines():
        line = line.strip()
        if not line.startswith("{"):
            continue
        try:
            event = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(event, dict) and "Action" in event:
            events.append(event)
    return events


def _parse_go_json(text: str) -> TestCounts:
    events = go_events(text)
    if not events and text.strip():
        raise ReportError("go-json: no `go test -json` events found in the report")
    status: dict[tuple[str, str], str] = {}
    for ev in events:
        test = ev.get("Test")
        if not test:
            continue
        key = (ev.get("Package", ""), test)
        action = ev.get("Action")
        if action == "run":
            status.setdefault(key, "failed")  # ran; failed unless a result follows
        elif action in _GO_RESULTS:
            status[key] = _GO_RESULTS[action]
    parents = {(pkg, name.rsplit("/", 1)[0]) for pkg, name in status if "/" in name}
    # every ancestor, not just the direct parent, is a container
    for pkg, name in list(parents):
        parts = name.split("/")
        parents.update((pkg, "/".join(parts[:i])) for i in range(1, len(parts)))
    packages = {pkg for pkg, _ in status}
    outcomes = {}
    for (pkg, name), outcome in status.items():
        if (pkg, name) in parents:
            continue
        outcomes[name if len(packages) == 1 else f"{pkg}.{name}"] = outcome
    return TestCounts.from_outcomes(outcomes)


_GO_NOISE = ("=== RUN", "=== PAUSE", "=== CONT", "=== NAME")
_GO_HEADER = re.compile(r"^\s*--- (PASS|FAIL|SKIP): ")


def go_text(text: str) -> str:
    """What plain `go test` (no -v) would have printed, rebuilt from a -json stream.

    Each test's output is held until its `--- FAIL/SKIP:` line and printed after it, as
    plain `go test` does; passing tests and `=== RUN/PAUSE/CONT/NAME` lines are dropped.
    Lines that are not JSON (build errors mixed in) are kept as they came.
    """
    out: list[str] = []
    held: dict[tuple[str, str], list[str]] = {}
    any_fail = False
    for raw in text.splitlines(keepends=True):
        stripped = raw.strip()
        if not stripped.startswith("{"):
            if stripped:
                out.append(raw if raw.endswith("\n") else raw + "\n")
            continue
        try:
            ev = json.loads(stripped)
        except json.JSONDecodeError:
            out.append(raw)
            continue
        if not isinstance(ev, dict):
            continue
        if ev.get("Action") == "fail" and not ev.get("Test"):
            any_fail = True
        line = ev.get("Output")
        if ev.get("Action") != "output" or line is None:
            continue
        if line.lstrip().startswith(_GO_NOISE):
            continue
        test = ev.get("Test")
        if not test:
            if line.strip() != "PASS":
                out.append(line)
            continue
        key = (ev.get("Package", ""), test)
        header = _GO_HEADER.match(line)
        if header is None:
            held.setdefault(key, []).append(line)
            continue
        body = held.pop(key, [])
        if header.group(1) != "PASS":
            pad = "    " * test.count("/")  # plain go test indents a subtest's output
            out.append(line)
            out.extend(pad + b for b in body)
    if any_fail:
        out.append("FAIL\n")  # the go command's own closing line
    return "".join(out)


# --- JUnit XML (pytest --junitxml) -----------------------------------------------------


def _parse_junit(text: str) -> TestCounts:
    if "<!ENTITY" in text:
        raise ReportError("junit: entity declarations are not accepted in a report")
    try:
        root = ET.fromstring(text)
    except ET.ParseError as exc:
        raise ReportError(f"junit: not well-formed XML: {exc}") from exc
    outcomes: dict[str, str] = {}
    rank = {"passed": 0, "skipped": 1, "failed": 2}
    for case in root.iter("testcase"):
        cls, name = case.get("classname") or "", case.get("name") or "?"
        full = f"{cls}::{name}" if cls else name
        tags = {child.tag for child in case}
        if tags & {"failure", "error"}:
            outcome = "failed"
        elif "skipped" in tags:
            outcome = "skipped"
        else:
            outcome = "passed"
        # pytest may list one test twice (call failed, teardown errored): worst wins
        if full not in outcomes or rank[outcome] > rank[outcomes[full]]:
            outcomes[full] = outcome
    return TestCounts.from_outcomes(outcomes)


# --- TAP (node --test) -----------------------------------------------------------------

_TAP_POINT = re.compile(r"^(\s*)(not ok|ok)\b\s*(\d+)?\s*(?:-\s*)?(.*)$")
_TAP_DIRECTIVE = re.compile(r"\s+#\s+(SKIP|TODO)\b.*$", re.IGNORECASE)


def _parse_tap(text: str) -> TestCounts:
    points: list[dict] = []
    for line in text.splitlines():
        m = _TAP_POINT.match(line)
        if m:
            desc = m.group(4)
            directive = _TAP_DIRECTIVE.search(desc)
            points.append(
                {
                    "indent": len(m.group(1)),
                    "ok": m.group(2) == "ok",
                    "name": _TAP_DIRECTIVE.sub("", desc).strip(),
                    "directive": directive.group(1).upper() if directive else None,
                    "suite": False,
                }
            )
        elif points and line.strip() == "type: 'suite'":
            points[-1]["suite"] = True  # node's YAML block under the point
    if not points and "TAP version" not in text and text.strip():
        raise ReportError("tap: no TAP test points (`ok N - ...`) found in the report")
    outcomes: dict[str, str] = {}
    for i, p in enumerate(points):
        # node prints subtests (deeper indent) right before their parent's point
        is_parent = i > 0 and points[i - 1]["indent"] > p["indent"]
        if is_parent or p["suite"]:
            continue
        name = " > ".join([*_suite_names(points, i), p["name"]])
        outcome = "skipped" if p["directive"] else "passed" if p["ok"] else "failed"
        outcomes[unique_name(name, outcomes)] = outcome
    return TestCounts.from_outcomes(outcomes)


def _suite_names(points: list[dict], i: int) -> list[str]:
    """Names of the suites enclosing point i: the next shallower points after it."""
    names, indent = [], points[i]["indent"]
    for p in points[i + 1 :]:
        if p["indent"] < indent:
            names.append(p["name"])
            indent = p["indent"]
    return list(reversed(names))


def unique_name(name: str, seen: dict[str, str]) -> str:
    """NAME, or NAME #2, #3… when a report repeats a test name (each keeps its outcome)."""
    if name not in seen:
        return name
    n = 2
    while f"{name} #{n}" in seen:
        n += 1
    return f"{name} #{n}"
