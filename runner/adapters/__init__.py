"""Agent adapters, one module per CLI; each module defines `ADAPTER`."""

from __future__ import annotations

import importlib
import pkgutil

from runner.adapters.base import Adapter, AdapterContext, AgentRun
from runner.errors import UnknownNameError

__all__ = ["Adapter", "AdapterContext", "AgentRun", "all_adapters", "get_adapter"]


def all_adapters() -> dict[str, Adapter]:
    found: dict[str, Adapter] = {}
    for info in pkgutil.iter_modules(__path__):
        if info.name == "base":
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        adapter = getattr(module, "ADAPTER", None)
        if adapter is not None:
            found[adapter.tui] = adapter
    return found


def get_adapter(tui: str) -> Adapter:
    adapters = all_adapters()
    if tui not in adapters:
        raise UnknownNameError(f"unknown agent '{tui}' (known: {', '.join(sorted(adapters))})")
    return adapters[tui]
