"""The servers a run needs, started once and shared by its cells: the recording proxy and,
for embedded (scripted) models, the fake upstream. Cells get a proxy session each."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from types import TracebackType

from proxy.fake import sequences
from proxy.fake.quota import QuotaConfig
from proxy.server import FakeUpstreamServer, ProxyServer
from runner.models import CONFIG_DIR, ModelSpec
from runner.remote_proxy import DEFAULT_TOKEN_ENV, RemoteProxy
from runner.sandbox.isolation import SOCKET_NAME

SCRIPTS_DIR = CONFIG_DIR / "scripts"
#: The proxy's default upstream is the fake one, which needs no key: name an env var
#: nobody sets so no real key can ever be forwarded to it.
NO_KEY_ENV = "CAB_EMBEDDED_UPSTREAM_HAS_NO_KEY"


class Harness:
    def __init__(
        self,
        scripts_dir: Path = SCRIPTS_DIR,
        record_dir: Path | None = None,
        retry_after_s: float = 1.0,
        quota: QuotaConfig | None = None,
        governor: bool = True,
        proxy_url: str | None = None,
        proxy_token_env: str = DEFAULT_TOKEN_ENV,
    ) -> None:
        self.scripts_dir = scripts_dir
        self.record_dir = record_dir
        self.retry_after_s = retry_after_s
        #: the embedded fake provider's quota (benchmarks, tests), and the proxy's governor
        self.quota = quota
        self.governor = governor
        #: a running `cab proxy` to use instead of starting one (runner/remote_proxy.py)
        self.proxy_url, self.proxy_token_env = proxy_url, proxy_token_env
        self.fake: FakeUpstreamServer | None = None
        self.proxy: ProxyServer | RemoteProxy | None = None
        #: Holds the proxy's Unix socket; mounted into isolated cells' sidecars only.
        self.socket_dir: Path | None = None

    def start(self) -> Harness:
        self.fake = FakeUpstreamServer(
            scripts_dir=self.scripts_dir, retry_after_s=self.retry_after_s, quota=self.quota
        ).start()
        try:
            if self.proxy_url:  # shared: its cells reach it over TCP, it has its own socket
                self.proxy = RemoteProxy(self.proxy_url, self.proxy_token_env).start()
                return self
            self.socket_dir = _socket_dir()
            self.proxy = ProxyServer(
                upstream=self.fake.base_url + "/v1",
                upstream_key_env=NO_KEY_ENV,
                record_dir=self.record_dir,
                require_session=True,
                unix_path=self.socket_dir / SOCKET_NAME,
                governor=self.governor,
            ).start()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        if self.proxy is not None:
            self.proxy.stop()
            self.proxy = None
        if self.fake is not None:
            self.fake.stop()
            self.fake = None
        if self.socket_dir is not None:
            shutil.rmtree(self.socket_dir, ignore_errors=True)
            self.socket_dir = None

    def __enter__(self) -> Harness:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def open_session(
        self,
        model: ModelSpec,
        cell_id: str,
        task_id: str,
        tui: str = "reference",
        upstream_timeout_s: float | None = None,
    ):
        """A proxy session for one cell, routed to the model's endpoint; its upstream
        timeout is kept below the agent's client timeout (runner.adapters.base)."""
        assert self.proxy is not None, "harness not started"
        if model.embedded:
            remote = isinstance(self.proxy, RemoteProxy) and self.fake is not None
            sess = self.proxy.create_session(
                cell_id=cell_id,
                upstream=self.fake.base_url + "/v1" if remote and self.fake else None,
                upstream_key_env=NO_KEY_ENV if remote else None,
                model_override=self.scripted_model(model, task_id, tui),
                policy=model.policy(),
                upstream_timeout_s=upstream_timeout_s,
            )
            if sess.model_override and sess.model_override.startswith(sequences.PREFIX):
                # a scenario: its fault sequence starts afresh for this cell
                sess.model_override = sequences.tagged(sess.model_override, sess.id)
            return sess
        return self.proxy.create_session(
            cell_id=cell_id,
            upstream=model.endpoint,
            upstream_key_env=model.key_env,
            model_override=model.upstream_model(task_id),
            policy=model.policy(),
            upstream_timeout_s=upstream_timeout_s,
        )

    def scripted_model(self, model: ModelSpec, task_id: str, tui: str) -> str:
        """The fake's model name for an embedded model: an agent CLI's own script
        (config/scripts/clis/<tui>/...) when there is one, else the reference agent's."""
        name = model.upstream_model(task_id)
        head = ""
        if name.startswith(sequences.PREFIX):  # faults/<sequence>/<inner model>
            seq, _, name = name[len(sequences.PREFIX) :].partition("/")
            head = f"{sequences.PREFIX}{seq}/"
        prefix = "scripted/"
        if name.startswith(prefix):
            own = "clis/" + tui + "/" + name[len(prefix) :]
            if (self.scripts_dir / f"{own}.toml").is_file():
                return head + prefix + own
        return head + name

    @property
    def proxy_port(self) -> int:
        """The proxy's TCP port on the host's 127.0.0.1."""
        assert self.proxy is not None, "harness not started"
        return self.proxy.port

    @property
    def base_url(self) -> str:
        assert self.proxy is not None, "harness not started"
        return self.proxy.base_url + "/v1"


def _socket_dir() -> Path:
    """A fresh folder for the proxy's socket, under /tmp where there is one: a Unix socket's
    path must fit in 108 bytes, which a long $TMPDIR (macOS) can exceed. Mode 0755: the
    sidecar's nobody may reach the socket, nobody may plant files beside it."""
    base = "/tmp" if Path("/tmp").is_dir() else None
    path = Path(tempfile.mkdtemp(prefix="cab-proxy-", dir=base))
    path.chmod(0o755)
    return path
