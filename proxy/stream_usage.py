"""When a provider refuses the `stream_options` the proxy added.

The proxy asks a stream for its usage (`stream_options.include_usage`) when the client
did not. Some OpenAI-compatible servers answer that with 400 "Unrecognized request
argument supplied: stream_options". Then the proxy records that attempt (outcome
`retried_without_stream_options`: the client never saw it), sends the request again
once without the field (recorded as usual, `retry_of` the first; its tokens are
`estimated`, usage being unavailable), and remembers the upstream so later streams to
it go without the field from the start. `cab proxy --no-stream-usage` never adds it.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from time import perf_counter

from orjson import dumps, loads

from proxy import classify
from proxy.facts import CallFacts
from proxy.governor_send import Gate, Record
from proxy.upstream import Attempt, Reply


def may_be_refusal(call: CallFacts, reply: Reply) -> bool:
    """Without reading anything: a 400 to a request the proxy added stream_options to."""
    inb = call.inbound
    return reply.status == 400 and inb is not None and inb.strip_usage


async def refused(call: CallFacts, reply: Reply) -> bool:
    """This reply is the upstream refusing the stream_options the proxy added."""
    if not may_be_refusal(call, reply):
        return False
    body = await reply.response.read()  # small; aiohttp keeps it for the relay
    return b"stream_options" in body


async def first_attempt_recorded(
    call: CallFacts, attempt: Attempt, reply: Reply, gate: Gate, record: Record
) -> Attempt:
    """Record the refused attempt; return the same request without stream_options."""
    body = await reply.response.read()
    done = dataclasses.replace(call)
    done.upstream_status, done.status_code = reply.status, None  # the client never saw it
    done.outcome = "retried_without_stream_options"
    done.error = classify.error_message(body)
    rec = record(done)
    reply.response.release()
    call.retry_of = call.retry_of or rec.seq
    call.started_at, call.t0 = datetime.now(UTC), perf_counter()
    call.queued_s, call.ticket, call.proxy_s = 0.0, None, 0.0
    if call.session is not None:
        gate.store.begin(call.session)  # one more record to come
    inb = call.inbound
    assert inb is not None
    sent = loads(inb.data)
    sent.pop("stream_options", None)
    inb.data, inb.body, inb.strip_usage = dumps(sent), sent, False
    return dataclasses.replace(attempt, data=inb.data)
