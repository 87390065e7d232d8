"""ProxyConfig: everything `create_app` needs, set by `cab proxy` flags or ProxyServer."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from yarl import URL

from proxy.governor import Policy

DEFAULT_KEY_ENV = "OPENAI_API_KEY"


@dataclass(frozen=True)
class ProxyConfig:
    #: OpenAI base URL ending in /v1; client path /v1/X goes to upstream + /X.
    upstream: str
    #: Name of the env var holding the real provider key (never the key itself).
    upstream_key_env: str = DEFAULT_KEY_ENV
    host: str = "127.0.0.1"
    port: int = 8787
    record_dir: Path | None = None
    #: Reject requests without a `cab-<session>` key (the runner's mode).
    require_session: bool = False
    #: Seconds to wait for the upstream to connect / send its next bytes.
    timeout: float = 600.0
    max_body_bytes: int = 32 * 1024 * 1024
    #: the largest whole (non-streamed) reply the proxy reads from the upstream; a larger
    #: one is refused (502 `upstream_malformed`) instead of held in memory.
    max_reply_bytes: int = 256 * 1024 * 1024
    #: the rate-limit governor (docs/proxy.md); off forwards every call at once.
    governor: bool = True
    #: quota, absorb and injection for sessions that bring no policy of their own.
    policy: Policy = field(default_factory=Policy)
    #: keep wire transcripts (request bodies and replies) beside calls.jsonl
    transcripts: bool = True
    #: ask streams for usage (stream_options.include_usage) when the client did not.
    stream_usage: bool = True
    #: seconds a connection may take to send its first request's headers.
    header_timeout_s: float = 10.0
    #: seconds a request's body may take to arrive once its headers have (slow-loris on
    #: the body: 408, and the connection is closed).
    body_timeout_s: float = 60.0
    #: seconds an idle keep-alive connection is kept open.
    keepalive_timeout_s: float = 15.0
    #: on SIGTERM/stop: seconds calls in flight may take to finish before they are cut.
    shutdown_grace_s: float = 10.0
    #: seconds a session that appeared from a key (standalone) is kept once idle.
    session_idle_s: float = 900.0
    #: env var holding the token of the loopback admin route (POST /admin/sessions);
    #: unset or empty: the route answers 404.
    admin_token_env: str = "CAB_PROXY_ADMIN_TOKEN"

    def __post_init__(self) -> None:
        object.__setattr__(self, "upstream", self.upstream.rstrip("/"))


def upstream_problem(upstream: str, key_env: str = "the key's env var") -> str | None:
    """What is wrong with an upstream base URL, or None. The proxy appends the API's path
    to it and sends the key from the environment, so it takes no query, no fragment and no
    credentials (which would also be quoted in every error about the upstream)."""
    example = "expected an http(s) base URL such as https://api.openai.com/v1"
    try:
        url = URL(upstream)
    except ValueError:
        return example
    if url.scheme not in ("http", "https") or not url.host:
        return example
    if url.user is not None or url.password is not None:
        return f"no credentials in the URL: put the key in {key_env}"
    if url.query_string or url.fragment:
        return "no query or fragment: the proxy appends the API's path to this base"
    return None
