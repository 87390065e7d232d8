"""request_hash values are part of stored sweeps and replay: they must never change.

The pinned values were computed by the standard library's canonical JSON (the original
implementation); the hot path may compute them differently, never to other values.
"""

from __future__ import annotations

import hashlib
import json
import random

import orjson
import pytest

from proxy.hashing import request_hash

PINNED = {
    b'{"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Say hi"}], "stream": true}':
        "sha256:03ac898f4322c027d4f7489a6f96b2c84cc7d5160c7606995101f514f3feb680",
    '{"model":"m","messages":[{"role":"user","content":"caf\u00e9 \\u2028 \\u0001\\t\\n \\"q\\" \\\\ 😀 \u65e5\u672c"}],"stream_options":{"include_usage":true}}'.encode():
        "sha256:4846048e85252988005ad5515610bb7a3477a528d2fe8eec477505954edf20c4",
    b'{"model":"m","temperature":0.7,"top_p":1.0,"frequency_penalty":-0.0,"logit_bias":{"50256":-100},"x":[1e-05,4.652175442161868e-05,1e16,1.5e300,6.9e-7,123456789.123,12345678901234567890123],"messages":[]}':
        "sha256:d9de41e7a19f5b5b85e4d3f2bcb5d4536765b6988bd92a61c6a904f913d12938",
    b'{"tools":[{"type":"function","function":{"name":"bash","parameters":{"type":"object","properties":{"z":{"type":"string"},"a":{"type":"integer"}},"required":["z"]}}}],"model":"m","messages":[{"role":"user","content":[{"type":"text","text":"ratio:1e5 sha 3e4f 0.00001"}]}],"n":1,"stop":null,"seed":true}':
        "sha256:0df7d4162f6ee03a545206e56546d2f96b5b74a8e702611abf12e3e08c252602",
    b'{"model":"gpt-5","input":"hello","stream":false,"reasoning":{"effort":"low"}}':
        "sha256:c30701a2e76a01eef021bfabdbb6b1ff2c2591805cdde3910b00f08d8495a905",
}  # fmt: skip


@pytest.mark.parametrize("raw", list(PINNED))
def test_known_request_hashes_never_change(raw: bytes) -> None:
    assert request_hash(orjson.loads(raw)) == PINNED[raw]


def _reference(body: dict) -> str:
    """The definition in docs/records.md, with the standard library."""
    kept = {k: v for k, v in body.items() if k not in ("stream", "stream_options")}
    text = json.dumps(kept, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def test_hash_equals_the_definition_for_every_kind_of_number_and_string() -> None:
    rng = random.Random(7)
    for _ in range(3000):
        num = rng.uniform(1, 10) * 10.0 ** rng.randint(-300, 300) * rng.choice((1, -1))
        text = "".join(chr(rng.choice((rng.randint(0, 0x7F), rng.randint(0x80, 0x2FFF))))
                       for _ in range(rng.randint(0, 12)))  # fmt: skip
        body = {"model": "m", "z": [num, rng.randint(-(2**62), 2**62), text],
                text or "k": {"b": num, "a": None}, "messages": [], "stream": True}  # fmt: skip
        assert request_hash(body) == _reference(body), body


def test_a_tiny_float_deep_in_a_body_is_found_and_text_that_looks_like_one_is_not() -> None:
    """The standard library's writing is chosen by the values, wherever they sit, never
    by text that looks like a number (`file-1`, `2e-5` inside a string)."""
    schema = {"type": "object", "properties": {"x": {"type": "number", "minimum": 2.5e-5}}}
    deep = {"model": "m", "messages": [{"role": "user", "content": "file-1 2e-5 0.00001"}],
            "tools": [{"type": "function", "function": {"name": "f", "parameters": schema}}],
            "temperature": 0.2}  # fmt: skip
    assert request_hash(deep) == _reference(deep)
    assert orjson.dumps(2.5e-5) != json.dumps(2.5e-5).encode()  # the case that matters
    text_only = {"model": "m", "messages": [{"role": "user", "content": "file-1 2e-5 0.00001"}]}
    assert request_hash(text_only) == _reference(text_only)
    for tiny in (1e-5, -3.3e-7, 5e-324, 9.99e-5):
        body = {"model": "m", "messages": [], "x": [[{"y": [tiny]}]]}
        assert request_hash(body) == _reference(body), tiny
        built = {"model": "m", "messages": [], "x": ({"y": (tiny,)},)}  # a body made in Python
        assert request_hash(built) == _reference(built), tiny
