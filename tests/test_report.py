"""The static site without a browser: escaping, links, badges, the store, `cab report`."""

from __future__ import annotations

import re
import subprocess
import sys
from datetime import timedelta
from html.parser import HTMLParser
from pathlib import Path

import pytest

from report import build_site
from report.badge import badge_svg, colour_for, score_badge
from report.cellview import json_for_script
from report.fontwidths import WIDTHS, generate, text_width
from report.load import SweepReadError, load_cells, sweep_composites
from runner.record import CellRecord
from scorer.normalisation import SWEEP_SCORES_FILE, SweepScore, SweepScores

sys.path.insert(0, str(Path(__file__).parent / "browser"))
from sample_sweep import SWEEP, XSS, build_sample_sweep

DEJAVU = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")
CHEAT = "cell/reference/scripted-cheat/polyglot/go-http-handler-fix.html"


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    root = tmp_path_factory.mktemp("r")
    sweep = build_sample_sweep(root)
    index = build_site(sweep, root / "site")
    return sweep, root / "site", index


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.urls += [v for k, v in attrs if k in ("href", "src") and v]


def test_every_link_is_local_and_resolves(built):
    _, out, index = built
    assert index == out / "index.html"
    pages = list(out.rglob("*.html"))
    assert len(pages) == 1 + 5
    for page in pages:
        parser = _Links()
        parser.feed(page.read_text())
        for url in parser.urls:
            if url.startswith(("#", "data:")):
                continue
            assert not re.match(r"^([a-z]+:)?//", url), f"{page}: external {url}"
            assert (page.parent / url).resolve().is_file(), f"{page}: broken {url}"


def test_agent_markup_is_escaped_everywhere(built):
    _, out, _ = built
    html = (out / CHEAT).read_text()
    assert "<script>window.__xss" not in html
    assert "<img src=x" not in html
    assert "&lt;script&gt;window.__xss=1&lt;/script&gt;" in html
    data = re.search(r'<script type="application/json" id="trace-data">(.*?)</script>', html, re.S)
    assert data and "<" not in data.group(1) and "\\u003cscript" in data.group(1)
    scripts = re.findall(r"<script\b[^>]*>", html)
    assert all('src="' in s or 'type="application/json"' in s for s in scripts)


def test_json_for_script_cannot_close_the_element():
    text = json_for_script({"x": "</script><!--&"})
    assert "<" not in text and ">" not in text and "&" not in text
    assert text == '{"x":"\\u003c/script\\u003e\\u003c!--\\u0026"}'


def test_cell_page_has_the_reference_sections_in_order(built):
    _, out, _ = built
    html = (out / "cell/reference/scripted-throttled/polyglot/go-http-handler-fix.html").read_text()
    order = [
        "reference × scripted-throttled",
        "infra:rate_limit",
        "All scores are reported as recorded.",
        "Per-axis scores",
        "Run identity",
        "Timing",
        "Scorer breakdown",
        "Trace replay",
        "Watch it get throttled",
        "Run it yourself",
        "Trace spans (",
        "Model calls (5)",
        "Other CLIs on this task",
        "Other models with this CLI",
        "Other tasks in this category",
        "Embed this result",
    ]
    at = [html.find(s) for s in order]
    assert -1 not in at, [s for s, i in zip(order, at, strict=True) if i < 0]
    assert at == sorted(at)
    for label in ("Pass", "Tokens/correct", "Wall", "Blast", "Refusal", "Integrity", "Composite"):
        assert f"<dt>{label}</dt>" in html
    for key in ("cell_id", "sweep_id", "container_image", "image_digest", "model_build_id"):
        assert f"<dt>{key}</dt>" in html


def test_embed_snippets_are_relative_unless_a_base_url_is_given(built, tmp_path):
    sweep, out, _ = built
    html = (out / CHEAT).read_text()
    assert "[![CodingAgentBench: reference × scripted-cheat " in html
    assert "](badge/reference/scripted-cheat/polyglot/go-http-handler-fix.svg)" in html
    build_site(sweep, tmp_path / "abs", base_url="https://example.org/cab/")
    html = (tmp_path / "abs" / CHEAT).read_text()
    assert "https://example.org/cab/cell/reference/scripted-cheat/polyglot/" in html
    assert "https://example.org/cab/badge/reference/scripted-cheat/polyglot/" in html


def test_badge_widths_come_from_the_dejavu_table():
    assert WIDTHS["0"] == 7.0 and WIDTHS["%"] == 10.45
    if DEJAVU.is_file():  # the table is what the font says
        assert generate(DEJAVU) == WIDTHS
    assert text_width("51%") == pytest.approx(7.0 + 7.0 + 10.45)
    svg = score_badge(0.514)
    lw, vw = round(text_width("CodingAgentBench") + 12), round(text_width("51%") + 12)
    assert f'width="{lw + vw}"' in svg and ">51%</text>" in svg
    assert f'textLength="{round(text_width("51%") * 10)}"' in svg
    assert colour_for(0.95) == "#4c1" and colour_for(0.1) == "#e05d44" and colour_for(None)
    assert "&lt;b&gt;" in badge_svg("<b>", "#fff")


def test_pair_badges_and_leaderboard_keep_infra_apart(built):
    _, out, _ = built
    assert (out / "badge/reference/scripted.svg").is_file()
    throttled_badge = (out / "badge/reference/scripted-throttled.svg").read_text()
    assert ">n/a</text>" in throttled_badge  # no capability cell to score
    index = (out / "index.html").read_text()
    infra = index[index.find('id="infra"') :]
    assert "scripted-throttled" in infra and "infra:rate_limit" in infra


def test_sweep_composites_are_read_from_the_sweeps_scores_file(built, tmp_path):
    """The sweep writes its sweep composites as data (sweep_scores.json); the report reads
    that file, and leaves out an entry scored from an earlier run of the cell."""
    sweep, _, _ = built
    rel = "reference/scripted/polyglot/go-http-handler-fix"
    record = CellRecord.read(sweep / rel)
    scores = SweepScores(
        sweep_id=SWEEP,
        cells=[
            SweepScore(
                cell_id=f"{SWEEP}/{rel}",
                cell_dir=rel,
                started_at=record.timing.started_at,
                sweep_composite=0.123,
                sweep_cost_efficiency=1,
                sweep_latency_efficiency=1,
            )
        ],
    )
    path = sweep / SWEEP_SCORES_FILE
    path.write_text(scores.model_dump_json())
    try:
        assert sweep_composites(sweep, load_cells(sweep)) == {rel: 0.123}
        build_site(sweep, tmp_path / "norm")
        svg = (tmp_path / "norm" / f"badge/{rel}.svg").read_text()
        assert ">12%</text>" in svg
        assert "sweep-normalised" in (tmp_path / "norm/index.html").read_text()
        stale = scores.model_copy(deep=True)
        stale.cells[0].started_at = record.timing.started_at - timedelta(hours=1)
        path.write_text(stale.model_dump_json())
        assert sweep_composites(sweep, load_cells(sweep)) == {}
    finally:
        path.unlink()


def test_attempts_and_hidden_folders_are_not_cells(built, tmp_path):
    sweep, _, _ = built
    one = next(sweep.rglob("cell.json")).parent
    record = CellRecord.read(one)
    record.write(one / "attempts" / "1")
    record.write(sweep / ".attempts-in-flight" / "1")
    try:
        assert len(load_cells(sweep)) == 5
    finally:
        (one / "attempts/1/cell.json").unlink()
        (sweep / ".attempts-in-flight/1/cell.json").unlink()


def test_a_broken_cell_json_is_named(tmp_path):
    bad = tmp_path / "s" / "t" / "m" / "c" / "task"
    bad.mkdir(parents=True)
    (bad / "cell.json").write_text('{"cell_id": 3}')
    with pytest.raises(
        SweepReadError, match=r"t/m/c/task/cell\.json: not a valid cell record"
    ) as err:
        load_cells(tmp_path / "s")
    assert "cell_id: Input should be a valid string" in str(err.value)
    (tmp_path / "empty").mkdir()
    with pytest.raises(SweepReadError, match=r"no cell\.json found"):
        load_cells(tmp_path / "empty")
    with pytest.raises(SweepReadError, match="not a directory"):
        load_cells(tmp_path / "missing")


def test_cab_report_prints_the_index_path(built, tmp_path):
    sweep, _, _ = built
    proc = subprocess.run(
        [sys.executable, "-m", "cab", "report", str(sweep), "--out", str(tmp_path / "o")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == str((tmp_path / "o" / "index.html").resolve())
    bad = subprocess.run(
        [sys.executable, "-m", "cab", "report", str(tmp_path / "nope")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert bad.returncode == 2 and "not a directory" in bad.stderr
    assert XSS not in proc.stdout
