"""`cab proxy`: run the recording OpenAI-compatible proxy in the foreground.

Point any agent's OPENAI_API_BASE at the printed URL + /v1; every call is recorded to
--record-dir/calls.jsonl. The real key is read from the env var named by
--upstream-key-env and never leaves the proxy. See docs/proxy.md.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import structlog

from proxy.config import DEFAULT_KEY_ENV, ProxyConfig


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
    p.add_argument("--timeout", type=float, default=600.0, help="upstream timeout, seconds")
    p.add_argument("--max-body-bytes", type=int, default=32 * 1024 * 1024)
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
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from proxy.app import create_app
    from proxy.server import run as run_loop
    from proxy.server import serve_until_signal

    if not args.upstream.startswith(("http://", "https://")):
        print(
            f"cab proxy: --upstream {args.upstream!r}: expected an http(s):// URL ending in /v1",
            file=sys.stderr,
        )
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
        transcripts=args.transcripts,
    )
    log = structlog.get_logger("proxy")
    if not os.environ.get(args.upstream_key_env):
        log.warning(
            "no upstream key set; calls go upstream without one (or with a client's plain key)",
            env=args.upstream_key_env,
        )
    app = create_app(config)
    run_loop(serve_until_signal(app, args.host, args.port, "cab proxy", args.unix_socket))
    return 0
