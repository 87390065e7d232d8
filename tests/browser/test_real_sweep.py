"""A real sweep's site in a real browser: cells run by `cab run-cell` in Docker.

The passing and the throttled cell pages are driven with the keys and photographed into
artifacts/ (CI keeps them); nothing on them logs an error or reaches past the site.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.docker]

ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"
PASS = "cell/reference/scripted/polyglot/go-http-handler-fix.html"
THROTTLED = "cell/reference/scripted-throttled/polyglot/go-http-handler-fix.html"


def _t(page) -> float:
    return float(page.get_attribute("#replay-cursor-text", "data-t"))


def test_real_passing_cell_replays_with_the_keys(open_page, real_site):
    record = json.loads(
        (real_site.sweep / "reference/scripted/polyglot/go-http-handler-fix/cell.json").read_text()
    )
    assert record["scores"]["verdict"]["verdict"] == "capability"
    page, watch = open_page(PASS, base=real_site.base)
    assert "reference × scripted" in page.inner_text("h1")
    assert page.locator("#throttle").count() == 0
    items = page.evaluate("JSON.parse(document.getElementById('trace-data').textContent).items")
    assert len(items) >= len(record["spans"])
    calls = page.locator("#calls tbody tr")
    assert calls.count() == len(record["facts"]["calls"]) > 0
    page.keyboard.press("ArrowRight")
    assert page.get_attribute("#replay-current", "data-span-id") == items[1]["id"]
    here = _t(page)
    page.keyboard.press(".")
    assert _t(page) == pytest.approx(min(here + 100, items[-1]["end"]), abs=1)
    page.keyboard.press(" ")
    page.wait_for_function(
        f"parseFloat(document.getElementById('replay-cursor-text').dataset.t) > {_t(page)}",
        timeout=5000,
    )
    page.keyboard.press(" ")
    page.keyboard.press("Home")  # no binding: harmless
    ARTIFACTS.mkdir(exist_ok=True)
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=str(ARTIFACTS / "cell-page-pass.png"), full_page=True)
    assert watch.console_errors == []
    assert watch.outside == []


def test_real_throttled_cell_shows_its_throttling(open_page, real_site):
    page, watch = open_page(THROTTLED, base=real_site.base)
    assert page.locator("#verdict").get_attribute("data-verdict") == "infra:rate_limit"
    section = page.locator("#throttle")
    assert "Watch it get throttled" in section.inner_text()
    rows = section.locator("tbody tr")
    assert rows.count() >= 2
    assert "429" in rows.first.inner_text()
    assert section.locator("text=waited").count() > 0
    page.screenshot(path=str(ARTIFACTS / "cell-page-throttled.png"), full_page=True)
    index, watch2 = open_page("index.html", base=real_site.base)
    assert "scripted-throttled" in index.locator("#infra").inner_text()
    for w in (watch, watch2):
        assert w.console_errors == []
        assert w.outside == []
