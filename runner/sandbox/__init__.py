"""Sandboxes run one command over a workspace: `docker` (isolated) or `local` (a subprocess)."""

from runner.sandbox.base import Mount, RunResult, RunSpec, Sandbox

__all__ = ["Mount", "RunResult", "RunSpec", "Sandbox", "get_sandbox"]


def get_sandbox(kind: str = "auto") -> Sandbox:
    """`docker`, `local`, or `auto` (docker when an engine answers, else local with a warning)."""
    from runner.sandbox.select import get_sandbox as _get

    return _get(kind)
