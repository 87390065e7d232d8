"""Where the polyglot sample lives: `$CAB_POLYGLOT_SAMPLE`, else `shared/` beside the
checkout (CI's layout: ../shared from the repo root), else /work/shared."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SAMPLE_REL = Path("datasets") / "polyglot-benchmark-sample"


def polyglot_sample() -> Path | None:
    env = os.environ.get("CAB_POLYGLOT_SAMPLE")
    candidates = [Path(env)] if env else []
    candidates += [REPO.parent / "shared" / SAMPLE_REL, Path("/work/shared") / SAMPLE_REL]
    # resolved: the loader names sources by their real path, and ../shared may be a link
    return next((c.resolve() for c in candidates if (c / "SOURCE.md").is_file()), None)


@pytest.fixture(scope="session")
def sample() -> Path:
    found = polyglot_sample()
    if found is None:
        pytest.fail("the polyglot sample is missing: set CAB_POLYGLOT_SAMPLE to its folder")
    return found


@pytest.fixture(autouse=True)
def _own_cache(tmp_path_factory, monkeypatch):
    """Each test session lays imported tasks out in its own cache, never the user's."""
    monkeypatch.setenv("CAB_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "cab-cache"))
