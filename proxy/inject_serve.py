"""Serving an injected fault: the proxy answers in the provider's place, without asking it.

The fault for a call comes from the session's injection spec (its model's `inject`) or
the proxy's (`cab proxy --inject`), numbered by the session's requests, so a seeded
rerun meets the same faults. The call is recorded as usual, with `injected` naming the
fault, and never reaches the upstream (nor the governor: it costs no quota).
"""

from __future__ import annotations

import asyncio
import json

from aiohttp import web

from proxy import classify
from proxy.errors import UpstreamCut, UpstreamTimeout
from proxy.facts import CallFacts
from proxy.inject import Fault, InjectSpec
from proxy.relay import Relay


def fault_for(spec: InjectSpec | None, call: CallFacts, n: int) -> Fault | None:
    if not spec or call.session is None:
        return None
    fault = spec.fault_for(call.session.cell_id or call.session.id, n)
    return None if fault is None or fault.kind == "ok" else fault


async def serve_fault(
    request: web.Request, call: CallFacts, fault: Fault, relay: Relay, timeout_s: float
) -> web.StreamResponse:
    """Answer `fault`; hangs and cuts end as the proxy's own errors (504, a cut stream),
    which the handler records and answers like a real upstream's."""
    call.injected = str(fault)
    if fault.kind == "hang":
        await asyncio.sleep(timeout_s if fault.hang_s is None else fault.hang_s)
        raise UpstreamTimeout(f"injected fault {fault}: no answer")
    if fault.kind == "cut":
        out = web.StreamResponse(status=200, headers={"Content-Type": "text/event-stream"})
        await out.prepare(request)
        relay.response = out
        call.status_code = 200
        await out.write(_first_event(call))
        raise UpstreamCut(f"injected fault {fault}: stream cut after its first event")
    status, headers, body = fault.reply()
    call.status_code = status
    call.outcome = classify.outcome_for(status, body)
    call.error = classify.error_message(body)
    call.retry_after_s = classify.retry_after_s({k.lower(): v for k, v in headers.items()})
    relay.record(call)
    return web.Response(status=status, body=body, headers=headers, content_type="application/json")


def _first_event(call: CallFacts) -> bytes:
    if call.api == "responses":
        event = {"type": "response.created", "response": {"id": "resp-injected"}}
        return b"event: response.created\ndata: " + json.dumps(event).encode() + b"\n\n"
    chunk = {
        "id": "chatcmpl-injected",
        "object": "chat.completion.chunk",
        "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}}],
    }
    return b"data: " + json.dumps(chunk).encode() + b"\n\n"
