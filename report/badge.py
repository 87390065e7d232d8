"""Two-part SVG badges ("CodingAgentBench | 51%") in the shields.io flat style.

Text widths come from a per-character table (report.fontwidths) rather than a browser,
and `textLength` pins the text to that width, so a badge looks the same whichever of
Verdana or DejaVu the viewer has. Text is escaped: a label may carry a model name.
"""

from __future__ import annotations

from html import escape

from report.fontwidths import text_width

LABEL = "CodingAgentBench"
PAD = 6  # px each side of a text, as shields.io

#: (lowest score, colour): the first row a score reaches gives its colour.
COLOURS = [
    (0.9, "#4c1"),
    (0.75, "#97ca00"),
    (0.6, "#a4a61d"),
    (0.45, "#dfb317"),
    (0.3, "#fe7d37"),
    (0.0, "#e05d44"),
]
GREY = "#9f9f9f"


def colour_for(score: float | None) -> str:
    """Badge colour for a 0..1 score; grey when there is no score."""
    if score is None:
        return GREY
    return next(c for low, c in COLOURS if score >= low)


def percent(score: float | None) -> str:
    return "n/a" if score is None else f"{round(score * 100)}%"


def badge_svg(value: str, colour: str, label: str = LABEL, title: str | None = None) -> str:
    """A flat two-part badge; widths from the DejaVu 11px table."""
    lw = round(text_width(label) + 2 * PAD)
    vw = round(text_width(value) + 2 * PAD)
    total = lw + vw
    alt = escape(title or f"{label}: {value}")
    lab, val = escape(label), escape(value)
    # shields.io draws text at 10x scale for sub-pixel placement; we do the same.
    lx, vx = lw * 5, (lw + vw / 2) * 10
    ltl, vtl = round(text_width(label) * 10), round(text_width(value) * 10)
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{total}" height="20" '
        f'role="img" aria-label="{alt}"><title>{alt}</title>'
        '<linearGradient id="s" x2="0" y2="100%"><stop offset="0" stop-color="#bbb" '
        'stop-opacity=".1"/><stop offset="1" stop-opacity=".1"/></linearGradient>'
        f'<clipPath id="r"><rect width="{total}" height="20" rx="3" fill="#fff"/></clipPath>'
        f'<g clip-path="url(#r)"><rect width="{lw}" height="20" fill="#555"/>'
        f'<rect x="{lw}" width="{vw}" height="20" fill="{colour}"/>'
        f'<rect width="{total}" height="20" fill="url(#s)"/></g>'
        '<g fill="#fff" text-anchor="middle" font-family="Verdana,Geneva,DejaVu Sans,sans-serif" '
        'text-rendering="geometricPrecision" font-size="110">'
        f'<text aria-hidden="true" x="{lx}" y="150" fill="#010101" fill-opacity=".3" '
        f'transform="scale(.1)" textLength="{ltl}">{lab}</text>'
        f'<text x="{lx}" y="140" transform="scale(.1)" fill="#fff" textLength="{ltl}">{lab}</text>'
        f'<text aria-hidden="true" x="{vx:g}" y="150" fill="#010101" fill-opacity=".3" '
        f'transform="scale(.1)" textLength="{vtl}">{val}</text>'
        f'<text x="{vx:g}" y="140" transform="scale(.1)" fill="#fff" textLength="{vtl}">{val}</text>'
        "</g></svg>"
    )


def score_badge(score: float | None, title: str | None = None) -> str:
    return badge_svg(percent(score), colour_for(score), title=title)
