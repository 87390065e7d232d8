"""Workspace snapshots: content hashes of every file, and the diff against a baseline.

Files under a `.git` folder are not listed one by one: a new `.git` inside the workspace
is reported as `extra_git_dir` instead.
"""

from __future__ import annotations

import difflib
import hashlib
import shutil
from pathlib import Path

from scorer.evidence import ChangeFacts

Snapshot = dict[str, str]


def snapshot(root: Path) -> Snapshot:
    """rel path -> sha256 of the content, for every regular file (symlinks by target)."""
    snap: Snapshot = {}
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root)
        if ".git" in rel.parts:
            continue
        if path.is_symlink():
            snap[rel.as_posix()] = "symlink:" + str(path.readlink())
        elif path.is_file():
            snap[rel.as_posix()] = hashlib.sha256(path.read_bytes()).hexdigest()
    return snap


def has_git_dir(root: Path) -> bool:
    return any(p.name == ".git" for p in root.rglob(".git"))


def diff(baseline: Snapshot, after: Snapshot, *, git_before: bool, git_after: bool) -> ChangeFacts:
    return ChangeFacts(
        added=sorted(set(after) - set(baseline)),
        removed=sorted(set(baseline) - set(after)),
        modified=sorted(p for p in set(after) & set(baseline) if after[p] != baseline[p]),
        extra_git_dir=git_after and not git_before,
    )


def config_texts(root: Path, paths: list[str], limit: int = 65536) -> dict[str, str]:
    """The text of those of `paths` that exist under `root` (for the integrity axis)."""
    texts: dict[str, str] = {}
    for rel in paths:
        path = root / rel
        if path.is_file() and not path.is_symlink():
            texts[rel] = path.read_bytes()[:limit].decode("utf-8", "replace")
    return texts


def unified_diff(before_root: Path, after_root: Path, changes: ChangeFacts) -> str:
    """A text patch of the changes, for people (binary files are named, not shown)."""
    out: list[str] = []
    for rel in sorted(changes.added + changes.removed + changes.modified):
        a, b = before_root / rel, after_root / rel
        try:
            old = a.read_text(encoding="utf-8").splitlines(keepends=True) if a.is_file() else []
            new = b.read_text(encoding="utf-8").splitlines(keepends=True) if b.is_file() else []
        except UnicodeDecodeError:
            out.append(f"Binary file {rel} changed\n")
            continue
        out.extend(difflib.unified_diff(old, new, f"a/{rel}", f"b/{rel}"))
    return "".join(out)


def copy_tree(src: Path, dst: Path) -> None:
    shutil.copytree(src, dst, symlinks=True, dirs_exist_ok=True)
