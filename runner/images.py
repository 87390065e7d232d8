"""The images a run needs: named in config/images.toml, built locally, never pulled.

No registry is reachable from here, so every image is built from a Dockerfile in this
repository (`docker build --network host`, which reaches Debian's and PyPI's packages)
on top of `debian:bookworm-slim`, made locally by debootstrap. A tag that exists is not
rebuilt: bump the tag in config/images.toml when a Dockerfile changes. What was built is
recorded in `runs/images.json` (tag -> image id, size, when) so a cell's `image_digest`
can be traced to a build.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import sys
import tempfile
import threading
import tomllib
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, datetime
from functools import cache
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from runner.errors import ConfigError, RunnerError, UnknownNameError

REPO = Path(__file__).resolve().parent.parent
CONFIG = REPO / "config" / "images.toml"
BASE_IMAGE = "debian:bookworm-slim"

MAKE_BASE_HINT = (
    f"the base image {BASE_IMAGE} is missing and no registry is reachable; make it with:\n"
    "  debootstrap --variant=minbase bookworm /tmp/rootfs\n"
    f"  tar -C /tmp/rootfs -c . | docker import - {BASE_IMAGE}\n"
    "(.ci/run does this itself)"
)


class ImageError(RunnerError):
    """An image could not be built or the engine could not be asked about it."""


class ImageSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    tag: str = Field(description="repository:version, never 'latest'")
    dockerfile: str = Field(description="folder holding the Dockerfile, relative to the repo")
    depends_on: list[str] = Field(default_factory=list, description="images built first")

    @field_validator("tag")
    @classmethod
    def _versioned(cls, v: str) -> str:
        name, sep, version = v.rpartition(":")
        if not sep or not name or "/" in version:
            raise ValueError(f"{v!r} has no version: write repository:version")
        if version == "latest":
            raise ValueError(f"{v!r}: 'latest' is not a version; pin one")
        return v

    def context(self) -> Path:
        return (REPO / self.dockerfile).resolve()


def runs_dir() -> Path:
    return Path(os.environ.get("CAB_RUNS_DIR", REPO / "runs"))


def record_path() -> Path:
    """Where built images are recorded: runs/images.json (CAB_RUNS_DIR moves runs/)."""
    return runs_dir() / "images.json"


def load_config(path: Path = CONFIG) -> dict[str, ImageSpec]:
    """Read and check the images table: versioned tags, known and acyclic dependencies."""
    try:
        raw = tomllib.loads(Path(path).read_text())
    except FileNotFoundError:
        raise ConfigError(path, "-", "file not found") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(path, "-", f"not valid TOML: {exc}") from None
    table = raw.get("images")
    if not isinstance(table, dict) or not table:
        raise ConfigError(path, "images", "missing: add [images.<name>] tables")
    specs: dict[str, ImageSpec] = {}
    for name, body in table.items():
        try:
            specs[name] = ImageSpec.model_validate(body)
        except ValidationError as exc:
            err = exc.errors()[0]
            loc = ".".join(str(p) for p in err["loc"])
            raise ConfigError(path, f"images.{name}.{loc}".rstrip("."), err["msg"]) from None
        for dep in specs[name].depends_on:
            if dep not in table:
                raise ConfigError(path, f"images.{name}.depends_on", f"unknown image {dep!r}")
    try:
        build_order(specs, specs)
    except ImageError as exc:
        raise ConfigError(path, "depends_on", str(exc)) from None
    return specs


@cache
def _config() -> dict[str, ImageSpec]:
    return load_config()


def resolve(name_or_tag: str) -> str:
    """A name from config/images.toml becomes its tag; a full tag (repo:version) passes."""
    specs = _config()
    if name_or_tag in specs:
        return specs[name_or_tag].tag
    if ":" in name_or_tag or "/" in name_or_tag:
        return name_or_tag
    raise UnknownNameError(
        f"unknown image {name_or_tag!r}: not in {CONFIG} ({', '.join(specs)}) and not a tag"
    )


def build_order(names: Iterable[str], specs: dict[str, ImageSpec]) -> list[str]:
    """The named images and what they depend on, dependencies first."""
    order: list[str] = []
    visiting: list[str] = []

    def visit(name: str) -> None:
        if name in order:
            return
        if name in visiting:
            raise ImageError(f"dependency cycle: {' -> '.join([*visiting, name])}")
        if name not in specs:
            raise UnknownNameError(f"unknown image {name!r}; known: {', '.join(specs)}")
        visiting.append(name)
        for dep in specs[name].depends_on:
            visit(dep)
        visiting.pop()
        order.append(name)

    for name in names:
        visit(name)
    return order


def _client(timeout: int = 600):
    import docker

    try:
        client = docker.from_env(timeout=timeout)
        client.ping()
    except Exception as exc:
        raise ImageError(f"no Docker engine reachable: {exc}") from None
    return client


def digest(tag: str, client=None) -> str | None:
    """The local image id ('sha256:...') of a tag, or None when it is not built. Locally
    built images have no registry digest; the id is their content address."""
    import docker

    client = client or _client(timeout=30)
    try:
        return client.images.get(tag).id
    except docker.errors.ImageNotFound:
        return None


def _base_images(context: Path) -> list[str]:
    """The images a Dockerfile starts FROM, leaving out its own stages and ${ARG}s."""
    text = (context / "Dockerfile").read_text()
    found = re.findall(r"^\s*FROM\s+(?:--\S+\s+)*(\S+)(?:\s+AS\s+(\S+))?", text, flags=re.M | re.I)
    stages = {stage.lower() for _, stage in found if stage}
    return [
        base
        for base, _ in found
        if "$" not in base and base.lower() not in stages and base.lower() != "scratch"
    ]


def _build_one(client, spec: ImageSpec, emit: Callable[[str], None]) -> None:
    if not (spec.context() / "Dockerfile").is_file():
        # Checked here, not when loading: one unfinished entry must not stop the others.
        raise ImageError(f"{spec.tag}: no Dockerfile in {spec.context()} (field 'dockerfile')")
    for base in _base_images(spec.context()):
        if digest(base, client) is None:
            # Nothing can be pulled here: say what is missing instead of a registry error.
            if base == BASE_IMAGE:
                raise ImageError(MAKE_BASE_HINT)
            raise ImageError(
                f"{spec.tag}: its base image {base} is not built and cannot be pulled; "
                "build it first (add it to depends_on in config/images.toml)"
            )
    with tempfile.TemporaryDirectory(prefix="cab-build-") as tmp:
        context = _context_with_ca(spec.context(), Path(tmp))
        _stream_build(client, spec, context, emit)


#: the image label holding the digest of the Dockerfile folder it was built from
CONTEXT_LABEL = "cab.context_sha256"
_SKIPPED = ("__pycache__",)


def context_digest(folder: Path) -> str:
    """The digest of a Dockerfile folder's contents (each file's path and bytes): what an
    image is labelled with when built, so `cab doctor` can tell exactly whether the folder
    changed since (a checkout's times say nothing: a pull touches files it does not change,
    an older checkout has newer times)."""
    h = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        rel = path.relative_to(folder)
        if any(part in _SKIPPED for part in rel.parts):
            continue
        h.update(rel.as_posix().encode() + b"\0")
        h.update(hashlib.sha256(path.read_bytes()).digest())
    return "sha256:" + h.hexdigest()


def _context_with_ca(source: Path, tmp: Path) -> Path:
    """A copy of the build context with the host's CA bundle in it as build-ca.crt.

    Where egress TLS is intercepted (as here: a proxy re-signs PyPI and npm with a CA only
    the host trusts), pip and npm inside a build need that bundle; Dockerfiles pick it up
    with `COPY build-ca.cr[t]` (see images/agents/build.sh). Copying keeps the repo clean."""
    context = tmp / "context"
    shutil.copytree(source, context, ignore=shutil.ignore_patterns("__pycache__"))
    bundle = Path(os.environ.get("CAB_BUILD_CA_BUNDLE", "/etc/ssl/certs/ca-certificates.crt"))
    if bundle.is_file():
        shutil.copyfile(bundle, context / "build-ca.crt")
    return context


def _stream_build(client, spec: ImageSpec, context: Path, emit: Callable[[str], None]) -> None:
    tail: list[str] = []
    stream = client.api.build(
        path=str(context),
        tag=spec.tag,
        network_mode="host",
        rm=True,
        forcerm=True,
        pull=False,
        decode=True,
        labels={"cab.managed": "1", CONTEXT_LABEL: context_digest(spec.context())},
    )
    for chunk in stream:
        if "error" in chunk:
            detail = "".join(tail[-20:])
            raise ImageError(f"building {spec.tag} failed: {chunk['error'].strip()}\n{detail}")
        text = chunk.get("stream") or chunk.get("status")
        if text:
            tail.append(text if text.endswith("\n") else text + "\n")
            emit(text)


def _record(entries: dict[str, dict]) -> None:
    path = record_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        known = json.loads(path.read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        known = {}
    known.update(entries)
    tmp = path.with_suffix(f".{os.getpid()}.{threading.get_ident()}.tmp")  # others write too
    tmp.write_text(json.dumps(known, indent=2, sort_keys=True) + "\n")
    tmp.replace(path)


def _stderr(text: str) -> None:
    sys.stderr.write(text)
    sys.stderr.flush()


def build(
    names: Iterable[str] | None = None,
    force: bool = False,
    emit: Callable[[str], None] = _stderr,
    specs: dict[str, ImageSpec] | None = None,
    jobs: int = 1,
) -> dict[str, str]:
    """Build the named images (all when None) and their dependencies where missing, in
    dependency order; `force` rebuilds the named ones even if their tag exists.
    Returns tag -> image id for every image in the order. Raises ImageError.
    `specs` replaces config/images.toml (tests, other tables). With `jobs` > 1, up to that
    many independent images build at once (each after its depends_on), their output
    lines prefixed with the image's name; one failing build does not stop the others."""
    specs = specs if specs is not None else _config()
    wanted = list(names) if names else list(specs)
    order = build_order(wanted, specs)
    _client().close()  # no engine: say so once, before anything starts
    recorded: dict[str, dict] = {}
    lock = threading.Lock()

    def one(name: str) -> None:
        say = emit if jobs <= 1 else (lambda text: emit(f"[{name}] {text}"))
        client = _client()
        try:
            entry = _build_or_keep(client, name, specs[name], force and name in wanted, say)
        finally:
            client.close()
        with lock:
            recorded[specs[name].tag] = entry

    try:
        if jobs <= 1:
            for name in order:
                one(name)
        else:
            _in_dependency_order(order, specs, jobs, one)
    finally:
        if recorded:
            _record(recorded)
    return {specs[n].tag: recorded[specs[n].tag]["id"] for n in order}


def _build_or_keep(
    client, name: str, spec: ImageSpec, force: bool, emit: Callable[[str], None]
) -> dict:
    """Build one image unless its tag exists (or rebuild it with `force`): its record."""
    have = digest(spec.tag, client)
    fresh = not have or force
    if fresh:
        emit(f"== {name}: building {spec.tag} from {spec.dockerfile}\n")
        _build_one(client, spec, emit)
    else:
        emit(f"== {name}: {spec.tag} present ({(have or '')[:19]})\n")
    image = client.images.get(spec.tag)
    return {
        "name": name,
        "id": image.id,
        "size": image.attrs.get("Size"),
        "built_now": fresh,
        "recorded_at": datetime.now(UTC).isoformat(),
    }


def _in_dependency_order(
    order: list[str], specs: dict[str, ImageSpec], jobs: int, one: Callable[[str], None]
) -> None:
    """Run `one` for each name on `jobs` threads, each after its dependencies succeeded.
    Submitting in `order` (dependencies first) means a waiting build only ever waits on
    one already running or done, so the pool cannot deadlock. Raises the failures."""
    futures: dict[str, Future[None]] = {}

    def after_deps(name: str) -> None:
        for dep in specs[name].depends_on:
            if dep in futures and futures[dep].exception() is not None:
                raise ImageError(f"{specs[name].tag}: not built, its base {dep} failed")
        one(name)

    with ThreadPoolExecutor(max_workers=jobs) as pool:
        for name in order:
            futures[name] = pool.submit(after_deps, name)
    failed = [f.exception() for f in futures.values() if f.exception() is not None]
    if failed:
        raise ImageError("\n".join(str(exc) for exc in failed))


def ensure(name: str) -> str:
    """The tag of a configured image, building it (and its dependencies) if missing."""
    tag = resolve(name)
    if name in _config() and digest(tag) is None:
        build([name])
    return tag


def listing() -> list[dict]:
    """Every configured image: name, tag, built or not, id, size in bytes."""
    import docker

    specs = _config()
    client = _client(timeout=30)
    rows = []
    try:
        for name, spec in specs.items():
            row = {"name": name, "tag": spec.tag, "built": False, "id": None, "size": None}
            try:
                image = client.images.get(spec.tag)
                row |= {"built": True, "id": image.id, "size": image.attrs.get("Size")}
            except docker.errors.ImageNotFound:
                pass
            rows.append(row)
    finally:
        client.close()
    return rows
