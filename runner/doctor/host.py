"""Checks of the host itself: Python, the package's extras, chromium, the toolchains the
local sandbox would use, free disk, Ray."""

from __future__ import annotations

import re
import shutil
import sys
import tomllib
from collections.abc import Iterable
from importlib import metadata
from pathlib import Path

from runner.doctor.checks import Check, fail, ok, warn
from runner.errors import RunnerError
from runner.tasks import Task

DIST = "codingagentbench"
REPO = Path(__file__).resolve().parents[2]
MIN_PYTHON = (3, 11)
CHROMIUM = Path("/usr/bin/chromium")
GIB = 1024**3


def python_version() -> Check:
    found = ".".join(str(p) for p in sys.version_info[:3])
    want = ".".join(str(p) for p in MIN_PYTHON)
    if sys.version_info[:2] >= MIN_PYTHON:
        return ok("python", f"{found} at {sys.executable} (>= {want})")
    return fail("python", f"{found} at {sys.executable}", f"use Python >= {want}")


def _declared(extra: str | None) -> list[str] | None:
    """The requirement strings of the package (or of one extra): the checkout's
    pyproject.toml when there is one (an editable install's metadata can be older than
    the checkout), else the installed metadata; None when neither is found."""
    pyproject = REPO / "pyproject.toml"
    if pyproject.is_file():
        project = tomllib.loads(pyproject.read_text(encoding="utf-8")).get("project", {})
        if extra is None:
            return list(project.get("dependencies", []))
        return list(project.get("optional-dependencies", {}).get(extra, []))
    try:
        reqs = metadata.requires(DIST) or []
    except metadata.PackageNotFoundError:
        return None
    wanted = []
    for req in reqs:
        found = re.search(r"extra\s*==\s*['\"]([\w-]+)['\"]", req.partition(";")[2])
        if (found.group(1) if found else None) == extra:
            wanted.append(req)
    return wanted


def _requirements(extra: str | None) -> list[str] | None:
    """The distribution names needed on this platform, or None (see `_declared`)."""
    reqs = _declared(extra)
    if reqs is None:
        return None
    names = []
    for req in reqs:
        marker = req.partition(";")[2]
        if "win32" in marker and "!=" not in marker:
            continue  # a Windows-only requirement
        match = re.match(r"[A-Za-z0-9][A-Za-z0-9._-]*", req)
        if match:
            names.append(match.group(0))
    return names


def _missing(names: Iterable[str]) -> list[str]:
    out = []
    for name in names:
        try:
            metadata.version(name)
        except metadata.PackageNotFoundError:
            out.append(name)
    return out


def package(extra: str | None = None, required: bool = True) -> Check:
    """The package's own dependencies (extra=None) or one extra's, installed or not."""
    label = f"extra [{extra}]" if extra else "package dependencies"
    spec = f".[{extra}]" if extra else "."
    fix = f"cd {REPO} && python3 -m pip install -e '{spec}'"
    names = _requirements(extra)
    if names is None:
        return fail(label, f"{DIST} is not pip-installed", fix, required)
    if not names:
        return warn(label, f"{DIST} declares no [{extra}] extra", "update your checkout", False)
    missing = _missing(names)
    if missing:
        return fail(label, f"missing: {', '.join(missing)}", fix, required)
    return ok(label, f"{len(names)} installed", required)


def chromium(required: bool) -> Check:
    if CHROMIUM.is_file():
        return ok("chromium", f"{CHROMIUM} (browser tests of the report)", required)
    return fail(
        "chromium",
        f"no {CHROMIUM} (the report's browser tests drive Debian's chromium)",
        "sudo apt-get install chromium",
        required,
    )


def local_task_problem(task: Task) -> str | None:
    """Why the local sandbox cannot run this task here (a missing toolchain), or None:
    the sandbox's own preflight, so the demo and the doctor agree with what a cell does."""
    from runner.sandbox.local import LocalSandbox

    try:
        LocalSandbox().preflight(task)
    except RunnerError as exc:
        return str(exc)
    return None


def toolchains(tasks: Iterable[Task], required: bool) -> list[Check]:
    """One line per task language: can the local sandbox run that language's tests here?"""
    by_language: dict[str, Task] = {}
    for task in tasks:
        by_language.setdefault(task.language, task)
    checks = []
    for language, task in sorted(by_language.items()):
        name = f"local toolchain: {language}"
        problem = local_task_problem(task)
        if problem is None:
            checks.append(ok(name, f"the local sandbox can run {language} tasks", required))
        else:
            detail, _, fix = problem.partition(": install ")
            fix = f"install {fix}" if fix else "run in Docker"
            checks.append(fail(name, detail, fix, required))
    return checks


def disk(paths: dict[str, Path], need_gib: float, required: bool = True) -> Check:
    """Free space where images and runs go (the smallest of the paths' filesystems)."""
    free: dict[str, float] = {}
    for label, path in paths.items():
        probe = path
        while not probe.exists() and probe != probe.parent:
            probe = probe.parent
        free[label] = shutil.disk_usage(probe).free / GIB
    low_label = min(free, key=lambda k: free[k])
    low = free[low_label]
    where = ", ".join(f"{k} {v:.0f} GiB" for k, v in free.items())
    detail = f"free: {where}; needed ~{need_gib:.0f} GiB"
    if low >= need_gib:
        return ok("free disk", detail, required)
    return fail("free disk", detail, f"free space on the {low_label} filesystem", required)


def ray() -> Check:
    """Ray is optional (the [ray] extra): sweeps past one machine."""
    try:
        version = metadata.version("ray")
    except metadata.PackageNotFoundError:
        return ok(
            "ray",
            "not installed (only multi-node sweeps need it: pip install -e '.[ray]')",
            required=False,
        )
    return ok("ray", f"ray {version} installed (multi-node sweeps)", required=False)
