"""The cell page's content, section by section in the reference page's order, as plain data.

The template only lays this out; every number is formatted here, so a test can check
what the page says without a browser. Nothing is marked safe: Jinja escapes it all.
"""

from __future__ import annotations

import json
from typing import Any

from markupsafe import Markup

from report.throttle_chart import throttle_chart
from report.trace_view import fmt_ms, ticks, trace_items
from runner.record import CellRecord
from scorer.card import AXES, Scorecard
from scorer.throttle import proxy_notes

#: Scorer breakdown rows, in the reference page's order: the scorer's axes, then composite.
BREAKDOWN = [name for name, _ in AXES] + ["composite"]
TILES = ["Pass", "Tokens/correct", "Wall", "Blast", "Refusal", "Integrity", "Composite"]


def compact(value: Any) -> str:
    """JSON as on the reference page: no spaces, unicode kept."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=str)


def _show(v: Any) -> Any:
    """Booleans as JSON spells them, like the rest of the page."""
    return json.dumps(v) if isinstance(v, bool) else v


def _f3(v: Any) -> str:
    return "" if v is None else f"{float(v):.3f}"


def per_axis(card: Scorecard | None) -> list[tuple[str, str]]:
    """The "Per-axis scores" tiles: blanks where the page leaves them blank."""
    if card is None:
        return [(label, "") for label in TILES]
    tok, lat, ref = card.tokens, card.latency, card.refusal
    tpc = tok.tokens_per_correct_task
    return [
        ("Pass", _f3(card.pass_rate.pass_)),
        ("Tokens/correct", f"{tpc:,.0f}" if tok.pass_used_for_division and tpc else ""),
        ("Wall", f"{lat.wall_clock_ms / 1000:.1f}s"),
        ("Blast", _f3(card.blast_radius.blast_radius)),
        ("Refusal", "" if ref.not_applicable else _f3(ref.refusal)),
        ("Integrity", _f3(card.integrity.integrity)),
        ("Composite", _f3(card.composite.composite)),
    ]


def breakdown(card: Scorecard | None) -> list[tuple[str, str, str]]:
    """The "Scorer breakdown" rows: axis, its keys, its values as compact JSON."""
    if card is None:
        return []
    rows = []
    for name in BREAKDOWN:
        value = card.axis(name).model_dump(mode="json")
        rows.append((name, ", ".join(value), compact(value)))
    return rows


def isolation_summary(record: CellRecord) -> str | None:
    """One line of the isolation evidence (docs/isolation.md): what the agent's own
    container saw, and the sidecar's connection counts."""
    iso = record.isolation
    if iso is None:
        return None
    parts = []
    if iso.check is not None:
        parts.append("interfaces seen inside: " + (", ".join(iso.check.interfaces) or "none"))
        refused = [p for p, state in iso.check.probes.items() if state == "refused"]
        if refused:
            parts.append("host ports unreachable: " + ", ".join(refused))
    if iso.forwarder is not None:
        f = iso.forwarder
        parts.append(
            f"proxy connections accepted {f.connections_accepted}, refused {f.connections_refused}"
        )
    parts.append(f"user {iso.user}, capabilities dropped: {', '.join(iso.cap_drop) or 'none'}")
    return "; ".join(parts)


def cell_context(record: CellRecord) -> dict[str, Any]:
    """Everything the cell template shows except links, which depend on the page's place."""
    card = record.scores
    ident, timing = record.identity, record.timing
    total_tokens = sum(c.total_tokens or 0 for c in record.calls)
    trace = trace_items(record.spans, record.calls)
    calls = sorted(record.calls, key=lambda c: (c.started_at, c.seq))
    verdict = card.verdict if card else None
    return {
        "r": record,
        "verdict": verdict,
        "verdict_sentence": verdict.sentence if verdict else "not scored",
        # what the proxy did: held calls back, absorbed 429s, injected faults
        "proxy_notes": proxy_notes(card.throttle) if card else [],
        "per_axis": per_axis(card),
        "identity": [
            ("cell_id", ident.cell_id),
            ("sweep_id", ident.sweep_id),
            ("container_image", ident.container_image),
            ("image_digest", ident.image_digest),
            ("model_build_id", ident.model_build_id),
            ("exit_code", ident.exit_code),
            ("tui_version", ident.tui_version),
            ("sandbox", ident.sandbox),
            ("isolated", _show(ident.isolated)),
            ("network_mode", ident.network_mode),
            ("network", ident.network),
            ("isolation", isolation_summary(record)),
            ("endpoint", ident.endpoint),
            ("attempt", ident.attempt),
        ],
        "timing": [
            ("started_at", timing.started_at.isoformat().replace("+00:00", "Z")),
            ("ended_at", timing.ended_at.isoformat().replace("+00:00", "Z")),
            ("duration", f"{timing.duration:.2f} s"),
            ("tokens", f"{total_tokens:,}" if total_tokens else "not recorded"),
        ],
        "breakdown": breakdown(card),
        "trace": trace,
        "trace_json": json_for_script(trace),
        "ticks": ticks(trace["total_ms"]),
        "total_label": fmt_ms(trace["total_ms"]) if trace["total_ms"] >= 1000 else "",
        "throttle": throttle_chart(card.throttle) if card and card.throttle.throttled else None,
        "spans": [
            {
                "span": s,
                "attrs": compact(s.attrs)
                if not s.error
                else f"{compact(s.attrs)} error: {s.error}",
            }
            for s in record.spans
        ],
        "calls": calls,
    }


def json_for_script(value: Any) -> Markup:
    """JSON safe inside <script type="application/json">: no '<', '>' or '&' survive raw,
    so no data can close the script element or open a comment. This is the one Markup in
    the report (as Jinja's own |tojson does): HTML-escaping would corrupt the JSON."""
    text = json.dumps(value, ensure_ascii=False, default=str, separators=(",", ":"))
    return Markup(
        text.replace("<", "\\u003c")
        .replace(">", "\\u003e")
        .replace("&", "\\u0026")
        .replace("\u2028", "\\u2028")
        .replace("\u2029", "\\u2029")
    )
