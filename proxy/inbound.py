"""The client's request as the proxy forwards it: API family, checked body, overrides.

Only what the proxy needs is checked (the body is a JSON object with the fields its
API requires); the rest is the provider's business. Bad input raises `BadRequest`
and never reaches the upstream.
"""

from __future__ import annotations

import json
import zlib
from dataclasses import dataclass
from typing import Any

from orjson import loads as _loads  # the body is parsed once and, if changed, written once

from proxy.encoding import decoder_for, inflate_at_most
from proxy.errors import BadRequest, BodyTooLarge, UnsupportedEncoding
from proxy.hashing import HUGE, json_bytes, odd_floats, request_hash
from proxy.records import Api

#: path after /v1/ -> API family (records.Api)
_APIS: dict[str, Api] = {
    "chat/completions": "chat",
    "responses": "responses",
    "completions": "completions",
    "embeddings": "embeddings",
    "models": "models",
}
#: fields each API needs; checked before anything is sent upstream.
_REQUIRED: dict[str, tuple[tuple[str, type | tuple[type, ...]], ...]] = {
    "chat": (("model", str), ("messages", list)),
    "responses": (("model", str), ("input", (str, list))),
    "completions": (("model", str),),
    "embeddings": (("model", str), ("input", (str, list))),
}
_STREAMABLE = ("chat", "completions")


def decode_body(raw: bytes, encoding: str, max_bytes: int) -> bytes:
    """A request body the client compressed (`Content-Encoding`), inflated at most to
    `max_bytes` (one that decodes to more, a gzip bomb, is refused, never inflated whole).
    The proxy forwards what it decoded, without the header."""
    name = encoding.strip().lower()
    if name in ("", "identity"):
        return raw
    decoder = decoder_for(name, raw)
    if decoder is None:
        raise UnsupportedEncoding(
            f"request Content-Encoding {encoding[:40]!r} is not supported (gzip, deflate or none)"
        )
    try:
        data = inflate_at_most(decoder, raw, max_bytes)
    except zlib.error as exc:
        raise BadRequest(f"request body is not valid {name}: {exc}") from None
    if data is None:
        raise BodyTooLarge(
            f"request body decodes to more than this proxy's limit of {max_bytes} bytes"
            " (cab proxy --max-body-bytes)"
        )
    if not decoder.eof:
        raise BadRequest(f"request body is not valid {name}: it ends before its end")
    return data


def api_for(tail: str) -> Api:
    api = _APIS.get(tail.strip("/"))
    if api:
        return api
    return "models" if tail.startswith("models/") else "other"


@dataclass(slots=True)
class Inbound:
    api: Api
    data: bytes
    model: str | None = None
    requested_model: str | None = None
    stream: bool = False
    #: the proxy added stream_options.include_usage; drop the usage-only chunk.
    strip_usage: bool = False
    request_hash: str | None = None
    prompt_chars: int = 0
    #: the body as parsed once here (None when it is not a JSON object): what `data`
    #: holds, for the transcript and replay, which must not parse it again
    body: dict[str, Any] | None = None


def prepare(api: Api, raw: bytes, model_override: str | None, ask_usage: bool = True) -> Inbound:
    """Parse and check the body; apply the session's model override and, with
    `ask_usage`, ask a stream that did not for its usage."""
    inbound = Inbound(api=api, data=raw, prompt_chars=len(raw))
    if not raw:
        if api in _REQUIRED:
            raise BadRequest("request body is empty; send a JSON object")
        return inbound
    try:
        body = _loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        if api in _REQUIRED:
            raise BadRequest(f"request body is not valid JSON: {exc}") from None
        return inbound  # an unknown endpoint: pass through untouched
    if not isinstance(body, dict):
        if api in _REQUIRED:
            raise BadRequest(f"request body must be a JSON object, got {type(body).__name__}")
        return inbound
    _check(api, body)
    try:
        return _prepared(inbound, body, raw, model_override, ask_usage)
    except RecursionError:  # orjson reads 1024 levels; the standard library's writer, fewer
        raise BadRequest("request body is nested too deeply to be read") from None


def _prepared(
    inbound: Inbound, body: dict[str, Any], raw: bytes, model_override: str | None, ask_usage: bool
) -> Inbound:
    api = inbound.api
    odd: int | None = odd_floats(body)
    if odd and odd & HUGE:  # maybe an int past 64 bits, which orjson reads as a float:
        body = json.loads(raw)  # read exactly, and the hash looks at it again
        odd = None
    changed = False
    model = body.get("model")
    inbound.requested_model = inbound.model = model if model.__class__ is str else None
    if model_override and "model" in body and model != model_override:
        body["model"] = inbound.model = model_override
        changed = True
    inbound.stream = body.get("stream") is True
    if ask_usage and inbound.stream and api in _STREAMABLE:
        opts = body.get("stream_options")
        if not (isinstance(opts, dict) and opts.get("include_usage")):
            body["stream_options"] = {
                **(opts if isinstance(opts, dict) else {}),
                "include_usage": True,
            }
            inbound.strip_usage = changed = True
    inbound.request_hash = request_hash(body, odd)
    inbound.body = body
    if changed:
        inbound.data = json_bytes(body)
    return inbound


#: where a request names the most tokens the model may write: chat's newer and older
#: field, the Responses API's (the legacy completions API uses max_tokens too)
_MAX_OUT = ("max_completion_tokens", "max_tokens", "max_output_tokens")


def max_completion(inbound: Inbound | None) -> int | None:
    """The most completion tokens the request allows, when it names a positive integer."""
    body = inbound.body if inbound is not None else None
    if body is None:
        return None
    for name in _MAX_OUT:
        value = body.get(name)
        if value.__class__ is int and value > 0:  # not a bool, a float or a string
            return value
    return None


def _check(api: str, body: dict[str, Any]) -> None:
    for name, kind in _REQUIRED.get(api, ()):
        if name not in body:
            raise BadRequest(f"missing required field '{name}'", param=name)
        if not isinstance(body[name], kind):
            raise BadRequest(f"field '{name}' has the wrong type", param=name)
    if body.get("stream") not in (None, True, False):
        raise BadRequest("field 'stream' must be a boolean", param="stream")
