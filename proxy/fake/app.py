"""The fake upstream's aiohttp app: chat completions, Responses, models, embeddings.

The model name picks the behaviour (docs/proxy.md lists them): `scripted/<cat>/<name>`
replays a script, `throttled/...` always answers 429, `fault/...` injects one failure,
`faults/<sequence>/<model>` plays a per-session sequence of faults (proxy.fake.sequences),
anything else gets a deterministic echo. The only state is the counter behind
`fault/429-first-<N>`, the sequences' positions, what tests inspect (authorizations seen,
disconnects) and, when configured, a provider quota per key (proxy.fake.quota).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import math
import re
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

from aiohttp import web
from aiohttp.typedefs import Handler

from proxy.errors import error_body
from proxy.fake import hostile, replies, sequences
from proxy.fake.quota import Quota, QuotaConfig
from proxy.fake.scripts import (
    ScriptError,
    ScriptNotFound,
    Turn,
    chat_turn_index,
    responses_turn_index,
    scripted_turn,
)
from proxy.inject import FaultSpecError


@dataclass(frozen=True)
class FakeConfig:
    scripts_dir: Path = Path("config/scripts")
    retry_after_s: float = 1.0
    #: delay between stream chunks for every model (fault/slow-chunks-<ms> per model).
    chunk_delay_s: float = 0.0
    #: how long fault/hang waits before giving up with a 500.
    hang_s: float = 3600.0
    #: provider quota per key (proxy/fake/quota.py); None answers everything.
    quota: QuotaConfig | None = None


@dataclass
class FakeState:
    config: FakeConfig
    counters: dict[str, int] = field(default_factory=dict)
    #: the Authorization header of recent requests, newest last (tests check the key).
    authorizations: deque = field(default_factory=lambda: deque(maxlen=256))
    requests: int = 0
    #: streams abandoned because the caller went away.
    disconnects: int = 0
    #: method and path of recent requests to any route, newest last (tests).
    seen: deque = field(default_factory=lambda: deque(maxlen=1024))
    #: the User-Agent of those requests (None: none was sent), newest last (tests).
    user_agents: deque = field(default_factory=lambda: deque(maxlen=1024))
    quota: Quota | None = None

    def __post_init__(self) -> None:
        if self.config.quota is not None:
            self.quota = Quota(self.config.quota)


FAKE = web.AppKey("fake", FakeState)
_N = re.compile(r"-(\d+)$")


@web.middleware
async def _remember(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Note every request's method and raw path (tests: what reached the upstream)."""
    request.app[FAKE].seen.append(f"{request.method} {request.raw_path}")
    request.app[FAKE].user_agents.append(request.headers.get("User-Agent"))
    return await handler(request)


def create_fake_app(config: FakeConfig) -> web.Application:
    app = web.Application(client_max_size=64 * 1024 * 1024, middlewares=[_remember])
    app[FAKE] = FakeState(config)
    app.router.add_post("/v1/chat/completions", chat)
    app.router.add_post("/v1/responses", responses)
    app.router.add_post("/v1/embeddings", embeddings)
    app.router.add_get("/v1/models", models)
    app.router.add_route("*", "/{tail:.*}", not_found)
    return app


def _error(status: int, message: str, type_: str, code: str | None, headers=None) -> web.Response:
    return web.Response(
        status=status,
        body=error_body(message, type_, code),
        content_type="application/json",
        headers=headers,
    )


async def chat(request: web.Request) -> web.StreamResponse:
    return await _generate(request, "chat")


async def responses(request: web.Request) -> web.StreamResponse:
    return await _generate(request, "responses")


async def _generate(request: web.Request, api: str) -> web.StreamResponse:
    state = request.app[FAKE]
    raw = await request.read()
    state.requests += 1
    state.authorizations.append(request.headers.get("Authorization"))
    try:
        body = json.loads(raw)
    except ValueError:
        return _error(400, "body is not JSON", "invalid_request_error", None)
    field_ = "messages" if api == "chat" else "input"
    if not isinstance(body, dict) or not isinstance(body.get("model"), str) or field_ not in body:
        return _error(400, f"need 'model' and '{field_}'", "invalid_request_error", None)
    if body["model"].startswith(sequences.PREFIX):
        played = await _sequence_step(request, state, body)
        if played is not None:
            return played
    model = body["model"]
    if hostile.dropped(request):
        return web.Response()
    failure = hostile.before(request, model, body) or await _fault(request, state, model, body)
    if failure is not None:
        return failure
    try:
        turn, t = _turn(state.config, api, model, body)
    except ScriptNotFound as exc:
        return _error(
            404,
            f"The model `{model}` does not exist ({exc})",
            "invalid_request_error",
            "model_not_found",
        )
    except ScriptError as exc:
        return _error(500, str(exc), "server_error", "bad_script")
    prompt, completion = replies.usage_counts(body[field_], turn)
    if state.quota is None:
        return await _answer(request, state, api, body, turn, t, (prompt, completion), {})
    key = request.headers.get("Authorization") or ""
    admission = state.quota.admit(key, prompt + completion)
    if admission.refused is not None:
        status, headers, text = admission.refused
        return web.Response(
            status=status,
            body=text,
            content_type="application/json",
            headers={**admission.headers, **headers},
        )
    try:
        return await _answer(
            request, state, api, body, turn, t, (prompt, completion), admission.headers
        )
    finally:
        state.quota.release(key)


async def _answer(
    request: web.Request,
    state: FakeState,
    api: str,
    body: dict,
    turn: Turn,
    t: int,
    counts: tuple[int, int],
    headers: dict[str, str],
) -> web.StreamResponse:
    model, stream = body["model"], body.get("stream") is True
    prompt, completion = counts
    no_usage = model == "fault/no-usage"
    whole, events = None, None
    if api == "chat":
        usage = None if no_usage else replies.chat_usage(prompt, completion)
        if not stream:
            whole = replies.chat_body(model, turn, t, usage)
        else:
            opts = body.get("stream_options") or {}
            events = replies.chat_events(model, turn, t,
                                         usage if opts.get("include_usage") else None,
                                         max_pieces=_pieces(model))  # fmt: skip
    else:
        usage = None if no_usage else replies.responses_usage(prompt, completion)
        if not stream:
            whole = replies.responses_body(model, turn, t, usage)
        else:
            events = replies.responses_events(model, turn, t, usage)
    in_200 = request.get(sequences.IN_200)
    if in_200 is not None:  # a sequence step: the quota bites inside this 200
        error = hostile.ERROR_IN_200[in_200]
        return await hostile.error_in_200(request, error, whole is not None, events)
    if whole is not None:
        return await hostile.after(request, model, whole, None) or await _whole(
            request, whole, headers
        )
    hostile_stream = await hostile.after(request, model, None, events)
    if hostile_stream is not None:
        return hostile_stream
    if model == "fault/cut-stream" or request.get(sequences.CUT):
        return await _cut(request, events)
    return await _stream(request, state, model, events, headers)


async def _sequence_step(
    request: web.Request, state: FakeState, body: dict
) -> web.StreamResponse | None:
    """Play this call's step of a `faults/...` sequence; None: the inner model answers
    (body["model"] is set to it)."""
    try:
        step, inner = sequences.next_step(
            state.counters, body["model"], request.headers.get("Authorization")
        )
    except FaultSpecError as exc:
        return _error(400, str(exc), "invalid_request_error", "bad_fault_sequence")
    try:
        played = await sequences.play(request, step, inner, bool(body.get("stream")))
    except asyncio.CancelledError:
        state.disconnects += 1
        raise
    body["model"] = inner
    return played


async def _whole(request: web.Request, body: bytes, headers: dict[str, str]) -> web.StreamResponse:
    """A whole JSON answer, or its first half when a sequence step says `cut`."""
    if request.get(sequences.CUT):
        return await sequences.cut_json(request, body)
    return _json(body, headers)


def _pieces(model: str) -> int:
    """`echo/chunks-<N>` streams its echo in N content chunks (benchmarks); else 16."""
    m = _N.search(model)
    return int(m.group(1)) if model.startswith("echo/chunks-") and m else 16


def _json(body: bytes, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(body=body, content_type="application/json", headers=headers)


def _turn(config: FakeConfig, api: str, model: str, body: dict) -> tuple[Turn, int]:
    if api == "chat":
        t = chat_turn_index(body.get("messages") or [])
    else:
        t = responses_turn_index(body.get("input"))
    if model.startswith("scripted/"):
        return scripted_turn(config.scripts_dir, model, t), t
    return Turn(content=f"echo: {_last_user_text(api, body)[:200]}"), t


def _last_user_text(api: str, body: dict) -> str:
    items = body.get("messages") if api == "chat" else body.get("input")
    if isinstance(items, str):
        return items
    for m in reversed(items or []):
        if isinstance(m, dict) and m.get("role") == "user":
            c = m.get("content")
            if isinstance(c, str):
                return c
            if isinstance(c, list):
                return " ".join(p.get("text", "") for p in c if isinstance(p, dict))
    return ""


async def _fault(
    request: web.Request, state: FakeState, model: str, body: dict
) -> web.Response | None:
    """The failure this model name asks for, or None to answer normally."""
    if model.startswith(("throttled/", "scripted-throttled")):
        return _rate_limited(state.config.retry_after_s)
    if not model.startswith("fault/"):
        return None
    name = model[len("fault/") :]
    if name.startswith("429-first-"):
        key = (
            model
            + ":"
            + hashlib.sha256(
                json.dumps(body.get("messages", body.get("input")), sort_keys=True).encode()
            ).hexdigest()
        )
        state.counters[key] = state.counters.get(key, 0) + 1
        limit = _N.search(name)
        if limit and state.counters[key] <= int(limit.group(1)):
            return _rate_limited(state.config.retry_after_s)
        return None
    if name == "500":
        return _error(
            500, "The server had an error while processing your request.", "server_error", None
        )
    if name == "401":
        return _error(
            401, "Incorrect API key provided.", "invalid_request_error", "invalid_api_key"
        )
    if name == "context-length":
        return _error(
            400,
            "This model's maximum context length is 8192 tokens. However, your messages resulted in 9001 tokens.",
            "invalid_request_error",
            "context_length_exceeded",
        )
    if name == "hang":
        try:
            await asyncio.sleep(state.config.hang_s)
        except asyncio.CancelledError:
            state.disconnects += 1
            raise
        return _error(500, "hung for the configured time", "server_error", None)
    return None


def _rate_limited(retry_after_s: float) -> web.Response:
    reset = f"{retry_after_s:g}s"
    headers = {
        "Retry-After": str(max(1, math.ceil(retry_after_s))),
        "retry-after-ms": str(round(retry_after_s * 1000)),
        "x-ratelimit-limit-requests": "60",
        "x-ratelimit-remaining-requests": "0",
        "x-ratelimit-reset-requests": reset,
        "x-ratelimit-limit-tokens": "100000",
        "x-ratelimit-remaining-tokens": "0",
        "x-ratelimit-reset-tokens": reset,
    }
    return _error(
        429,
        "Rate limit reached for requests. Please try again later.",
        "requests",
        "rate_limit_exceeded",
        headers=headers,
    )


def _delays(state: FakeState, model: str) -> tuple[float, float]:
    """(pause after the first chunk, pause between the others) in seconds."""
    m = _N.search(model)
    if model.startswith("fault/slow-first-chunk-") and m:
        return int(m.group(1)) / 1000, state.config.chunk_delay_s
    if model.startswith("fault/slow-chunks-") and m:
        return int(m.group(1)) / 1000, int(m.group(1)) / 1000
    return state.config.chunk_delay_s, state.config.chunk_delay_s


async def _stream(
    request: web.Request, state: FakeState, model: str, events, headers: dict[str, str]
) -> web.StreamResponse:
    first_pause, pause = _delays(state, model)
    resp = web.StreamResponse(
        headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache", **headers}
    )
    try:
        await resp.prepare(request)
        for i, event in enumerate(events):
            await resp.write(event)
            delay = first_pause if i == 0 else pause
            if delay:
                await asyncio.sleep(delay)
        await resp.write_eof()
    except ConnectionResetError:  # the caller hung up mid-stream: nothing to report
        state.disconnects += 1
    except asyncio.CancelledError:
        state.disconnects += 1
        raise
    return resp


async def _cut(request: web.Request, events) -> web.StreamResponse:
    """Send two events, then drop the connection without ending the chunked body."""
    resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
    await resp.prepare(request)
    for _, event in zip(range(2), events, strict=False):
        await resp.write(event)
    if request.transport is not None:
        request.transport.close()
    return resp


async def embeddings(request: web.Request) -> web.Response:
    raw = await request.read()
    body = json.loads(raw or b"{}")
    inputs = body.get("input", "")
    inputs = [inputs] if isinstance(inputs, str) else list(inputs)
    data = []
    for i, text in enumerate(inputs):
        digest = hashlib.sha256(str(text).encode()).digest()
        data.append({"object": "embedding", "index": i, "embedding": [b / 255 for b in digest[:8]]})
    tokens = replies.estimate(len(raw))
    usage = {"prompt_tokens": tokens, "total_tokens": tokens}
    return web.json_response(
        {"object": "list", "data": data, "model": body.get("model"), "usage": usage}
    )


async def models(request: web.Request) -> web.Response:
    if hostile.dropped(request):
        return web.Response()
    scripts_dir = request.app[FAKE].config.scripts_dir
    ids = [
        "echo",
        *sorted(f"scripted/{p.parent.name}/{p.stem}" for p in scripts_dir.glob("*/*.toml")),
    ]
    data = [
        {"id": i, "object": "model", "created": replies.CREATED, "owned_by": "cab-fake"}
        for i in ids
    ]
    return web.json_response({"object": "list", "data": data})


async def not_found(request: web.Request) -> web.Response:
    return _error(
        404,
        f"Unknown request URL: {request.method} {request.path}",
        "invalid_request_error",
        "unknown_url",
    )
