"""The site in a real browser: replay keys, throttling, no script injection, no network."""

from __future__ import annotations

from pathlib import Path

import pytest
from sample_sweep import XSS

pytestmark = pytest.mark.browser

ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"
PASS = "cell/reference/scripted/polyglot/go-http-handler-fix.html"
THROTTLED = "cell/reference/scripted-throttled/polyglot/go-http-handler-fix.html"
CHEAT = "cell/reference/scripted-cheat/polyglot/go-http-handler-fix.html"


def _t(page) -> float:
    return float(page.get_attribute("#replay-cursor-text", "data-t"))


def _items(page) -> list[dict]:
    return page.evaluate("JSON.parse(document.getElementById('trace-data').textContent).items")


def _clean(watch) -> None:
    assert watch.console_errors == []
    assert watch.outside == []


def test_space_plays_and_the_cursor_advances(open_page):
    page, watch = open_page(PASS)
    assert page.inner_text("#replay-cursor-text").startswith("t = 0 ms / ")
    page.keyboard.press(" ")
    page.wait_for_function(
        "parseFloat(document.getElementById('replay-cursor-text').dataset.t) > 0", timeout=5000
    )
    page.keyboard.press(" ")  # pause: the cursor stays where it is
    held = _t(page)
    page.wait_for_timeout(300)
    assert _t(page) == held
    assert page.inner_text("#replay-cursor-text") != "t = 0 ms"
    _clean(watch)


def test_arrow_steps_to_the_next_span_and_shows_its_attributes(open_page):
    page, watch = open_page(PASS)
    items = _items(page)
    assert page.get_attribute("#replay-current", "data-span-id") == items[0]["id"]
    page.keyboard.press("ArrowRight")
    assert page.get_attribute("#replay-current", "data-span-id") == items[1]["id"]
    assert _t(page) == pytest.approx(items[1]["start"])
    assert items[1]["name"] in page.inner_text("#replay-current")
    for key in items[1]["attrs"]:
        assert key in page.inner_text("#replay-current .attrs")
    page.keyboard.press("ArrowLeft")
    assert page.get_attribute("#replay-current", "data-span-id") == items[0]["id"]
    _clean(watch)


def test_period_and_comma_step_100_ms(open_page):
    page, watch = open_page(PASS)
    page.keyboard.press("ArrowRight")
    start = _t(page)
    page.keyboard.press(".")
    assert _t(page) == pytest.approx(start + 100)
    page.keyboard.press(".")
    page.keyboard.press(",")
    assert _t(page) == pytest.approx(start + 100)
    assert page.inner_text("#replay-cursor-text").startswith(f"t = {round(start + 100)} ms / ")
    _clean(watch)


def test_throttled_cell_shows_the_throttling_section(open_page):
    page, watch = open_page(THROTTLED)
    section = page.locator("#throttle")
    assert section.is_visible()
    assert "Watch it get throttled" in section.inner_text()
    assert section.locator("svg rect[fill='#d9822b']").count() == 5  # five 429s
    assert page.locator("#verdict").get_attribute("data-verdict").startswith("infra:")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "sample-cell-page-throttled.png"), full_page=True)
    passing, watch2 = open_page(PASS)
    assert passing.locator("#throttle").count() == 0
    passing.screenshot(path=str(ARTIFACTS / "sample-cell-page-pass.png"), full_page=True)
    _clean(watch)
    _clean(watch2)


def test_agent_controlled_markup_renders_as_text_and_runs_nothing(open_page):
    page, watch = open_page(CHEAT)
    page.keyboard.press("ArrowRight")  # the replay panel renders attrs with the markup too
    page.keyboard.press("ArrowRight")
    page.evaluate("document.querySelectorAll('details').forEach(d => { d.open = true; })")
    assert page.evaluate("typeof window.__xss") == "undefined"
    assert page.locator("img[src='x']").count() == 0
    assert XSS in page.inner_text("body")
    conversation = page.locator("#conversation").inner_text()
    assert f"task {XSS}" in conversation and f"reply {XSS}" in conversation
    assert f"bash{XSS}" in conversation  # the tool call's name, as text
    _clean(watch)


def test_the_conversation_is_linked_with_the_calls_table_and_the_trace(open_page):
    page, watch = open_page(PASS)
    calls = page.locator("#conversation details.conv-call")
    assert calls.count() == 2
    assert page.locator("#conv-2").get_attribute("open") is None  # collapsed by default
    page.click("#call-2 a[href='#conv-2']")
    page.wait_for_function("document.getElementById('conv-2').open")
    second = page.locator("#conv-2")
    new = second.locator(":scope > .msg.new")
    assert new.count() == 2  # the previous reply and its tool result
    assert "Let me look." in new.first.inner_text()
    assert second.locator(".conv-old summary").inner_text() == "2 earlier messages"
    second.locator("button.to-trace").click()
    panel = page.locator("#replay-current")
    assert "chat:scripted" in panel.inner_text()
    assert panel.locator("a.to-conversation").get_attribute("href") == "#conv-2"
    _clean(watch)


def test_index_sorts_by_axis_and_links_to_every_cell(open_page, site):
    page, watch = open_page("index.html")
    rows = page.locator("#leaderboard-table tbody tr")
    assert rows.count() == 4
    infra = page.locator("#infra")
    assert "scripted-throttled" in infra.inner_text()
    board = page.locator("#leaderboard-table").inner_text()
    assert "+1 infra" in board
    page.click("#leaderboard-table th:has-text('Pass')")
    first = [float(v or "nan") for v in _col(page, 2)]
    page.click("#leaderboard-table th:has-text('Pass')")
    second = [float(v or "nan") for v in _col(page, 2)]
    assert first == sorted(first, reverse=True)
    assert second == sorted(second)
    for href in page.eval_on_selector_all("a[href$='.html']", "els => els.map(e => e.href)"):
        assert href.startswith(site.base)
        assert (site.out / href[len(site.base) :]).is_file(), href
    _clean(watch)


def _col(page, n: int) -> list[str]:
    return page.eval_on_selector_all(
        f"#leaderboard-table tbody tr td:nth-child({n})", "els => els.map(e => e.dataset.value)"
    )


def test_site_works_from_file_urls(open_page, site):
    base = site.out.resolve().as_uri() + "/"
    page, watch = open_page("index.html", base=base)
    page.click(f"#infra a[href$='{THROTTLED.split('/', 2)[2]}']")
    page.wait_for_url("**/scripted-throttled/polyglot/go-http-handler-fix.html")
    page.keyboard.press("ArrowRight")
    assert _t(page) > 0
    assert page.locator("#throttle").is_visible()
    _clean(watch)
