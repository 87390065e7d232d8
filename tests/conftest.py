"""Shared fixtures. Docker tests run when an engine answers; with CAB_REQUIRE_DOCKER=1
(as in CI) a missing engine fails them instead of skipping them."""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Callable, Iterator
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


# ---- scheduling under pytest-xdist (.ci/run: -n 3 --dist loadscope) ----

#: Modules of long, independent tests: their tests are spread over the workers one by one.
#: Every other module runs whole on one worker, so its module- and session-scoped fixtures
#: (a corpus of cells, a real sweep, a browser, a shared harness) are set up once.
SPREAD = (
    "tests/docker/test_clis.py",
    "tests/docker/test_run_cell.py",
    "tests/docker/test_sweep.py",
    "tests/docker/test_isolation.py",
    "tests/docker/test_taskcheck.py",
    "tests/docker/test_sandbox.py",
)

#: Started first, longest first (from `--durations`), so no long test starts last and
#: holds up the end of the run; a module keeps its tests together. Prefixes of node ids.
SLOW_FIRST = (
    "tests/docker/test_clis.py::test_cli_gives_up_on_429_and_the_cell_is_infra[aider]",
    "tests/docker/test_verdict_corpus.py",
    "tests/docker/test_clis.py::test_cli_solves_the_task_through_the_proxy[openhands]",
    "tests/docker/test_sweep.py::test_sweep_matrix_lands_in_the_store",
    "tests/docker/test_transcripts_clis.py",
    "tests/test_demo_local.py",
    "tests/docker/test_polyglot_sweep.py",
    "tests/docker/test_clis.py::test_cli_solves_the_task_through_the_proxy",
    "tests/docker/test_clis.py::test_openhands_retry_budget_is_its_own_setting",
    "tests/docker/test_harbor.py",
    "tests/docker/test_taskcheck.py::test_whole_suite_is_honest_in_docker",
    "tests/docker/test_sweep.py::test_sigkilled_sweep_resumes_without_loss",
    "tests/docker/test_clis.py",
    "tests/test_sweep_local.py",
    "tests/test_one_leaderboard.py",
    "tests/browser/test_real_sweep.py",
    "tests/docker/",
)


def schedule_scope(nodeid: str) -> str:
    """What xdist keeps on one worker: the module, or the test itself in SPREAD modules."""
    module = nodeid.split("::", 1)[0]
    return nodeid if module in SPREAD else module


def slow_rank(nodeid: str) -> int:
    return next((i for i, p in enumerate(SLOW_FIRST) if nodeid.startswith(p)), len(SLOW_FIRST))


def pytest_xdist_make_scheduler(config: pytest.Config, log):
    """`--dist loadscope` with our scopes, in collection order (slowest first)."""
    if config.getoption("dist") != "loadscope":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class Scheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return schedule_scope(nodeid)

    config.option.loadscopereorder = False  # keep the order pytest_collection_modifyitems set
    return Scheduling(config, log)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # A module's tests stay together (its fixtures), ranked by its slowest-first test.
    rank: dict[str, int] = {}
    for item in items:
        scope = schedule_scope(item.nodeid)
        rank[scope] = min(rank.get(scope, len(SLOW_FIRST)), slow_rank(item.nodeid))
    items.sort(key=lambda item: rank[schedule_scope(item.nodeid)])
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


# ---- isolation: a host service an isolated agent must not reach (tests/docker) ----


class HostService:
    """A TCP server on the host's 127.0.0.1 (random port) counting accepted connections."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.sock.settimeout(0.2)
        self.port: int = self.sock.getsockname()[1]
        self.accepted = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.accepted += 1
            conn.close()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self.sock.close()


@pytest.fixture
def host_service() -> Iterator[HostService]:
    service = HostService()
    yield service
    service.close()


@pytest.fixture
def assert_isolated(host_service: HostService) -> Callable[[dict], None]:
    """Check a cell record (as JSON) for the isolation evidence: inside the agent's own
    container only `lo` existed, no capability, no Docker socket, the host service's port
    was refused (and the service saw nothing), and the proxy was reached, never refused."""

    def check(record: dict) -> None:
        assert record["identity"]["network_mode"] == "isolated"
        iso = record["isolation"]
        assert iso["network_mode"] == "isolated"
        assert iso["engine_network_mode"].startswith("container:")
        seen = iso["check"]
        assert seen is not None, "the in-container check left no report"
        assert seen["interfaces"] == ["lo"] and seen["loopback_only"] is True
        assert seen["cap_eff"] == "0000000000000000" and seen["no_new_privs"] is True
        assert seen["docker_socket"] is False and seen["uid"] != "0"
        assert seen["probes"][f"127.0.0.1:{host_service.port}"] == "refused"
        assert set(seen["probes"].values()) == {"refused"}
        assert host_service.accepted == 0
        assert iso["forwarder"]["connections_accepted"] >= 1
        assert iso["forwarder"]["connections_refused"] == 0

    return check
