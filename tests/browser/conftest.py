"""Browser fixtures: a rendered sample sweep served on 127.0.0.1, and Debian's chromium.

Every page opened through `open_page` records console errors, page errors and any
request that leaves the site; those requests are aborted so nothing reaches the network.
The test asserts the lists are empty.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from sample_sweep import build_sample_sweep

from report import build_site
from tests.static_site import serving

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@dataclass
class Site:
    sweep: Path
    out: Path
    base: str  # http://127.0.0.1:PORT/


@dataclass
class Watch:
    console_errors: list[str] = field(default_factory=list)
    outside: list[str] = field(default_factory=list)


@pytest.fixture(scope="session")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """The sample sweep (tests/browser/sample_sweep.py), rendered and served."""
    root = tmp_path_factory.mktemp("sweep")
    sweep = build_sample_sweep(root)
    out = root / "site"
    build_site(sweep, out)
    with serving(out) as base:
        yield Site(sweep=sweep, out=out, base=base)


@pytest.fixture(scope="session")
def real_site(tmp_path_factory: pytest.TempPathFactory, docker_client) -> Iterator[Site]:
    """A real sweep: `cab run-cell` in Docker, the reference agent against the scripted
    and the scripted-throttled model, then `cab report`, both as the user runs them."""
    root = tmp_path_factory.mktemp("real")
    for model in ("scripted", "scripted-throttled"):
        cab(
            "run-cell", "--tui", "reference", "--model", model,
            "--task", "polyglot/go-http-handler-fix", "--sweep-id", "browser",
            "--sandbox", "docker", "--out", str(root),
        )  # fmt: skip
    out = root / "site"
    index = cab("report", str(root / "browser"), "--out", str(out)).stdout.strip()
    assert Path(index) == (out / "index.html").resolve()
    with serving(out) as base:
        yield Site(sweep=root / "browser", out=out, base=base)


def cab(*args: str) -> subprocess.CompletedProcess:
    proc = subprocess.run(
        [sys.executable, "-m", "cab", *args], capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, f"cab {' '.join(args)} failed:\n{proc.stderr[-3000:]}"
    return proc


@pytest.fixture(scope="module")
def browser():
    """Module-scoped: Playwright's sync API keeps an event loop running on the main thread
    while it is open, which would break every later test that calls asyncio.run()."""
    if not os.path.exists(CHROMIUM):
        pytest.fail(f"{CHROMIUM} missing: install Debian's chromium (scripts/test.sh does)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


@pytest.fixture
def open_page(browser, site):
    """open_page(path, base=site.base) -> (page, watch); path is relative to the site root."""
    contexts = []

    def _open(path: str, base: str | None = None):
        base = base or site.base
        ctx = browser.new_context(viewport={"width": 1280, "height": 900})
        contexts.append(ctx)
        watch = Watch()

        def route(r):
            if r.request.url.startswith(base):
                r.continue_()
            else:
                watch.outside.append(r.request.url)
                r.abort()

        ctx.route("**/*", route)
        page = ctx.new_page()
        page.on(
            "request",
            lambda r: (
                None
                if r.url.startswith((base, "data:")) or r.url in watch.outside
                else watch.outside.append(r.url)
            ),
        )
        page.on(
            "console", lambda m: watch.console_errors.append(m.text) if m.type == "error" else None
        )
        page.on("pageerror", lambda e: watch.console_errors.append(str(e)))
        page.goto(base + path)
        return page, watch

    yield _open
    for ctx in contexts:
        ctx.close()
