"""Real servers on loopback: the fake upstream and the proxy, each in its own thread.

The upstream key is a made-up secret in a test-only env var; tests assert it reaches
the upstream and nothing else.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from pathlib import Path

import openai
import pytest

from proxy.server import FakeUpstreamServer, ProxyServer

SCRIPTS = Path(__file__).parent / "scripts"
KEY_ENV = "CAB_TEST_UPSTREAM_KEY"
SECRET = "sk-test-SECRET-do-not-leak-0123456789"


@pytest.fixture
def upstream_key(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv(KEY_ENV, SECRET)
    return SECRET


@pytest.fixture
def fake():
    with FakeUpstreamServer(scripts_dir=SCRIPTS, retry_after_s=0.05, hang_s=30) as server:
        yield server


@pytest.fixture
def record_dir(tmp_path: Path) -> Path:
    return tmp_path / "records"


@pytest.fixture
def proxy(fake: FakeUpstreamServer, upstream_key: str, record_dir: Path):
    with ProxyServer(
        upstream=fake.base_url + "/v1",
        upstream_key_env=KEY_ENV,
        record_dir=record_dir,
        require_session=True,
        timeout=5,
    ) as server:
        yield server


@pytest.fixture
def session(proxy: ProxyServer):
    return proxy.create_session(cell_id="sweep/tui/model/demo/fix-handler")


@pytest.fixture
def client(proxy: ProxyServer, session) -> openai.OpenAI:
    with openai.OpenAI(base_url=proxy.base_url + "/v1", api_key=session.key, max_retries=0) as c:
        yield c


def wait_for(predicate: Callable[[], object], timeout: float = 10.0) -> object:
    """Poll (bounded) until predicate() is truthy; fail the test otherwise."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.01)
    pytest.fail(f"condition not met within {timeout}s")


def read_answer(sock: socket.socket) -> bytes:
    """One OpenAI-shaped answer off a raw socket: until its headers and a JSON body's
    closing brace are in, or the peer closes."""
    answer = b""
    while b"\r\n\r\n" not in answer or not answer.rstrip().endswith(b"}"):
        chunk = sock.recv(65536)
        if not chunk:
            break
        answer += chunk
    return answer
