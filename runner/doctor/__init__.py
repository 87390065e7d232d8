"""`cab doctor`: what one use of cab needs on this machine, checked in a few seconds.

Each check is a `Check` (typed, JSON-able): its name, whether that use requires it, its
status, what was found and, when it is not ok, the one thing to do. The checks probe the
machine (an engine ping, a GET /v1/models, a `go version`) and never print; the CLI
renders them. Nothing here spends a token: endpoints are asked only for their model list.

- `for_demo()`   — `cab demo` in Docker (the local fallback's toolchains are optional);
- `for_tests()`  — `scripts/test.sh` with Docker tests required;
- `for_sweep(cfg)` — a sweep file: its sandbox, images and every model's endpoint;
- `sweep_preflight(cfg)` — the endpoint checks `cab sweep` runs before its first cell.
"""

from __future__ import annotations

from runner.doctor.checks import Check, DoctorReport, Status
from runner.doctor.uses import for_demo, for_sweep, for_tests, sweep_preflight

__all__ = [
    "Check",
    "DoctorReport",
    "Status",
    "for_demo",
    "for_sweep",
    "for_tests",
    "sweep_preflight",
]
