"""Where imported tasks are laid out in our own format, and the test counts their oracles ran.

An aider-polyglot exercise or a Harbor task is converted once into `workspace/`, `tests/`,
`solution/` under the cache (`$CAB_CACHE_DIR`, default `~/.cache/cab`), in a folder named by
a hash of its files: a changed exercise gets a new folder, an unchanged one is reused, and
the source folder (often read-only) is never written to. `cab tasks check` records how many
tests each imported task's oracle ran; later runs grade against that count.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import tempfile
import threading
from collections.abc import Callable, Iterable
from pathlib import Path

#: Bumped when the conversion changes, so old cache folders are not reused.
LAYOUT_VERSION = "2"


def cache_root() -> Path:
    return Path(os.environ.get("CAB_CACHE_DIR") or Path.home() / ".cache" / "cab")


def fingerprint(root: Path, files: Iterable[Path], *extra: str) -> str:
    """A hash of the files' relative paths and bytes (plus `extra` strings)."""
    h = hashlib.sha256(LAYOUT_VERSION.encode())
    for item in extra:
        h.update(item.encode() + b"\0")
    for path in sorted(files):
        h.update(path.relative_to(root).as_posix().encode() + b"\0")
        h.update(path.read_bytes() + b"\0")
    return h.hexdigest()[:16]


def materialize(kind: str, name: str, digest: str, build: Callable[[Path], None]) -> Path:
    """The cache folder for (kind, name, digest), built by `build(tmp)` when missing.
    Built in a temporary folder and renamed into place, so parallel loads never see half."""
    dest = cache_root() / "tasks" / kind / f"{name}-{digest}"
    if dest.is_dir():
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{name}-", dir=dest.parent))
    try:
        build(tmp)
        try:
            tmp.rename(dest)
        except OSError:
            if not dest.is_dir():  # lost a race to another process: theirs is the same
                raise
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return dest


def _counts_path() -> Path:
    return cache_root() / "expected-tests.json"


def recorded_count(task_id: str, digest: str) -> int | None:
    """The test count `cab tasks check` recorded for this task's oracle, if any."""
    try:
        data = json.loads(_counts_path().read_text())
    except (OSError, ValueError):
        return None
    value = data.get(f"{task_id}@{digest}")
    return value if isinstance(value, int) and value > 0 else None


_LOCK = threading.Lock()


def record_count(task_id: str, digest: str, count: int) -> None:
    """Remember the oracle's test count: read-modify-replace under a lock (threads of this
    process, and other processes through a lock file), so parallel checks lose nothing."""
    path = _counts_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    with _LOCK, open(path.with_suffix(".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        _update(path, f"{task_id}@{digest}", count)


def _update(path: Path, key: str, count: int) -> None:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        data = {}
    data[key] = count
    fd, tmp = tempfile.mkstemp(prefix=".expected-tests-", dir=path.parent)
    with os.fdopen(fd, "w") as fh:
        json.dump(data, fh, indent=1, sort_keys=True)
    try:
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
