"""The pure parts: SSE observation, outcome rules, Retry-After, request hashing."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from proxy import classify
from proxy.hashing import request_hash
from proxy.observe import TEXT_LIMIT, TOOL_CALLS_LIMIT, StreamObserver, observe_body


def sse(obj) -> bytes:
    return b"data: " + (obj if isinstance(obj, bytes) else json.dumps(obj).encode()) + b"\n\n"


def chunk(delta=None, finish=None, usage=None, choices=True):
    c = {
        "choices": [{"index": 0, "delta": delta or {}, "finish_reason": finish}] if choices else []
    }
    if usage:
        c["usage"] = usage
    return sse(c)


USAGE = {"prompt_tokens": 11, "completion_tokens": 7, "total_tokens": 18,
         "prompt_tokens_details": {"cached_tokens": 3},
         "completion_tokens_details": {"reasoning_tokens": 2}}  # fmt: skip


def stream_bytes() -> bytes:
    return b"".join(
        [
            chunk({"role": "assistant", "content": ""}),
            chunk({"content": "Hel"}),
            chunk({"content": "lo"}),
            chunk({"tool_calls": [{"index": 0, "function": {"name": "bash", "arguments": ""}}]}),
            chunk({}, finish="tool_calls"),
            chunk(usage=USAGE, choices=False),
            sse(b"[DONE]"),
        ]
    )


def test_pass_through_returns_every_byte_even_split_mid_event():
    data = stream_bytes()
    obs = StreamObserver("chat")
    out = b"".join(obs.feed(data[i : i + 7]) for i in range(0, len(data), 7)) + obs.finish()
    assert out == data
    o = obs.obs
    assert (o.prompt_tokens, o.completion_tokens, o.total_tokens) == (11, 7, 18)
    assert (o.cached_tokens, o.reasoning_tokens) == (3, 2)
    assert o.text == "Hello" and o.tool_calls == ["bash"] and o.finish_reason == "tool_calls"
    assert o.done and o.first_event_at <= o.first_output_at


def test_strip_mode_drops_only_the_usage_only_chunk():
    data = stream_bytes()
    obs = StreamObserver("chat", strip_usage_chunk=True)
    out = b"".join(obs.feed(data[i : i + 5]) for i in range(0, len(data), 5)) + obs.finish()
    assert out == data.replace(chunk(usage=USAGE, choices=False), b"")
    assert obs.obs.total_tokens == 18  # still observed


def test_strip_mode_handles_crlf_events():
    data = stream_bytes().replace(b"\n\n", b"\r\n\r\n")
    obs = StreamObserver("chat", strip_usage_chunk=True)
    out = obs.feed(data) + obs.finish()
    assert b'"usage"' not in out and out.endswith(b"data: [DONE]\r\n\r\n")
    assert obs.obs.total_tokens == 18


def _observed(obs: StreamObserver) -> tuple:
    o = obs.obs
    return (o.text, o.tool_calls, o.finish_reason, o.total_tokens, o.cached_tokens, o.done)


@pytest.mark.parametrize("strip", [False, True])
@pytest.mark.parametrize("end", [b"\n\n", b"\r\n\r\n", b"\r\r", b"\n\r", b"\r\n\r", b"\r\n\n"])
def test_every_way_of_cutting_a_stream_forwards_and_observes_the_same(strip, end):
    """Chunks split anywhere (an event end too: `\r\n` | `\r\n`): the same bytes out and
    the same observation as the stream in one piece. SSE ends a line with CRLF, LF or a
    lone CR, and an event with two line ends in a row, of any of those kinds."""
    data = stream_bytes().replace(b"\n\n", end)
    whole = StreamObserver("chat", strip_usage_chunk=strip)
    expected = whole.feed(data) + whole.finish()
    assert _observed(whole) == ("Hello", ["bash"], "tool_calls", 18, 3, True)
    assert (b'"usage"' in expected) is not strip
    rng = random.Random(7)
    for _ in range(200):
        cuts = sorted(rng.sample(range(1, len(data)), rng.randint(1, 40)))
        pieces = [data[a:b] for a, b in zip([0, *cuts], [*cuts, len(data)], strict=True)]
        obs = StreamObserver("chat", strip_usage_chunk=strip)
        out = b"".join(obs.feed(piece) for piece in pieces) + obs.finish()
        assert out == expected, cuts
        assert _observed(obs) == _observed(whole), cuts


@pytest.mark.parametrize("line_end", [b"\r", b"\r\n", b"\n"])
def test_responses_events_with_any_line_end_are_observed(line_end):
    events = [
        (b"response.output_text.delta", {"type": "response.output_text.delta", "delta": "Hi"}),
        (b"response.completed", {"type": "response.completed", "response": {
            "status": "completed", "usage": {"input_tokens": 5, "output_tokens": 2,
                                             "total_tokens": 7}}}),
    ]  # fmt: skip
    data = b"".join(
        b"event: " + name + line_end + b"data: " + json.dumps(obj).encode() + line_end * 2
        for name, obj in events
    )
    obs = StreamObserver("responses")
    out = b"".join(obs.feed(data[i : i + 9]) for i in range(0, len(data), 9)) + obs.finish()
    assert out == data
    o = obs.obs
    assert (o.text, o.total_tokens, o.finish_reason, o.done) == ("Hi", 7, "completed", True)


def test_a_long_event_costs_its_length_once_not_once_per_chunk():
    """A provider's event of 8 MB in 16 KB pieces: each piece is scanned alone until the
    event ends (joining the held pieces every time took ~1.7 s of CPU for 8 MB)."""
    obs = StreamObserver("chat", strip_usage_chunk=True)
    piece, head, end = (
        b"x" * 16384,
        b'data: {"choices":[{"index":0,"delta":{"content":"',
        b'"}}]}\n\n',
    )
    assert obs.feed(head) == b""
    for _ in range(512):
        assert obs.feed(piece) == b""  # held: strip mode forwards whole events
        assert len(obs._tail) <= 3
    assert len(obs._held) == 513  # nothing joined while the event went on
    out = obs.feed(end)
    assert len(out) == len(head) + 8 * 2**20 + len(end) and obs.obs.out_chars == 8 * 2**20
    assert obs._held == []


@pytest.mark.parametrize("step", [7, 3000, 65536])
@pytest.mark.parametrize("strip", [False, True])
def test_an_event_longer_than_the_limit_is_passed_on_and_memory_stays_bounded(strip, step):
    """A provider that streams one event without end (or a very long one): every byte
    still reaches the client, the observer never holds more than the limit and a piece,
    and the events after it are observed (and the usage chunk stripped) as usual."""
    limit, piece = 50_000, b"y" * 4096
    long_event = b'data: {"choices":[{"index":0,"delta":{"content":"' + piece * 40 + b'"}}]}\n\n'
    data = chunk({"content": "before "}) + long_event + stream_bytes()
    obs = StreamObserver("chat", strip_usage_chunk=strip, max_event_bytes=limit)
    out, most = [], 0
    for i in range(0, len(data), step):
        out.append(obs.feed(data[i : i + step]))
        most = max(most, obs._held_bytes)
    out.append(obs.finish())
    usage = chunk(usage=USAGE, choices=False)
    assert b"".join(out) == (data.replace(usage, b"") if strip else data)
    assert most <= limit + step
    assert obs.obs.text == "before Hello"  # the long event is not observed, the rest is
    assert obs.obs.total_tokens == 18 and obs.obs.done
    assert "passed on unobserved" in (obs.obs.error or "")


def test_responses_events():
    def ev(kind, **data):
        return (
            f"event: {kind}\ndata: ".encode()
            + json.dumps({"type": kind, **data}).encode()
            + b"\n\n"
        )

    usage = {"input_tokens": 20, "input_tokens_details": {"cached_tokens": 4}, "output_tokens": 9,
             "output_tokens_details": {"reasoning_tokens": 5}, "total_tokens": 29}  # fmt: skip
    data = b"".join(
        [
            ev("response.created", response={"status": "in_progress"}),
            ev("response.output_text.delta", delta="Hi "),
            ev("response.output_text.delta", delta="there"),
            ev("response.output_item.added", item={"type": "function_call", "name": "shell"}),
            ev("response.function_call_arguments.delta", delta="{}"),
            ev(
                "response.incomplete",
                response={
                    "status": "incomplete",
                    "usage": usage,
                    "incomplete_details": {"reason": "max_output_tokens"},
                },
            ),
        ]
    )
    obs = StreamObserver("responses")
    assert obs.feed(data) == data
    o = obs.obs
    assert (o.prompt_tokens, o.completion_tokens, o.cached_tokens, o.reasoning_tokens) == (
        20,
        9,
        4,
        5,
    )
    assert o.text == "Hi there" and o.tool_calls == ["shell"]
    assert o.finish_reason == "max_output_tokens" and o.done


def test_reply_text_is_truncated():
    body = {
        "choices": [{"message": {"content": "x" * (TEXT_LIMIT + 500)}, "finish_reason": "length"}]
    }
    o = observe_body("chat", json.dumps(body).encode())
    assert len(o.text) == TEXT_LIMIT and o.out_chars == TEXT_LIMIT + 500
    assert not o.has_usage and o.finish_reason == "length"


def test_outcomes():
    ctx = b'{"error": {"message": "maximum context length is 8192", "code": "context_length_exceeded"}}'
    assert classify.outcome_for(200) == "ok"
    assert classify.outcome_for(429) == "rate_limited"
    assert classify.outcome_for(401) == classify.outcome_for(403) == "auth_error"
    assert classify.outcome_for(503) == "upstream_error"
    assert classify.outcome_for(400, ctx) == "context_length"
    assert classify.outcome_for(400, b'{"error": {"message": "bad tool"}}') == "client_error"
    assert classify.outcome_for(404) == "client_error"


def test_retry_after_forms():
    now = datetime(2026, 1, 1, tzinfo=UTC)
    date = format_datetime(now + timedelta(seconds=30), usegmt=True)
    assert classify.retry_after_s({"retry-after": "7"}) == 7
    assert classify.retry_after_s({"retry-after": "1.5"}) == 1.5
    assert classify.retry_after_s({"retry-after": date}, now=now.timestamp()) == 30
    assert classify.retry_after_s({"retry-after-ms": "250", "retry-after": "1"}) == 0.25
    assert classify.retry_after_s({"retry-after": "soon"}) is None
    assert classify.retry_after_s({}) is None
    # no wait can be read from a number that is not finite (the record could not hold it)
    for junk in ("inf", "-inf", "nan", "Infinity"):
        assert classify.retry_after_s({"retry-after": junk}) is None
        assert classify.retry_after_s({"retry-after-ms": junk, "retry-after": "2"}) == 2
    assert classify.retry_after_s({"retry-after": "-5"}) == 0


def test_request_hash_ignores_transport_fields_and_key_order():
    a = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
    b = {"messages": [{"content": "hi", "role": "user"}], "stream": True,
         "stream_options": {"include_usage": True}, "model": "m"}  # fmt: skip
    assert request_hash(a) == request_hash(b)
    assert request_hash(a) != request_hash({**a, "temperature": 0})
    # the worked example of docs/records.md
    doc = {
        "model": "gpt-4o-mini",
        "messages": [{"role": "user", "content": "Say hi"}],
        "stream": True,
    }
    assert request_hash(doc) == DOC_EXAMPLE_HASH


DOC_EXAMPLE_HASH = "sha256:03ac898f4322c027d4f7489a6f96b2c84cc7d5160c7606995101f514f3feb680"


@pytest.mark.parametrize(
    ("error", "outcome"),
    [
        ({"message": "Rate limit reached for gpt-4o", "type": "tokens", "code": "rate_limit_exceeded"},
         "rate_limited"),
        # an empty account (OpenAI's insufficient_quota) is no throttle: no wait mends it
        ({"message": "You exceeded your current quota", "code": "insufficient_quota"}, "auth_error"),
        ({"type": "rate_limit_error", "message": "slow down"}, "rate_limited"),
        ({"code": 429, "message": "Too Many Requests"}, "rate_limited"),
        ({"status": "RESOURCE_EXHAUSTED", "message": "exhausted"}, "rate_limited"),
        ({"type": "overloaded_error", "message": "Overloaded"}, "upstream_error"),
        ({"message": "The server had an error", "type": "server_error", "code": 500}, "upstream_error"),
        ({"code": "context_length_exceeded", "message": "too long"}, "context_length"),
        ("plain text error", "upstream_error"),
        # the account refused mid-stream (OpenRouter: out of credit), not the agent's
        ({"code": 402, "message": "Insufficient credits. Add more using /credits"}, "auth_error"),
        ({"type": "authentication_error", "message": "invalid x-api-key"}, "auth_error"),
        ({"type": "permission_error", "message": "not allowed"}, "auth_error"),
        ({"code": 402, "message": "credit quota used up"}, "auth_error"),
        ({"code": 403, "message": "Your input was flagged by moderation"}, "client_error"),
        ({"code": 403, "message": "Your account was flagged for abuse"}, "auth_error"),
        # the Responses API's response.failed codes that blame the request
        ({"code": "invalid_prompt", "message": "Invalid prompt"}, "client_error"),
        ({"code": "image_too_large", "message": "Image too large"}, "client_error"),
        ({"code": "image_content_policy_violation", "message": "policy"}, "client_error"),
        ({"code": "server_error", "message": "The server had an error"}, "upstream_error"),
        ({"code": "invalid_api_key", "message": "Incorrect API key"}, "auth_error"),
    ],
)  # fmt: skip
def test_an_error_a_provider_reports_inside_a_200_is_classified(error, outcome):
    assert classify.reported_error_outcome(error) == outcome


@pytest.mark.parametrize(
    ("status", "body", "outcome"),
    [
        # Gemini's OpenAI-compatible endpoint answers a bad key with 400, not 401
        (400, b'[{"error": {"code": 400, "message": "API key not valid. Please pass a valid API'
              b' key.", "status": "INVALID_ARGUMENT", "details": [{"reason": "API_KEY_INVALID"}]}}]',
         "auth_error"),
        # Anthropic answers an account with no credit left 400, not 402
        (400, b'{"type": "error", "error": {"type": "invalid_request_error", "message": "Your'
              b' credit balance is too low to access the Anthropic API."}}', "auth_error"),
        (400, b'{"error": {"message": "Invalid value for temperature", "code": null}}', "client_error"),
        (400, b'{"error": {"message": "maximum context length is 8192 tokens"}}', "context_length"),
        (403, b'{"error": {"message": "Your input was flagged by moderation"}}', "client_error"),
        (403, b'{"error": {"message": "Project lacks access"}}', "auth_error"),
        (402, b"", "auth_error"),
        (429, b'{"error": {"message": "You exceeded your current quota, please check your plan'
              b' and billing details.", "type": "insufficient_quota", "code": "insufficient_quota"}}',
         "auth_error"),
        (429, b'{"error": {"message": "Rate limit reached", "code": "rate_limit_exceeded"}}',
         "rate_limited"),
        # a request bigger than the endpoint takes: the context outgrew it...
        (413, b'{"type": "error", "error": {"type": "request_too_large"}}', "context_length"),
        (413, b"<html>413 Request Entity Too Large</html>", "context_length"),
        # ... or (Groq) bigger than the key's tokens per minute
        (413, b'{"error": {"message": "Request too large for model on tokens per minute (TPM):'
              b' Limit 6000, Requested 6390", "type": "tokens", "code": "rate_limit_exceeded"}}',
         "rate_limited"),
    ],
)  # fmt: skip
def test_an_upstream_error_status_and_body_are_classified(status, body, outcome):
    assert classify.outcome_for(status, body) == outcome


def test_errors_inside_a_stream_or_a_whole_200_fail_the_observation():
    """Chat: an `error` event (after content, with or without [DONE]); Responses: an
    `error` event or `response.failed`; a whole chat 200 whose body is an error."""
    rate = {"message": "Rate limit reached", "code": "rate_limit_exceeded"}
    chat = StreamObserver("chat")
    chat.feed(chunk({"content": "Hel"}) + sse({"error": rate}) + sse(b"[DONE]"))
    assert (chat.obs.failed, chat.obs.error, chat.obs.text) == (
        "rate_limited",
        rate["message"],
        "Hel",
    )
    failed = {"type": "response.failed", "response": {"status": "failed", "error": {
        "code": "server_error", "message": "The model failed"}}}  # fmt: skip
    responses = StreamObserver("responses")
    responses.feed(sse(failed))
    assert (responses.obs.failed, responses.obs.error) == ("upstream_error", "The model failed")
    event = StreamObserver("responses")
    event.feed(sse({"type": "error", "code": "rate_limit_exceeded", "message": "slow down"}))
    assert event.obs.failed == "rate_limited"
    gateway = StreamObserver("responses")  # a chat-style error object in a Responses stream
    gateway.feed(sse({"error": {"type": "overloaded_error", "message": "Overloaded"}}))
    assert (gateway.obs.failed, gateway.obs.error) == ("upstream_error", "Overloaded")
    whole = observe_body("chat", json.dumps({"error": {"type": "overloaded_error"}}).encode())
    assert whole.failed == "upstream_error"
    ended = StreamObserver("chat")  # a gateway's failed generation, without an error object
    ended.feed(chunk({"content": "Hel"}) + chunk({}, finish="error") + sse(b"[DONE]"))
    assert (ended.obs.failed, ended.obs.finish_reason) == ("upstream_error", "error")
    fine = StreamObserver("chat")  # a null `error` in an ordinary chunk is no error
    fine.feed(sse({"error": None, "choices": [{"index": 0, "delta": {"content": "x"}}]}))
    assert fine.obs.failed is None and fine.obs.text == "x"


def test_a_stream_of_endless_tool_calls_keeps_a_bounded_list():
    """A hostile provider streaming tool calls without end: the record keeps the first
    TOOL_CALLS_LIMIT names (each cut), not one per event for ever."""
    obs = StreamObserver("chat")
    for i in range(TOOL_CALLS_LIMIT * 4):
        call = {"index": i, "id": f"c{i}", "function": {"name": f"t{i}" + "x" * 500}}
        obs.feed(chunk({"tool_calls": [call]}))
    names = obs.obs.tool_calls
    assert len(names) == TOOL_CALLS_LIMIT and names[0] == "t0" + "x" * 198
