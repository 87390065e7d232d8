"""`cab fake-upstream`: run the fake OpenAI-compatible provider (tests, demos, benchmarks).

Behaviour is picked by the request's model name: scripted/<category>/<name> replays
<scripts>/<category>/<name>.toml, throttled/... answers 429, fault/... injects one
failure, anything else gets a deterministic echo. See docs/proxy.md.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

from runner.harness import SCRIPTS_DIR


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "fake-upstream",
        help="Run the fake OpenAI-compatible upstream",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8788, help="0 picks a free port (default 8788)")
    p.add_argument(
        "--scripts",
        type=Path,
        default=SCRIPTS_DIR,
        help="scripts dir (default: this checkout's config/scripts, from any directory)",
    )
    p.add_argument("--retry-after", type=float, default=1.0, help="Retry-After of 429s, seconds")
    p.add_argument("--chunk-delay-ms", type=float, default=0.0, help="pause between stream chunks")
    p.add_argument("--hang-s", type=float, default=3600.0, help="how long fault/hang hangs")
    q = p.add_argument_group("provider quota per key (proxy/fake/quota.py; off by default)")
    q.add_argument("--rpm", type=int, help="requests per window")
    q.add_argument("--tpm", type=int, help="tokens (prompt + completion) per window")
    q.add_argument("--max-concurrency", type=int, help="requests in flight at once")
    q.add_argument("--quota-window-s", type=float, default=60.0, help="window length (60 = RPM)")
    q.add_argument("--quota-burst", type=float, default=1.0, help="bucket size, share of limit")
    q.add_argument("--quota-noise", type=float, default=0.0, help="0..1: limits up to this less")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from proxy.fake.app import FakeConfig, create_fake_app
    from proxy.fake.quota import QuotaConfig
    from proxy.server import run as run_loop
    from proxy.server import serve_until_signal

    if not args.scripts.is_dir():
        print(
            f"cab fake-upstream: --scripts {args.scripts}: no such directory (scripted/* will 404)",
            file=sys.stderr,
        )
    config = FakeConfig(
        scripts_dir=args.scripts,
        retry_after_s=args.retry_after,
        chunk_delay_s=args.chunk_delay_ms / 1000,
        hang_s=args.hang_s,
        quota=None,
    )
    if args.rpm or args.tpm or args.max_concurrency:
        try:
            quota = QuotaConfig(
                rpm=args.rpm,
                tpm=args.tpm,
                max_concurrency=args.max_concurrency,
                window_s=args.quota_window_s,
                burst=args.quota_burst,
                noise=args.quota_noise,
            )
        except ValueError as exc:
            print(f"cab fake-upstream: {exc}", file=sys.stderr)
            return 2
        config = dataclasses.replace(config, quota=quota)
    run_loop(serve_until_signal(create_fake_app(config), args.host, args.port, "cab fake-upstream"))
    return 0
