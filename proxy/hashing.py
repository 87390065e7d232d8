"""request_hash: the identity of a prompt, independent of how it is transported.

`sha256:` + hex digest of the body's canonical JSON (keys sorted, `,`/`:` separators,
UTF-8, non-ASCII kept as is), with the transport-only fields left out, so the same
prompt hashes the same whether it was streamed or not. See docs/records.md.

The definition is the standard library's `json.dumps(sort_keys=True, ...)`. On the hot
path orjson writes the same bytes several times faster; the one place they differ is a
float below 1e-4 (not 0), which Python writes with an exponent (`1e-05` against orjson's
`0.00001`, `6.9e-07` against `6.9e-7`). So a body holding such a float anywhere is hashed
by the standard library. Finding one walks the body's dicts, lists and tuples (strings
are skipped whole), which costs per value, not per byte: a regex over the text had to
look at every byte, and ordinary text (`file-1`, `3e4f`) sent it down its slow path.
Both give one value for every body: tests/proxy/test_hash_pins.py pins known hashes.
An int past 64 bits is one orjson can neither read (it reads a float) nor write: the
proxy reads such a body with the standard library (`proxy.inbound`), and hashes it so.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import orjson

#: Fields that change how an answer is delivered, not what is asked.
TRANSPORT_FIELDS = frozenset({"stream", "stream_options"})
#: floats below this (and not 0) are written with an exponent by Python, not by orjson.
_EXPONENT_BELOW = 1e-4


#: what `odd_floats` finds: a float Python and orjson write differently, and a float
#: outside the ints orjson reads as ints, [-2**63, 2**64) (it may be an int orjson read
#: as a float: it reads those so)
TINY, HUGE = 1, 2
_INT_LOW, _INT_HIGH = float(-(2**63)), float(2**64)


def odd_floats(body: dict[str, Any]) -> int:
    """TINY | HUGE: which of those floats are anywhere in `body` (0: none)."""
    found = 0
    stack: list[Any] = [body]
    while stack:
        node = stack.pop()
        for value in node.values() if type(node) is dict else node:
            kind = type(value)
            if kind is str:
                continue
            if kind is float:
                if value and -_EXPONENT_BELOW < value < _EXPONENT_BELOW:
                    found |= TINY
                elif not _INT_LOW <= value < _INT_HIGH:
                    found |= HUGE
            elif kind is dict or kind is list or kind is tuple:  # tuples: bodies built in Python
                stack.append(value)
    return found


def canonical_json(body: dict[str, Any], odd: int | None = None) -> bytes:
    """`odd`: what `odd_floats` found in `body` (the caller may know already), else None."""
    if "stream" in body or "stream_options" in body:
        kept = {k: v for k, v in body.items() if k not in TRANSPORT_FIELDS}
    else:
        kept = body
    if (odd_floats(kept) if odd is None else odd) & TINY:
        return _stdlib_json(kept, sort_keys=True)
    return json_bytes(kept, sort_keys=True)


def json_bytes(value: Any, sort_keys: bool = False) -> bytes:
    """Compact UTF-8 JSON: orjson's, or the standard library's where orjson cannot write
    the value (an int past 64 bits, nesting past 255 levels)."""
    try:
        return orjson.dumps(value, option=orjson.OPT_SORT_KEYS if sort_keys else None)
    except orjson.JSONEncodeError:
        return _stdlib_json(value, sort_keys)


def _stdlib_json(value: Any, sort_keys: bool) -> bytes:
    return json.dumps(
        value, sort_keys=sort_keys, separators=(",", ":"), ensure_ascii=False
    ).encode()


def request_hash(body: dict[str, Any], odd: int | None = None) -> str:
    return "sha256:" + hashlib.sha256(canonical_json(body, odd)).hexdigest()
