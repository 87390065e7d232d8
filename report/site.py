"""`build_site`: the whole static site of one sweep, written to a directory.

Pages are rendered with Jinja2 (autoescape on, no `|safe` on data), badges are SVG text,
and our small CSS/JS is copied beside them. No page loads anything from outside the
site, so it works from file:// as well as from any static host.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from proxy.transcripts import last_words, read_transcript
from report import paths
from report.badge import score_badge
from report.cellview import cell_context
from report.conversation import conversation_view
from report.leaderboard import board, cell_score, matrix
from report.load import LoadedCell, load_cells, sweep_composites

HERE = Path(__file__).parent


def _env() -> Environment:
    env = Environment(
        loader=FileSystemLoader(HERE / "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["f3"] = lambda v: "" if v is None else f"{v:.3f}"
    return env


def _hrefs(page: str) -> Callable[[str], str]:
    return lambda to: paths.link(page, to)


def _title(c: LoadedCell) -> str:
    return f"{c.record.tui} × {c.record.model}"


def _links(c: LoadedCell, cells: list[LoadedCell]) -> dict[str, list[LoadedCell]]:
    r = c.record
    others = [o for o in cells if o.rel != c.rel]
    return {
        "Other CLIs on this task": [
            o for o in others if o.record.task_id == r.task_id and o.record.tui != r.tui
        ],
        "Other models with this CLI": [
            o
            for o in others
            if o.record.tui == r.tui and o.record.task_id == r.task_id and o.record.model != r.model
        ],
        "Other tasks in this category": [
            o
            for o in others
            if o.record.tui == r.tui
            and o.record.model == r.model
            and o.record.category == r.category
            and o.record.task_id != r.task_id
        ],
    }


def _embed(c: LoadedCell, score: float | None, base_url: str | None) -> dict[str, str]:
    pct = "n/a" if score is None else f"{round(score * 100)}%"
    alt = f"CodingAgentBench: {_title(c)} {pct}"
    badge = paths.embed_url(base_url, paths.cell_badge(c.rel))
    page = paths.embed_url(base_url, paths.cell_page(c.rel))
    return {
        "alt": alt,
        "markdown": f"[![{alt}]({badge})]({page})",
        "html": f'<a href="{page}"><img src="{badge}" alt="{alt}" /></a>',
    }


def _write(out: Path, rel: str, text: str) -> None:
    path = out / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def build_site(sweep_dir: Path, out: Path, base_url: str | None = None) -> Path:
    """Write the site of the sweep in `sweep_dir` to `out`; return the index path."""
    sweep_dir, out = Path(sweep_dir), Path(out)
    cells = load_cells(sweep_dir)
    normalised = sweep_composites(sweep_dir, cells)
    env = _env()
    out.mkdir(parents=True, exist_ok=True)
    shutil.copytree(HERE / "static", out / "static", dirs_exist_ok=True)
    sweep_id = cells[0].record.sweep_id
    cell_tpl = env.get_template("cell.html")
    for c in cells:
        page = paths.cell_page(c.rel)
        score = cell_score(c, normalised)
        ctx: dict[str, Any] = cell_context(c.record)
        ctx["conversation"] = conversation_view(sweep_dir / c.rel)
        card = c.record.scores
        failed = card is None or card.pass_rate.pass_ != 1
        ctx["last_words"] = last_words(read_transcript(sweep_dir / c.rel)) if failed else None
        ctx.update(
            page_title=f"{_title(c)} · {c.record.task_id}",
            href=_hrefs(page),
            paths=paths,
            links=_links(c, cells),
            embed=_embed(c, score, base_url),
            badge=paths.cell_badge(c.rel),
            sweep_id=sweep_id,
        )
        _write(out, page, cell_tpl.render(ctx))
        _write(out, paths.cell_badge(c.rel), score_badge(score, _embed(c, score, None)["alt"]))
    rows = board(cells, normalised)
    for b in rows:
        r = b.row
        title = f"CodingAgentBench: {r.tui} × {r.model} {b.percent}"
        _write(out, paths.pair_badge(r.tui, r.model), score_badge(r.mean_composite, title))
    index = "index.html"
    html = env.get_template("index.html").render(
        page_title=f"Sweep {sweep_id}",
        href=_hrefs(index),
        paths=paths,
        sweep_id=sweep_id,
        board=rows,
        matrix=matrix(cells, normalised),
        infra_cells=[c for c in cells if c.record.infra],
        normalised=bool(normalised),
        n_cells=len(cells),
    )
    _write(out, index, html)
    return out / index
