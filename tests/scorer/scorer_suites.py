"""Tiny throwaway test suites, run for real to produce the reports the parsers read.

Nothing here is a hand-typed report: each helper writes a suite into a temp dir, runs
the real tool (go, python3 -m pytest, node) and returns what it printed.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

#: The reference page's task, in miniature: a handler that writes the body before the
#: status code, so the two "missing name" tests fail with `got 200 want 400`.
GO_HANDLER = """package gohttphandler

import (
	"fmt"
	"net/http"
)

func Greet(w http.ResponseWriter, r *http.Request) {
	name := r.URL.Query().Get("name")
	fmt.Fprintf(w, "hello %s", name)
	if name == "" {
		w.WriteHeader(http.StatusBadRequest)
	}
}
"""

GO_HANDLER_TEST = """package gohttphandler

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

func get(url string) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	Greet(rec, httptest.NewRequest(http.MethodGet, url, nil))
	return rec
}

func TestGreet_Hello(t *testing.T) {
	rec := get("/greet?name=ada")
	if rec.Code != 200 {
		t.Fatalf("status: got %d want 200", rec.Code)
	}
}

func TestGreet_Body(t *testing.T) {
	rec := get("/greet?name=ada")
	if rec.Body.String() != "hello ada" {
		t.Fatalf("body: got %q", rec.Body.String())
	}
}

func TestGreet_MissingNameReturns400(t *testing.T) {
	rec := get("/greet")
	if rec.Code != 400 {
		// the handler wrote the body first, which locked the status to
		// 200 before it could ask for 400
		t.Fatalf("status: got %d want 400", rec.Code)
	}
}

func TestGreet_EmptyNameReturns400(t *testing.T) {
	rec := get("/greet?name=")
	if rec.Code != 400 {
		// same bug, an empty value instead of a missing key:
		// the body is written before the status code, and
		// net/http then answers 200 whatever comes after
		t.Fatalf("status: got %d want 400", rec.Code)
	}
}
"""

GO_MIXED_TEST = """package mixed

import "testing"

func TestPass(t *testing.T) {}
func TestFail(t *testing.T) { t.Errorf("nope") }
func TestSkip(t *testing.T) { t.Skip("later") }
func TestParent(t *testing.T) {
	t.Run("ok", func(t *testing.T) {})
	t.Run("bad", func(t *testing.T) { t.Fatal("bad sub") })
}
"""

PY_MIXED = """import pytest

def test_ok():
    pass

def test_bad():
    assert 1 == 2

@pytest.mark.skipif(True, reason="later")  # a skipped test for the JUnit parser
def test_skip():
    pass

@pytest.fixture
def broken():
    raise RuntimeError("setup broke")

def test_error(broken):
    pass

@pytest.mark.parametrize("n", [1, 2])
def test_param(n):
    assert n == 1
"""

NODE_MIXED = """const test = require('node:test');
const assert = require('node:assert');
test('adds', () => { assert.strictEqual(1 + 1, 2); });
test('fails', () => { assert.strictEqual(1, 2); });
test('skipped', { skip: true }, () => {});
test.describe('group', () => {
  test.it('inner ok', () => {});
  test.it('inner bad', () => { throw new Error('boom'); });
});
"""


def _run(cmd: list[str], cwd: Path, env: dict | None = None) -> subprocess.CompletedProcess:
    full_env = {**os.environ, **(env or {})}
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=300, env=full_env)


def _go_env(root: Path) -> dict:
    return {"GOFLAGS": "-count=1", "GO111MODULE": "on", "GOTOOLCHAIN": "local"}


def go_suite(root: Path, module: str, files: dict[str, str]) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "go.mod").write_text(f"module {module}\n\ngo 1.19\n")
    for name, body in files.items():
        (root / name).write_text(body)
    return root


def go_test(root: Path, json: bool) -> subprocess.CompletedProcess:
    cmd = ["go", "test", *(["-json"] if json else []), "./..."]
    return _run(cmd, root, _go_env(root))


def handler_suite(root: Path) -> Path:
    return go_suite(
        root,
        "codingagentbench/gohttphandler",
        {"handler.go": GO_HANDLER, "handler_test.go": GO_HANDLER_TEST},
    )


def pytest_junit(root: Path, source: str = PY_MIXED) -> tuple[subprocess.CompletedProcess, str]:
    root.mkdir(parents=True, exist_ok=True)
    (root / "test_mixed.py").write_text(source)
    xml = root / "report.xml"
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"]
    proc = _run([*cmd, f"--junitxml={xml}", "test_mixed.py"], root)
    return proc, xml.read_text()


def node_tap(root: Path, source: str = NODE_MIXED) -> subprocess.CompletedProcess:
    root.mkdir(parents=True, exist_ok=True)
    (root / "mixed.test.js").write_text(source)
    return _run(["node", "--test", "--test-reporter=tap", "mixed.test.js"], root)
