"""Checks of the Docker side: the engine answers, the base image exists, and each of our
images (config/images.toml, or the table `CAB_IMAGES_CONFIG` names) is built from its
Dockerfile folder as it is now (the digest the image is labelled with; an image built
without the label, by its times)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from runner import images
from runner.doctor.checks import Check, fail, ok, warn
from runner.errors import RunnerError

#: Replaces config/images.toml for the doctor (tests point it at a table of their own).
IMAGES_ENV = "CAB_IMAGES_CONFIG"
PING_TIMEOUT_S = 3


def images_config() -> Path:
    return Path(os.environ.get(IMAGES_ENV) or images.CONFIG)


def engine() -> tuple[Check, Any]:
    """The engine check and, when it answered, an open client (the caller closes it)."""
    import docker

    where = os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock"
    try:
        client = docker.from_env(timeout=PING_TIMEOUT_S)
        client.ping()
        version = client.version().get("Version", "?")
    except Exception as exc:
        return fail(
            "docker engine", f"no engine answered at {where} ({short_error(exc)})", _start()
        ), None
    return ok("docker engine", f"Docker {version} at {where}"), client


def short_error(exc: BaseException | str, n: int = 100) -> str:
    """The root cause of a docker-py error, e.g. 'ConnectionRefusedError: Connection
    refused', rather than its three nested wrappers."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    root = re.search(r"(\w+Error)\(\d+, '([^']+)'\)", text)
    errno = re.search(r"\[Errno \d+\] ([^'\")]+)", text)
    if root:
        text = f"{root.group(1)}: {root.group(2)}"
    elif errno:
        text = errno.group(1)
    return text if len(text) <= n else text[: n - 1] + "…"


def _start() -> str:
    steps = "start it: sudo dockerd >/tmp/dockerd.log 2>&1 &"
    if shutil.which("dockerd") is None:
        steps = "install it (Debian: sudo apt-get install docker.io), then " + steps
    if os.environ.get("DOCKER_HOST"):
        steps += "; or unset DOCKER_HOST, which points elsewhere"
    return steps


def base_image(client: Any) -> Check:
    name = f"image {images.BASE_IMAGE}"
    if images.digest(images.BASE_IMAGE, client) is not None:
        return ok(name, "present (every Dockerfile starts FROM it)")
    return fail(
        name,
        "missing, and no registry is reachable to pull it",
        "debootstrap --variant=minbase bookworm /tmp/rootfs && "
        f"tar -C /tmp/rootfs -c . | docker import - {images.BASE_IMAGE}",
    )


def our_images(client: Any, needed: Iterable[str] | None) -> list[Check]:
    """One line per configured image: required when `needed` names it (None: all are)."""
    path = images_config()
    try:
        specs = images.load_config(path)
    except RunnerError as exc:
        return [fail("images table", str(exc), f"fix {path}")]
    if needed is None:
        wanted = set(specs)
    else:  # a full tag (not a table name) is the user's own image: not ours to check
        wanted = set(images.build_order([n for n in needed if n in specs], specs))
    created: dict[str, datetime | None] = {}
    checks = []
    for name in images.build_order(specs, specs):
        spec = specs[name]
        created[name], built_from = _inspect(client, spec.tag)
        checks.append(_image_check(name, spec, created, name in wanted, built_from))
    return checks


def _image_check(
    name: str,
    spec: images.ImageSpec,
    created: dict[str, datetime | None],
    required: bool,
    built_from: str | None = None,
) -> Check:
    """`built_from`: the digest of the Dockerfile folder the image was labelled with when
    built (images.CONTEXT_LABEL); an image built before labels were set is judged by times."""
    label = f"image {name}"
    built = created[name]
    if built is None:
        return fail(label, f"{spec.tag} is not built", f"cab images build {name}", required)
    if built_from is not None:
        changed = built_from != images.context_digest(spec.context())
    else:
        changed_at = _changed_at(spec.context())
        changed = changed_at is not None and changed_at > built
    newer_deps = [d for d in spec.depends_on if (created.get(d) or built) > built]
    fix = f"bump its tag in config/images.toml, or cab images build --force {name}"
    if changed:
        detail = f"{spec.tag} built {built:%Y-%m-%d %H:%M}, {spec.dockerfile} changed since"
        return warn(label, detail, fix, required)
    if newer_deps:
        detail = f"{spec.tag} is older than its base image {', '.join(newer_deps)}"
        return warn(label, detail, fix, required)
    return ok(label, f"{spec.tag} built {built:%Y-%m-%d %H:%M} UTC", required)


def _inspect(client: Any, tag: str) -> tuple[datetime | None, str | None]:
    """When the image was built (None: it is not), and the digest of the folder it was
    built from (None: built without the label)."""
    import docker

    try:
        attrs = client.images.get(tag).attrs
    except docker.errors.ImageNotFound:
        return None, None
    labels = (attrs.get("Config") or {}).get("Labels") or {}
    stamp = str(attrs.get("Created", "")).rstrip("Z").partition(".")[0]
    try:
        created = datetime.fromisoformat(stamp).replace(tzinfo=UTC)
    except ValueError:
        created = datetime.fromtimestamp(0, UTC)
    return created, labels.get(images.CONTEXT_LABEL)


def _git(folder: Path, *args: str) -> str | None:
    try:
        done = subprocess.run(
            ["git", "-C", str(folder), *args], capture_output=True, text=True, timeout=10
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def _changed_at(folder: Path) -> datetime | None:
    """When the Dockerfile folder last changed: its last commit, or the newest mtime of
    its files when git has uncommitted changes there (or there is no git)."""
    dirty = _git(folder, "status", "--porcelain", "--", ".")
    last = _git(folder, "log", "-1", "--format=%ct", "--", ".")
    if dirty == "" and last:
        return datetime.fromtimestamp(int(last), UTC)
    mtimes = [p.stat().st_mtime for p in folder.rglob("*") if p.is_file()]
    return datetime.fromtimestamp(max(mtimes), UTC) if mtimes else None


def docker_root(client: Any) -> Path:
    try:
        return Path(client.info().get("DockerRootDir") or "/var/lib/docker")
    except Exception:
        return Path("/var/lib/docker")
