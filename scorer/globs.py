"""Path globs as tasks write them: `src/**`, `**/conftest.py`, `handler.go`, `docs/`.

`*` and `**` both cross `/` (fnmatch), a leading `**/` also matches at the root, and a
trailing `/` means everything under that folder. Paths are workspace-relative, posix.
"""

from __future__ import annotations

from fnmatch import fnmatchcase


def match(path: str, pattern: str) -> bool:
    path = path.removeprefix("./")
    if pattern.endswith("/"):
        pattern += "**"
    if fnmatchcase(path, pattern):
        return True
    while pattern.startswith("**/"):
        pattern = pattern[3:]
        if fnmatchcase(path, pattern):
            return True
    return False


def match_any(path: str, patterns: list[str]) -> bool:
    return any(match(path, p) for p in patterns)


def basename(path: str) -> str:
    return path.rsplit("/", 1)[-1]
