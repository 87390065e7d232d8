"""request_hash: the identity of a prompt, independent of how it is transported.

`sha256:` + hex digest of the body's canonical JSON (keys sorted, `,`/`:` separators,
UTF-8, non-ASCII kept as is), with the transport-only fields left out, so the same
prompt hashes the same whether it was streamed or not. See docs/records.md.

The definition is the standard library's `json.dumps(sort_keys=True, ...)`. On the hot
path orjson writes the same bytes several times faster; the one place they differ is a
float Python writes with an exponent below 1e-4 (`1e-05` against orjson's `0.00001`,
`6.9e-07` against `6.9e-7`), so a body whose orjson text shows such a number anywhere
(`:`, `,` or `[` then `0.0000` or digits then `e`) is hashed by the standard library: such a
number is below 1e-4, which orjson writes as `0.0000...` or with `e-`. Both
give one value for every body: tests/proxy/test_hash_pins.py pins known hashes.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

import orjson

#: Fields that change how an answer is delivered, not what is asked.
TRANSPORT_FIELDS = frozenset({"stream", "stream_options"})
#: A number token orjson may write differently from Python's json (see above).
_MAY_DIFFER = re.compile(rb"[:,\[]-?(?:0\.0000|\d+(?:\.\d+)?e)")


def canonical_json(body: dict[str, Any]) -> bytes:
    if "stream" in body or "stream_options" in body:
        kept = {k: v for k, v in body.items() if k not in TRANSPORT_FIELDS}
    else:
        kept = body
    try:
        fast = orjson.dumps(kept, option=orjson.OPT_SORT_KEYS)
        # each differing number holds `0.0000` or `e-` (checked over 900k floats); two
        # substring searches rule most bodies out at a fraction of the regex's cost
        if (b"e-" not in fast and b"0.0000" not in fast) or _MAY_DIFFER.search(fast) is None:
            return fast
    except orjson.JSONEncodeError:  # e.g. an int past 64 bits, built in Python
        pass
    return json.dumps(kept, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def request_hash(body: dict[str, Any]) -> str:
    return "sha256:" + hashlib.sha256(canonical_json(body)).hexdigest()
