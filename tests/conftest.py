"""Shared fixtures. Docker tests run when an engine answers; with CAB_REQUIRE_DOCKER=1
(as in CI) a missing engine fails them instead of skipping them."""

from __future__ import annotations

import os
from functools import cache

import pytest

REQUIRE_DOCKER = os.environ.get("CAB_REQUIRE_DOCKER") == "1"


@cache
def docker_problem() -> str | None:
    """None when a Docker engine answers, else why not."""
    try:
        import docker

        client = docker.from_env(timeout=10)
        client.ping()
        client.close()
    except Exception as exc:
        return f"no Docker engine reachable: {exc}"
    return None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if REQUIRE_DOCKER:
        return  # the docker fixture below fails loudly instead
    for item in items:
        if "docker" in item.keywords:
            item.add_marker(
                pytest.mark.skipif(
                    docker_problem() is not None,
                    reason=f"{docker_problem()} (CAB_REQUIRE_DOCKER=1 makes this a failure)",
                )
            )


@pytest.fixture(scope="session")
def docker_client():
    problem = docker_problem()
    if problem:
        pytest.fail(f"Docker is required (CAB_REQUIRE_DOCKER=1) but: {problem}")
    import docker

    client = docker.from_env(timeout=120)
    yield client
    client.close()
