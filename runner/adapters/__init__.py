"""Agent adapters, one module per CLI; each module defines `ADAPTER`.

`ADAPTERS` is the registry: an agent name -> the module that holds its adapter, read in
this one place (as mini-swe-agent's environments/__init__.py maps names to classes).
Adding a CLI is one module under runner/adapters/ and one line here. Modules are imported
only when their agent is asked for, so a broken adapter cannot stop the others.
"""

from __future__ import annotations

import importlib

from runner.adapters.base import Adapter, AdapterContext, AgentRun
from runner.errors import UnknownNameError

__all__ = ["ADAPTERS", "Adapter", "AdapterContext", "AgentRun", "all_adapters", "get_adapter"]

#: agent name (the `tui` of a cell) -> module defining `ADAPTER`
ADAPTERS: dict[str, str] = {
    "aider": "runner.adapters.aider",
    "codex": "runner.adapters.codex",
    "mini-swe-agent": "runner.adapters.mini_swe_agent",
    "nop": "runner.adapters.nop",
    "opencode": "runner.adapters.opencode",
    "openhands": "runner.adapters.openhands",
    "oracle": "runner.adapters.oracle",
    "reference": "runner.adapters.reference",
}


def get_adapter(tui: str) -> Adapter:
    """The adapter registered under `tui`; an unknown name lists the known ones."""
    if tui not in ADAPTERS:
        raise UnknownNameError(f"unknown agent '{tui}' (known: {', '.join(sorted(ADAPTERS))})")
    adapter: Adapter = importlib.import_module(ADAPTERS[tui]).ADAPTER
    if adapter.tui != tui:
        raise UnknownNameError(f"{ADAPTERS[tui]} defines agent '{adapter.tui}', not '{tui}'")
    return adapter


def all_adapters() -> dict[str, Adapter]:
    """Every registered adapter, by name."""
    return {tui: get_adapter(tui) for tui in ADAPTERS}
