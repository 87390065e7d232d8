"""Back up a project folder to a .tar.gz archive, skipping build junk.

    python3 backup.py SOURCE_DIR DEST_DIR
"""

from __future__ import annotations

import sys
import tarfile
from pathlib import Path

SKIP = {".git", "__pycache__", "node_modules", ".venv"}


def wanted(path: Path) -> bool:
    return not any(part in SKIP for part in path.parts)


def backup(source: Path, dest_dir: Path, name: str = "backup") -> Path:
    """Write DEST_DIR/<name>.tar.gz holding every wanted file of SOURCE, relative paths."""
    dest_dir.mkdir(parents=True, exist_ok=True)
    archive = dest_dir / f"{name}.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        for path in sorted(source.rglob("*")):
            rel = path.relative_to(source)
            if path.is_file() and wanted(rel):
                tar.add(path, arcname=rel.as_posix())
    return archive


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    archive = backup(Path(argv[0]), Path(argv[1]))
    print(f"wrote {archive}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
