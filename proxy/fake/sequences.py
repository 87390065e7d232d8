"""Per-session fault sequences: `faults/<sequence>/<model>` plays proxy.faults' sequence.

"3 ok, then 429 with Retry-After 8" is the model `faults/ok*3,429:retry_after=8/scripted/
partial/py-text-utils`: the first three calls are answered by the inner model (here a
script), every later one is throttled. The position in the sequence is counted per
caller (its Authorization header: the proxy forwards each cell's session key) and per
model name, so parallel cells each play their own sequence from the start.
"""

from __future__ import annotations

import asyncio
import functools

from aiohttp import web

from proxy.errors import error_body
from proxy.faults import Fault, FaultSyntaxError, Sequence, parse_sequence

PREFIX = "faults/"
#: Retry-After when a 429 step does not say.
DEFAULT_RETRY_AFTER_S = 1.0
JUNK = b"<html><head><title>502 Bad Gateway</title></head><body>upstream gateway</body></html>"


class Step:
    """What the fake does for one call of a sequence model."""

    def __init__(self, fault: Fault, inner_model: str) -> None:
        self.fault = fault
        self.inner_model = inner_model

    @property
    def answers(self) -> bool:
        """The inner model answers (ok, slow, and the answer cut mid-body)."""
        return self.fault.name in ("ok", "slow", "cut")


@functools.lru_cache(maxsize=256)
def split(model: str) -> tuple[Sequence, str]:
    """`faults/<sequence>[@<tag>]/<inner model>` -> (sequence, inner model)."""
    rest = model[len(PREFIX) :]
    text, sep, inner = rest.partition("/")
    if not sep or not inner:
        raise FaultSyntaxError(f"model {model!r}: use faults/<sequence>/<model>")
    return parse_sequence(text.partition("@")[0]), inner


def tagged(model: str, tag: str) -> str:
    """The sequence model with a session tag: its position is counted for that tag alone."""
    head, _, inner = model[len(PREFIX) :].partition("/")
    return f"{PREFIX}{head.partition('@')[0]}@{tag}/{inner}"


def next_step(counters: dict[str, int], model: str, caller: str | None) -> Step:
    """The step for this call, advancing the caller's position in the sequence."""
    seq, inner = split(model)
    key = f"{caller or ''}\n{model}"
    index = counters.get(key, 0)
    counters[key] = index + 1
    return Step(seq.at(index), inner)


def _error(status: int, message: str, type_: str, code: str | None, headers=None) -> web.Response:
    return web.Response(
        status=status,
        body=error_body(message, type_, code),
        content_type="application/json",
        headers=headers,
    )


def rate_limited(retry_after_s: float) -> web.Response:
    reset = f"{retry_after_s:g}s"
    headers = {
        "Retry-After": f"{retry_after_s:g}",
        "retry-after-ms": str(round(retry_after_s * 1000)),
        "x-ratelimit-remaining-requests": "0",
        "x-ratelimit-reset-requests": reset,
        "x-ratelimit-remaining-tokens": "0",
        "x-ratelimit-reset-tokens": reset,
    }
    return _error(
        429, "Rate limit reached for requests. Please try again later.", "requests",
        "rate_limit_exceeded", headers,
    )  # fmt: skip


def status_reply(fault: Fault, model: str) -> web.Response:
    """The error answer of a status fault (429, 401, 404, 5xx, context, other 4xx)."""
    status = fault.status
    assert status is not None
    if status == 429:
        return rate_limited(fault.param("retry_after", DEFAULT_RETRY_AFTER_S))
    if fault.name == "context":
        return _error(
            400,
            "This model's maximum context length is 8192 tokens. However, your messages "
            "resulted in 9001 tokens.",
            "invalid_request_error",
            "context_length_exceeded",
        )
    if status in (401, 403):
        return _error(status, "Incorrect API key provided.", "invalid_request_error",
                      "invalid_api_key")  # fmt: skip
    if status == 404:
        return _error(404, f"The model `{model}` does not exist", "invalid_request_error",
                      "model_not_found")  # fmt: skip
    if status >= 500:
        return _error(status, "The server had an error while processing your request.",
                      "server_error", None)  # fmt: skip
    return _error(status, f"request rejected ({status})", "invalid_request_error", None)


async def misbehave(request: web.Request, step: Step) -> web.StreamResponse | None:
    """Play a step that is not an answer: None means "answer with the inner model"."""
    fault = step.fault
    if fault.name == "slow":
        await asyncio.sleep(fault.param("s", 2.0))
        return None
    if fault.name in ("ok", "cut"):
        return None
    if fault.status is not None:
        return status_reply(fault, step.inner_model)
    if fault.name == "hang":
        await asyncio.sleep(fault.param("s", 24 * 3600.0))
        return _error(500, "hung for the configured time", "server_error", None)
    if fault.name == "drop":
        return await _drop(request)
    if fault.name == "junk":
        return web.Response(status=200, body=JUNK, content_type="text/html")
    raise FaultSyntaxError(f"fault {fault}: not playable here")  # pragma: no cover


async def _drop(request: web.Request) -> web.StreamResponse:
    """Close the connection before any byte of a response."""
    if request.transport is not None:
        request.transport.close()
    raise asyncio.CancelledError  # nothing to send: the connection is gone


async def cut(request: web.Request, body: bytes, events: list[bytes] | None) -> web.StreamResponse:
    """Send the start of the answer (half the body, or two stream events), then close."""
    if events is not None:
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await resp.prepare(request)
        for event in events[:2]:
            await resp.write(event)
    else:
        resp = web.StreamResponse(headers={"Content-Type": "application/json"})
        resp.content_length = len(body)
        await resp.prepare(request)
        await resp.write(body[: len(body) // 2])
    if request.transport is not None:
        request.transport.close()
    return resp
