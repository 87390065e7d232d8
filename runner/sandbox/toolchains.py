"""What a task's tests need on the host when they run there (the local sandbox).

In Docker the task's image brings its toolchain; on the host a missing `go` or `pytest`
would fail the hidden tests for a reason that is ours, not the agent's. So the local
sandbox probes the toolchain before the agent runs (`LocalSandbox.preflight`), and a
missing one is said as our failure (infra:harness) with the package that fixes it.
"""

from __future__ import annotations

import functools
import os
import subprocess

#: language -> (a command that succeeds only when the toolchain works, what to install)
TOOLCHAINS: dict[str, tuple[tuple[str, ...], str]] = {
    "go": (("go", "version"), "golang-go"),
    "python": (("python3", "-c", "import pytest"), "python3-pytest (or pip install pytest)"),
    "javascript": (("node", "--test", "--help"), "nodejs"),
}


def missing_toolchain(language: str) -> str | None:
    """None when `language`'s tests can run on this host, else what to do about it."""
    if language not in TOOLCHAINS:
        return None
    probe, package = TOOLCHAINS[language]
    if works(probe, os.environ.get("PATH", "")):
        return None
    return (
        f"the local sandbox needs '{' '.join(probe)}' to work on this host for "
        f"{language} tasks: install {package}, or run in Docker"
    )


@functools.cache
def works(probe: tuple[str, ...], path: str) -> bool:
    """Whether the probe command succeeds (cached per PATH: one probe per process)."""
    try:
        return subprocess.run(probe, capture_output=True, timeout=30).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False
