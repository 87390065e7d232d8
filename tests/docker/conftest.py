"""Fixtures shared by the Docker test modules."""

from __future__ import annotations

import os
import uuid

import pytest


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory):
    """A fresh CAB_CACHE_DIR for the module (expected test counts of imported tasks are
    cached there), the old value put back after."""
    path = tmp_path_factory.mktemp("cab-cache")
    old = os.environ.get("CAB_CACHE_DIR")
    os.environ["CAB_CACHE_DIR"] = str(path)
    yield path
    if old is None:
        os.environ.pop("CAB_CACHE_DIR", None)
    else:
        os.environ["CAB_CACHE_DIR"] = old


@pytest.fixture
def run_id(docker_client):
    """A unique `cab.test` label value; whatever carries it is removed after the test."""
    value = uuid.uuid4().hex[:12]
    yield value
    for c in docker_client.containers.list(
        all=True, ignore_removed=True, filters={"label": f"cab.test={value}"}
    ):
        c.remove(force=True)
