"""Per-session fault sequences: the model `faults/<sequence>/<model>` plays a sequence.

"3 ok, then 429 with Retry-After 8" is `faults/ok*3,429:retry_after=8/scripted/partial/
py-text-utils`: the first three calls are answered by the inner model (here a script),
every later one is throttled. A sequence is faults separated by commas, each optionally
repeated with `*N`; its last step repeats for ever (`ok*2,hang` is "hang after 2",
`ok*2,503*3,ok` recovers after three failures).

Each step is a fault of proxy.inject's vocabulary (`ok`, `429:retry_after=S`, any 4xx/5xx,
`overloaded`, `hang[:s=S]`, `cut`), the one `--inject` uses, plus what only a scenario
provider needs:

    context    400 context_length_exceeded
    flagged    403 "your input was flagged" (OpenRouter's moderation): the request's
               content refused, not the key
    no-quota   429 insufficient_quota (OpenAI's account with no credit left): no wait
               mends it
    404        the model does not exist (`model_not_found`); 401/403 say `invalid_api_key`;
               402 says the account is out of credit (as OpenRouter does)
    drop       close the connection before any response
    junk       a 200 whose body is an HTML page, not the API's JSON
    empty      a 200 with no answer in it (proxy.fake.hostile.empty_answer): streamed,
               `data: [DONE]` alone, as an overloaded gateway may end a stream at once;
               whole, an empty `choices`
    quota-in-200
               the quota bites inside a 200 (as gateways and providers mid-stream
               report it): whole, the body is a rate-limit error object; streamed, the
               inner model's first events, then that error as an event, then the end
    overloaded-in-200
               the same with an `overloaded_error`
    credit-in-200
               the same with a 402 "Insufficient credits" error (OpenRouter's)
    slow[:s=S] the real answer, after S seconds (default 2)

A non-stream `cut` sends the first half of the JSON body, then closes. The position in
a sequence is counted per caller (Authorization header) and model name; the runner's
harness tags each cell's model (`faults/<sequence>@<session>/<model>`) so parallel cells
each play their own sequence from the start.
"""

from __future__ import annotations

import asyncio
import functools
import re
from dataclasses import dataclass

from aiohttp import web

from proxy.errors import error_body
from proxy.fake import hostile
from proxy.inject import Fault, FaultSpecError, parse_fault

PREFIX = "faults/"
#: Step names a scenario provider adds to proxy.inject's vocabulary.
EXTRA = frozenset(
    {"context", "flagged", "no-quota", "drop", "junk", "empty", "slow", "quota-in-200",
     "overloaded-in-200", "credit-in-200"}
)  # fmt: skip
#: those steps: which of the hostile provider's errors inside a 200 each one sends
IN_200_ERRORS = {
    "quota-in-200": "fault/200-rate-limit",
    "overloaded-in-200": "fault/200-overloaded",
    "credit-in-200": "fault/200-credit",
}
MAX_REPEAT = 10_000
_REPEAT = re.compile(r"^(?P<step>.+?)\*(?P<n>\d+)$")
#: What the request carries to mark a `cut` answer (the app cuts the body it builds).
CUT = web.RequestKey("cab_fake_cut", bool)
#: What the request carries to have its answer carry an error inside a 200 (its hostile
#: model: proxy.fake.hostile.ERROR_IN_200).
IN_200 = web.RequestKey("cab_fake_in_200", str)
JUNK = b"<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>"


@dataclass(frozen=True)
class Step:
    """One step: a proxy.inject fault, or one of EXTRA (`fault` None)."""

    name: str
    fault: Fault | None = None
    slow_s: float = 2.0

    def __str__(self) -> str:
        return str(self.fault) if self.fault is not None else self.name


def parse_step(text: str) -> Step:
    name, _, param = text.strip().partition(":")
    if name in EXTRA:
        if name == "slow" and param:
            key, _, value = param.partition("=")
            try:
                if key != "s":
                    raise ValueError
                return Step("slow", slow_s=float(value))
            except ValueError:
                raise FaultSpecError(f"fault {text!r}: slow takes s=SECONDS") from None
        if param:
            raise FaultSpecError(f"fault {text!r}: {name} takes no parameter")
        return Step(name)
    fault = parse_fault(text)
    return Step(name, fault)


@functools.lru_cache(maxsize=512)
def parse_sequence(text: str) -> tuple[Step, ...]:
    """`ok*3,429:retry_after=8` -> (ok, ok, ok, 429); the last step repeats when played."""
    steps: list[Step] = []
    for part in (p.strip() for p in text.split(",")):
        if not part:
            raise FaultSpecError(f"sequence {text!r}: empty step")
        n, m = 1, _REPEAT.match(part)
        if m:
            part, n = m.group("step"), int(m.group("n"))
            if not 1 <= n <= MAX_REPEAT:
                raise FaultSpecError(f"sequence {text!r}: repeat count must be 1..{MAX_REPEAT}")
        steps.extend([parse_step(part)] * n)
    return tuple(steps)


def split(model: str) -> tuple[tuple[Step, ...], str]:
    """`faults/<sequence>[@<tag>]/<inner model>` -> (steps, inner model)."""
    head, sep, inner = model[len(PREFIX) :].partition("/")
    if not sep or not inner:
        raise FaultSpecError(f"model {model!r}: use faults/<sequence>/<model>")
    return parse_sequence(head.partition("@")[0]), inner


def tagged(model: str, tag: str) -> str:
    """The sequence model with a session tag: its position is counted for that tag alone."""
    head, _, inner = model[len(PREFIX) :].partition("/")
    return f"{PREFIX}{head.partition('@')[0]}@{tag}/{inner}"


def next_step(counters: dict[str, int], model: str, caller: str | None) -> tuple[Step, str]:
    """(the step for this call, the inner model), advancing the caller's position."""
    steps, inner = split(model)
    key = f"seq\n{caller or ''}\n{model}"
    index = counters.get(key, 0)
    counters[key] = index + 1
    return steps[min(index, len(steps) - 1)], inner


def _error(status: int, message: str, type_: str, code: str | None) -> web.Response:
    return web.Response(
        status=status, body=error_body(message, type_, code), content_type="application/json"
    )


def _status_reply(fault: Fault, inner: str) -> web.Response:
    status = fault.status or 500
    if status in (401, 403):
        return _error(status, "Incorrect API key provided.", "invalid_request_error",
                      "invalid_api_key")  # fmt: skip
    if status == 404:
        return _error(404, f"The model `{inner}` does not exist", "invalid_request_error",
                      "model_not_found")  # fmt: skip
    if status == 402:  # what a credit-based gateway (OpenRouter) says when the money is gone
        return _error(402, "Insufficient credits. Add more using https://example.test/credits",
                      "insufficient_credits", "402")  # fmt: skip
    code, headers, body = fault.reply()
    return web.Response(status=code, body=body, headers=headers, content_type="application/json")


async def play(
    request: web.Request, step: Step, inner: str, stream: bool
) -> web.StreamResponse | None:
    """Play a step of a call (`stream`: the call asked for a stream); None means "answer
    with the inner model" (ok, slow, cut)."""
    if step.name == "slow":
        await asyncio.sleep(step.slow_s)
        return None
    if step.name == "context":
        return _error(
            400,
            "This model's maximum context length is 8192 tokens. However, your messages "
            "resulted in 9001 tokens.",
            "invalid_request_error",
            "context_length_exceeded",
        )
    if step.name == "flagged":
        return _error(
            403,
            "Your chosen model requires moderation and your input was flagged for: violence",
            "forbidden",
            "403",
        )
    if step.name == "no-quota":
        return _error(
            429,
            "You exceeded your current quota, please check your plan and billing details.",
            "insufficient_quota",
            "insufficient_quota",
        )
    if step.name == "drop":
        if request.transport is not None:
            request.transport.close()
        raise asyncio.CancelledError  # nothing can be sent: the connection is gone
    if step.name == "junk":
        return web.Response(status=200, body=JUNK, content_type="text/html")
    if step.name == "empty":
        return hostile.empty_answer(request, stream)
    if step.name in IN_200_ERRORS:
        request[IN_200] = IN_200_ERRORS[step.name]
        return None
    fault = step.fault
    if fault is None or fault.kind == "ok":
        return None
    if fault.kind == "cut":
        request[CUT] = True
        return None
    if fault.kind == "hang":
        await asyncio.sleep(fault.hang_s if fault.hang_s is not None else 24 * 3600.0)
        return _error(504, "hung for the configured time", "server_error", None)
    return _status_reply(fault, inner)


async def cut_json(request: web.Request, body: bytes) -> web.StreamResponse:
    """Send the first half of a JSON answer, then close the connection."""
    resp = web.StreamResponse(headers={"Content-Type": "application/json"})
    resp.content_length = len(body)
    await resp.prepare(request)
    await resp.write(body[: len(body) // 2])
    if request.transport is not None:
        request.transport.close()
    return resp
