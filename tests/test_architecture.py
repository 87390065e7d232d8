"""The layering and size rules that keep the code readable, checked like any behaviour.

The import contracts themselves are import-linter's (pyproject.toml), run by scripts/test.sh;
this file checks what no linter does: no function over 80 lines in our packages.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("proxy", "runner", "scorer", "report", "cab")
#: the in-container reference agent is one stdlib file, copied into containers as it is
EXEMPT = {ROOT / "runner" / "agents" / "reference_agent.py"}
MAX_LINES = 80


def long_functions(root: Path = ROOT, packages: tuple[str, ...] = PACKAGES) -> list[str]:
    found = []
    for package in packages:
        for path in sorted((root / package).rglob("*.py")):
            if path in EXEMPT:
                continue
            for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
                if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                    length = (node.end_lineno or node.lineno) - node.lineno + 1
                    if length > MAX_LINES:
                        rel = path.relative_to(root)
                        found.append(f"{rel}:{node.lineno} {node.name} ({length} lines)")
    return found


def test_no_function_is_longer_than_80_lines():
    assert long_functions() == []


def test_the_checker_finds_a_long_function(tmp_path):
    (tmp_path / "pkg").mkdir()
    body = "\n".join(f"    x{i} = {i}" for i in range(MAX_LINES))
    (tmp_path / "pkg" / "mod.py").write_text(f"def short():\n    pass\n\n\ndef long():\n{body}\n")
    assert long_functions(tmp_path, ("pkg",)) == [f"pkg/mod.py:5 long ({MAX_LINES + 1} lines)"]
