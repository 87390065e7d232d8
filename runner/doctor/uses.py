"""Which checks each use of cab needs, and which of them it cannot do without."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from runner import images
from runner.doctor import endpoints, engine, host
from runner.doctor.checks import Check, DoctorReport
from runner.sweep_config import CellPlan, SweepConfig, expand, load_sweep

GIB_PER_IMAGE = 2.0  # our images are 1.2-1.9 GB each
GIB_FOR_RUNS = 1.0


def _images_needed(plans: list[CellPlan], tuis: list[str]) -> set[str]:
    from runner.adapters import get_adapter

    names = {p.task.image for p in plans}
    for tui in tuis:
        image = getattr(get_adapter(tui), "image", None)
        if image:
            names.add(str(image))
    return names


def _docker_lines(needed: set[str] | None, required: bool) -> tuple[list[Check], float, Any]:
    """The engine, the base image and our images; the GiB the missing ones will take;
    and the open client (None when no engine answered), which the caller closes."""
    check, client = engine.engine()
    check.required = required
    if client is None:
        return [check], 0.0, None
    lines = [check, engine.base_image(client)]
    lines[1].required = required
    image_lines = engine.our_images(client, needed)
    for line in image_lines:
        line.required = line.required and required
    missing = sum(1 for c in image_lines if c.required and c.status == "fail")
    return lines + image_lines, missing * GIB_PER_IMAGE, client


def _disk(client: Any, need_gib: float) -> Check:
    paths = {"runs": images.runs_dir()}
    if client is not None:
        paths["docker"] = engine.docker_root(client)
    return host.disk(paths, need_gib + GIB_FOR_RUNS)


def _run(use: str, checks: list[Check], client: Any) -> DoctorReport:
    if client is not None:
        client.close()
    return DoctorReport(use=use, checks=checks)


def for_demo() -> DoctorReport:
    """`cab demo` in Docker: the engine, the base and toolbox images. The local fallback's
    toolchains are listed as optional: they decide which tasks run without Docker."""
    from runner.sweep_config import SWEEPS_DIR

    cfg = load_sweep(SWEEPS_DIR / "demo.toml")
    plans = expand(cfg)
    checks = [host.python_version(), host.package(), host.package("test", required=False)]
    lines, need_gib, client = _docker_lines(_images_needed(plans, cfg.tuis), required=True)
    checks += lines
    checks.append(_disk(client, need_gib))
    checks += host.toolchains([p.task for p in plans], required=False)
    checks.append(host.ray())
    return _run("demo", checks, client)


def for_tests() -> DoctorReport:
    """`scripts/test.sh` with Docker tests required, as CI runs it."""
    from runner.tasks import discover

    checks = [host.python_version(), host.package(), host.package("test")]
    lines, need_gib, client = _docker_lines(None, required=True)
    checks += lines
    checks.append(_disk(client, need_gib + 1.0))
    checks.append(host.chromium(required=True))
    checks += host.toolchains(discover(), required=True)
    checks.append(host.ray())
    return _run("tests", checks, client)


def for_sweep(path: Path) -> DoctorReport:
    """A sweep file: its sandbox's needs, its images, and every model's endpoint."""
    cfg = load_sweep(path)
    plans = expand(cfg)
    checks = [host.python_version(), host.package()]
    client = None
    docker_ok = False
    if cfg.sandbox != "local":
        lines, need_gib, client = _docker_lines(
            _images_needed(plans, cfg.tuis), required=cfg.sandbox == "docker"
        )
        checks += lines
        docker_ok = client is not None
    else:
        need_gib = 0.0
    checks.append(_disk(client, need_gib))
    checks += host.toolchains([p.task for p in plans], required=not docker_ok)
    checks += _model_lines(cfg, plans)
    checks.append(host.ray())
    return _run(f"sweep {path}", checks, client)


def _model_lines(cfg: SweepConfig, plans: list[CellPlan]) -> list[Check]:
    models = {p.model.name: p.model for p in plans}
    task_ids = sorted({p.task.id for p in plans})
    return endpoints.model_checks(list(models.values()), task_ids, str(cfg.path))


def sweep_preflight(cfg: SweepConfig, plans: list[CellPlan]) -> DoctorReport:
    """What `cab sweep` checks before its first cell: each model's key, endpoint and id."""
    return DoctorReport(use=f"sweep {cfg.path}", checks=_model_lines(cfg, plans))
