"""pytest imports this folder as the package `proxy` (it puts tests/ first on sys.path),
which hides the real package: a `proxy.X` not imported before that point would not be
found. Searching the real package's folder too makes every `proxy.X` the real module."""

from pathlib import Path

__path__.append(str(Path(__file__).resolve().parents[2] / "proxy"))
