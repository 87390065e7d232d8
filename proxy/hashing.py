"""request_hash: the identity of a prompt, independent of how it is transported.

`sha256:` + hex digest of the body's canonical JSON (keys sorted, `,`/`:` separators,
UTF-8, non-ASCII kept as is), with the transport-only fields left out, so the same
prompt hashes the same whether it was streamed or not. See docs/records.md.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

#: Fields that change how an answer is delivered, not what is asked.
TRANSPORT_FIELDS = frozenset({"stream", "stream_options"})


def canonical_json(body: dict[str, Any]) -> bytes:
    kept = {k: v for k, v in body.items() if k not in TRANSPORT_FIELDS}
    return json.dumps(kept, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def request_hash(body: dict[str, Any]) -> str:
    return "sha256:" + hashlib.sha256(canonical_json(body)).hexdigest()
