"""The upstream-attempt seam: the governor admits each attempt, and absorb mode retries
429/503/overloaded answers inside the proxy, and whole 200s whose body reports a quota or
an overload, or holds no answer (as gateways send them; a stream's cannot be: the client
has its 200 first).

`governed_send` is what the handler calls instead of `upstream.send`. Without absorb it
is one admitted attempt. With absorb (opt-in per model or `cab proxy --absorb`) it
loops with tenacity inside a budget (attempts and seconds), waiting what the provider
asked (`retry-after-ms`, else `Retry-After` in seconds or as an HTTP date, capped); the
agent sees only the final answer. Every attempt the client did not see is still
recorded (`absorbed: true`), and every later attempt carries `retry_of` = the seq of
the first, so tokens, waits and the verdict stay honest.

An agent's own retries are linked the same way: `x-stainless-retry-count` (the openai
SDKs, Claude Code) > 0 marks a retry of the last first attempt with the same request hash.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from time import perf_counter

from aiohttp import web
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_result,
    stop_after_attempt,
    stop_after_delay,
)

from proxy import classify
from proxy.facts import CallFacts
from proxy.governor import (
    AbsorbPolicy,
    Governor,
    Limits,
    Outcome,
    estimate_prompt_tokens,
    lane_name,
)
from proxy.inbound import max_completion
from proxy.observe import observe_object, parse_object
from proxy.records import GENERATIVE_APIS, Api, ModelCall
from proxy.records import Outcome as CallOutcome
from proxy.sessions import SessionStore
from proxy.upstream import UPSTREAM_FAILURES, Attempt, Reply, upstream_failure

#: upstream statuses absorb mode retries: throttled, unavailable, overloaded (529).
RETRYABLE = frozenset((429, 503, 529))
#: the outcomes a retry may mend, by status or reported inside a whole 200
_RETRIED = frozenset(("rate_limited", "upstream_error"))

Record = Callable[[CallFacts], ModelCall]
#: request hashes per session whose first attempt is remembered (memory stays flat).
FIRST_SEQ_KEPT = 1024


def retry_delay_s(
    headers: Mapping[str, str], cap_s: float, fallback_s: float, now: float | None = None
) -> float:
    """How long to wait before retrying: the provider's `retry-after-ms` or `Retry-After`
    (seconds or HTTP date), else `fallback_s`; never more than `cap_s`."""
    asked = classify.retry_after_s(_lower(headers), now)
    return min(cap_s, fallback_s if asked is None else asked)


def _lower(headers: Mapping[str, str]) -> dict[str, str]:
    return {k.lower(): v for k, v in headers.items()}


@dataclass
class Gate:
    """What the seam needs from the app: the governor (None: off), the upstream client's
    send, and the session store (each extra attempt is one more record to wait for)."""

    governor: Governor | None
    send: Callable[[Attempt], Awaitable[Reply]]
    store: SessionStore


@dataclass(slots=True)
class _Tried:
    reply: Reply
    body: bytes = b""
    #: a whole 200 that is the provider's failure, and how it is recorded: its quota or
    #: its overload reported in the body (as gateways send them), or no answer in it
    failed_in_200: tuple[CallOutcome, str] | None = None

    @property
    def retryable(self) -> bool:
        """A throttle or an overload, said by status or inside a 200; not what a status of
        RETRYABLE may also carry that no wait mends (OpenAI's 429 insufficient_quota: an
        empty account, `auth_error`)."""
        if self.failed_in_200 is not None:
            return True
        status = self.reply.status
        return status in RETRYABLE and classify.outcome_for(status, self.body) in _RETRIED


async def governed_send(
    call: CallFacts,
    attempt: Attempt,
    gate: Gate,
    record: Record,
    limits: Limits | None,
    absorb: AbsorbPolicy | None,
) -> Reply:
    """One admitted attempt; with `absorb`, as many as absorb mode allows."""
    if absorb is not None:
        return await _absorbing(call, attempt, gate, record, limits, absorb)
    if gate.governor is not None:
        # one lane per upstream base and key, whichever endpoint (chat, responses) is called
        lane = lane_name(call.upstream or "", attempt.headers.get("Authorization"))
        estimate = estimate_prompt_tokens(attempt.data)
        most = max_completion(call.inbound)
        ticket = gate.governor.admit_now(lane, limits, estimate, most)
        call.ticket = ticket or await gate.governor.admit(lane, limits, estimate, most)
        call.queued_s = call.ticket.queued_s
    reply = await gate.send(attempt)
    if reply.status >= 400:  # small error bodies: read now, settle now
        call.upstream_status = reply.status  # the record's, should the read fail
        await reply.response.read()
        settle(gate, call, reply=reply)
    return reply


async def _absorbing(
    call: CallFacts,
    attempt: Attempt,
    gate: Gate,
    record: Record,
    limits: Limits | None,
    absorb: AbsorbPolicy,
) -> Reply:
    async def one() -> _Tried:
        reply = await governed_send(call, attempt, gate, record, limits, None)
        if reply.status >= 400:
            return _Tried(reply, await reply.response.read())
        if not _whole_json(reply):  # a stream: the client has the 200 before its error
            return _Tried(reply)
        try:  # read here, not in the relay (aiohttp keeps it): the same mapping of a cut
            body = await reply.response.read()
        except UPSTREAM_FAILURES as exc:
            call.upstream_status = reply.status
            raise upstream_failure(exc, str(reply.response.url), "body") from exc
        return _Tried(reply, body, failed_in_200=_failed_in_200(call.api, body))

    retrying = AsyncRetrying(
        stop=stop_after_attempt(absorb.attempts) | stop_after_delay(absorb.budget_s),
        wait=lambda rs: _wait(_result(rs).reply, rs.attempt_number, absorb),
        retry=retry_if_result(lambda t: t.retryable),
        before_sleep=lambda rs: _absorbed(_result(rs), call, gate, record),
        retry_error_callback=_result,
    )
    return (await retrying(one)).reply


def _whole_json(reply: Reply) -> bool:
    """A 200 whose whole body is plain JSON (not a stream, not encoded)."""
    kind = reply.headers.get("Content-Type") or ""
    return reply.status == 200 and "json" in kind and not reply.headers.get("Content-Encoding")


def _failed_in_200(api: Api, body: bytes) -> tuple[CallOutcome, str] | None:
    """A whole 200 that a retry may mend, read as the relay reads it: the quota or the
    overload reported in its body, or (a generative API's) no answer in it, as an
    overloaded gateway may send. A body that is not JSON, or reports an error no retry
    mends (a bad key, a prompt too long), is answered as it is."""
    obj = parse_object(body)
    if obj is None:
        return None
    obs = observe_object(api, obj)
    if obs.failed in _RETRIED:
        return obs.failed, f"upstream reported in its reply: {obs.error}"
    if obs.failed is None and api in GENERATIVE_APIS and not obs.answered:
        return "upstream_malformed", "upstream answered 200 with no answer in it"
    return None


def _result(rs: RetryCallState) -> _Tried:
    assert rs.outcome is not None
    return rs.outcome.result()


def _wait(reply: Reply, attempt_number: int, absorb: AbsorbPolicy) -> float:
    fallback = min(absorb.max_wait_s, absorb.fallback_s * 2 ** (attempt_number - 1))
    return retry_delay_s(reply.headers, absorb.max_wait_s, fallback)


def _absorbed(tried: _Tried, call: CallFacts, gate: Gate, record: Record) -> None:
    """Record the attempt the client will not see, then start the next one afresh."""
    reply, body = tried.reply, tried.body
    done = dataclasses.replace(call)
    done.upstream_status = done.status_code = reply.status
    if tried.failed_in_200 is not None:
        done.outcome, done.error = tried.failed_in_200
    else:
        done.outcome = classify.outcome_for(reply.status, body)
        done.error = classify.error_message(body)
    done.retry_after_s = classify.retry_after_s(_lower(reply.headers))
    done.rate_limit_headers = classify.rate_limit_headers(reply.headers)
    done.absorbed = True
    rec = record(done)
    reply.response.release()
    if call.retry_of is None:
        call.retry_of = rec.seq
    call.started_at, call.t0 = datetime.now(UTC), perf_counter()
    call.queued_s, call.ticket, call.proxy_s = 0.0, None, 0.0
    if call.session is not None:
        gate.store.begin(call.session)


def settle(
    gate: Gate, call: CallFacts, reply: Reply | None = None, rec: ModelCall | None = None
) -> None:
    """Hand the governor what this attempt taught it (once per ticket)."""
    ticket = call.ticket
    if gate.governor is None or ticket is None or ticket.settled:
        return
    if rec is not None:
        usage = rec.tokens_source == "usage"
        outcome = Outcome(
            # a quota reported inside a 200 (a stream's error event) is a 429 to the governor
            status=429 if rec.outcome == "rate_limited" else rec.upstream_status,
            total_tokens=rec.total_tokens if usage else None,
            completion_tokens=rec.completion_tokens if usage else None,
            latency_s=rec.latency_ms / 1000 - ticket.queued_s,
            retry_after_s=rec.retry_after_s,
            headers=rec.rate_limit_headers,
        )
    elif reply is not None:
        outcome = Outcome(
            status=reply.status,
            latency_s=reply.headers_at - reply.sent_at,
            retry_after_s=classify.retry_after_s(_lower(reply.headers)),
            headers=classify.rate_limit_headers(reply.headers),
        )
    else:
        outcome = Outcome(status=None)
    gate.governor.settle(ticket, outcome)


def link_client_retry(request: web.Request, call: CallFacts) -> None:
    """`x-stainless-retry-count: N` (N > 0): this is the agent's own retry."""
    raw = request.headers.get("x-stainless-retry-count", "")
    call.client_retry = int(raw) if raw.isdigit() else None
    sess, inb = call.session, call.inbound
    if call.client_retry and sess is not None and inb is not None and inb.request_hash:
        call.retry_of = sess.first_seq.get(inb.request_hash)


def remember_first(call: CallFacts, rec: ModelCall) -> None:
    """A first attempt (not a retry of anything): later retries link to its seq. Only a
    client that numbers its attempts (`x-stainless-retry-count: 0` on a first one) can
    link a retry, so only its first attempts are remembered."""
    sess = call.session
    if call.client_retry != 0 or sess is None or not rec.request_hash or rec.retry_of is not None:
        return
    first = sess.first_seq
    first[rec.request_hash] = rec.seq
    if len(first) > FIRST_SEQ_KEPT:  # bounded: an agent retries recent requests only
        del first[next(iter(first))]
