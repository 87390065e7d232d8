"""`cab proxy`: run the recording OpenAI-compatible proxy in the foreground.

Point any agent's OPENAI_API_BASE at the printed URL + /v1; every call is recorded to
--record-dir/calls.jsonl. The real key is read from the env var named by
--upstream-key-env and never leaves the proxy. See docs/proxy.md.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from collections.abc import Callable
from pathlib import Path

import structlog

from proxy.config import DEFAULT_KEY_ENV, ProxyConfig, upstream_problem
from proxy.governor import AbsorbPolicy, Limits, Policy
from proxy.inject import FaultSpecError, parse_inject


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "proxy",
        help="Run the recording OpenAI-compatible proxy",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--upstream", required=True, help="provider's OpenAI base URL, ending in /v1")
    p.add_argument(
        "--upstream-key-env",
        default=DEFAULT_KEY_ENV,
        metavar="NAME",
        help=f"env var holding the provider key (default {DEFAULT_KEY_ENV})",
    )
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8787, help="0 picks a free port (default 8787)")
    p.add_argument("--record-dir", type=Path, help="append each call to DIR/calls.jsonl")
    p.add_argument(
        "--require-session",
        action="store_true",
        help="refuse keys that are not cab-<session> (401) instead of using session 'default'",
    )
    p.add_argument(
        "--timeout", type=_positive(float), default=600.0, help="upstream timeout, seconds"
    )
    p.add_argument("--max-body-bytes", type=_positive(int), default=32 * 1024 * 1024)
    p.add_argument(
        "--max-reply-bytes",
        type=_positive(int),
        default=256 * 1024 * 1024,
        help="refuse (502) a whole upstream reply larger than this instead of holding it",
    )
    p.add_argument(
        "--unix-socket",
        type=Path,
        metavar="PATH",
        help="also serve on this Unix socket (for an isolated agent's sidecar: docs/isolation.md)",
    )
    p.add_argument(
        "--no-transcripts",
        dest="transcripts",
        action="store_false",
        help="keep no request bodies or replies (by default, with --record-dir, they go to"
        " DIR/transcript.jsonl.gz, keys redacted)",
    )
    _hardening_flags(p)
    _governor_flags(p)
    p.set_defaults(func=run)


def _positive(kind: type[int] | type[float]) -> Callable[[str], float]:
    """An argparse type: a number above 0 (a size, a timeout or a limit of 0 or less
    would refuse or cut everything), else a clear error naming the value."""

    def parse(text: str) -> float:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
        if not value > 0:  # NaN too
            raise argparse.ArgumentTypeError(f"{text!r} must be greater than 0")
        return value

    parse.__name__ = kind.__name__  # argparse names the type in its messages
    return parse


def _hardening_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--no-stream-usage",
        dest="stream_usage",
        action="store_false",
        help="never add stream_options.include_usage to a client's stream (tokens are then"
        " estimated unless the client asked for usage itself)",
    )
    p.add_argument("--header-timeout", type=_positive(float), default=10.0, metavar="S",
                   help="close a connection that sends no request headers within S seconds")  # fmt: skip
    p.add_argument("--body-timeout", type=_positive(float), default=60.0, metavar="S",
                   help="answer 408 (and close) when a request's body has not arrived S"
                   " seconds after its headers")  # fmt: skip
    p.add_argument("--keepalive-timeout", type=_positive(float), default=15.0, metavar="S",
                   help="close an idle keep-alive connection after S seconds")  # fmt: skip
    p.add_argument("--shutdown-grace", type=float, default=10.0, metavar="S",
                   help="on SIGTERM, let calls in flight finish for up to S seconds")  # fmt: skip
    p.add_argument("--session-idle", type=_positive(float), default=900.0, metavar="S",
                   help="forget a session that appeared from a key after S idle seconds")  # fmt: skip
    p.add_argument(
        "--session",
        action="append",
        default=[],
        metavar="NAME",
        help="issue a session key at start and print it (repeatable; for --require-session)",
    )
    p.add_argument(
        "--admin-token-env",
        default="CAB_PROXY_ADMIN_TOKEN",
        metavar="NAME",
        help="env var holding the token of POST /admin/sessions (loopback only; unset: off)",
    )


def _governor_flags(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group(
        "rate limits (docs/proxy.md, 'The governor'); a session's model entry overrides these"
    )
    g.add_argument("--no-governor", dest="governor", action="store_false",
                   help="forward every call at once (no admission, no queueing)")  # fmt: skip
    g.add_argument(
        "--rpm", type=_positive(int), help="the provider's requests per window for this key"
    )
    g.add_argument(
        "--tpm", type=_positive(int), help="the provider's tokens per window for this key"
    )
    g.add_argument(
        "--max-concurrency", type=_positive(int), help="calls in flight at once, at most"
    )
    g.add_argument("--quota-window-s", type=_positive(float), default=60.0, metavar="S",
                   help="the window --rpm/--tpm count over (default 60: per minute)")  # fmt: skip
    g.add_argument("--absorb", action="store_true",
                   help="retry 429/503/529 (and a whole 200 that reports a quota or an overload,"
                        " or holds no answer) upstream inside the proxy, honouring Retry-After")  # fmt: skip
    g.add_argument("--inject", metavar="SPEC",
                   help="serve faults instead of the provider, e.g. '429:retry_after=2@30%%;seed=1'")  # fmt: skip


def _policy(args: argparse.Namespace) -> Policy:
    """The proxy-wide policy from the flags (FaultSpecError names a bad --inject)."""
    limits = Limits(args.rpm, args.tpm, args.max_concurrency, args.quota_window_s)
    return Policy(
        limits=limits,
        absorb=AbsorbPolicy() if args.absorb else None,
        inject=parse_inject(args.inject) if args.inject else None,
    )


def run(args: argparse.Namespace) -> int:
    from proxy.admin import issue
    from proxy.app import create_app
    from proxy.errors import ProxyError
    from proxy.server import run as run_loop
    from proxy.server import serve_until_signal, settle_heap
    from proxy.sessions import SessionStore

    wrong = upstream_problem(args.upstream, f"${args.upstream_key_env} (--upstream-key-env)")
    if wrong:
        shown = re.sub(r"//[^/@]*@", "//", args.upstream)  # never echo credentials
        print(f"cab proxy: --upstream {shown!r}: {wrong}", file=sys.stderr)
        return 2
    try:
        policy = _policy(args)
    except FaultSpecError as exc:
        print(f"cab proxy: --inject: {exc}", file=sys.stderr)
        return 2
    config = ProxyConfig(
        upstream=args.upstream,
        upstream_key_env=args.upstream_key_env,
        host=args.host,
        port=args.port,
        record_dir=args.record_dir,
        require_session=args.require_session,
        timeout=args.timeout,
        max_body_bytes=args.max_body_bytes,
        max_reply_bytes=args.max_reply_bytes,
        transcripts=args.transcripts,
        stream_usage=args.stream_usage,
        header_timeout_s=args.header_timeout,
        body_timeout_s=args.body_timeout,
        keepalive_timeout_s=args.keepalive_timeout,
        shutdown_grace_s=args.shutdown_grace,
        session_idle_s=args.session_idle,
        admin_token_env=args.admin_token_env,
        governor=args.governor,
        policy=policy,
    )
    log = structlog.get_logger("proxy")
    if not os.environ.get(args.upstream_key_env):
        log.warning(
            "no upstream key set; calls go upstream without one (or with a client's plain key)",
            env=args.upstream_key_env,
        )
    store = SessionStore(implicit_reader=False)  # calls.jsonl holds every call
    for name in args.session:
        try:
            sess = issue(store, name)
        except ProxyError as err:
            print(f"cab proxy: --session: {err.message}", file=sys.stderr)
            return 2
        print(f"session {name}: key {sess.key}", flush=True)
    app = create_app(config, store)
    settle_heap()
    run_loop(serve_until_signal(app, args.host, args.port, "cab proxy", args.unix_socket))
    return 0
