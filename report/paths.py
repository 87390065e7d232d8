"""Where each page and badge lives in the site, and relative links between them.

Every link is relative so the site works from file:// and from any static host, under
any prefix. Path segments come from agent/model/task names, so they are reduced to a
safe alphabet: a name can never climb out of the site or smuggle markup into a URL.
"""

from __future__ import annotations

import posixpath
import re

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def safe_segment(name: str) -> str:
    seg = _UNSAFE.sub("_", name).strip()
    return "_" if seg in ("", ".", "..") else seg


def safe_path(rel: str) -> str:
    return "/".join(safe_segment(s) for s in rel.split("/") if s)


def cell_page(rel: str) -> str:
    return f"cell/{safe_path(rel)}.html"


def cell_badge(rel: str) -> str:
    return f"badge/{safe_path(rel)}.svg"


def pair_badge(tui: str, model: str) -> str:
    return f"badge/{safe_segment(tui)}/{safe_path(model)}.svg"


def link(from_page: str, to: str) -> str:
    """Relative URL from one site path to another (both relative to the site root)."""
    return posixpath.relpath(to, posixpath.dirname(from_page) or ".")


def embed_url(base_url: str | None, to: str) -> str:
    """An embeddable URL: absolute under base_url when given, else relative to the root."""
    if base_url:
        return f"{base_url.rstrip('/')}/{to}"
    return to
