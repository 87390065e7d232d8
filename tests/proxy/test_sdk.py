"""The real openai SDK, sync and async, through the proxy in front of the fake upstream."""

from __future__ import annotations

import json

import openai
import pytest

MESSAGES = [{"role": "user", "content": "Fix the handler, please."}]


def test_non_streaming_call_is_recorded_with_upstream_usage(client, proxy, session):
    reply = client.chat.completions.create(model="echo", messages=MESSAGES)
    assert reply.choices[0].message.content == "echo: Fix the handler, please."
    [call] = proxy.calls(session.id)
    assert call.seq == 1 and call.session == session.id
    assert call.cell_id == "sweep/tui/model/demo/fix-handler"
    assert call.outcome == "ok" and call.status_code == 200 and not call.stream
    assert call.tokens_source == "usage"
    assert call.prompt_tokens == reply.usage.prompt_tokens
    assert call.completion_tokens == reply.usage.completion_tokens
    assert call.total_tokens == reply.usage.total_tokens
    assert call.cached_tokens == 0 and call.reasoning_tokens == 0
    assert call.finish_reason == "stop" and call.response_text == "echo: Fix the handler, please."
    assert call.request_hash.startswith("sha256:") and len(call.request_hash) == 71
    assert call.model == call.requested_model == "echo"
    assert call.proxy_overhead_ms < call.latency_ms


def test_stream_and_non_stream_copies_hash_the_same(client, proxy, session):
    plain = client.chat.completions.create(model="echo", messages=MESSAGES)
    chunks = list(client.chat.completions.create(model="echo", messages=MESSAGES, stream=True))
    # the client did not ask for usage, so it must not see the usage chunk the proxy asked for
    assert all(c.usage is None for c in chunks) and all(c.choices for c in chunks)
    text = "".join(c.choices[0].delta.content or "" for c in chunks)
    assert text == plain.choices[0].message.content
    first, second = proxy.calls(session.id)
    assert (first.stream, second.stream) == (False, True)
    assert first.request_hash == second.request_hash
    # the usage the proxy asked for on the client's behalf is the upstream's own
    assert second.tokens_source == "usage"
    assert second.prompt_tokens == plain.usage.prompt_tokens
    assert second.completion_tokens == plain.usage.completion_tokens
    assert second.ttft_ms is not None and 0 < second.ttft_ms < second.latency_ms
    assert second.finish_reason == "stop" and second.response_text == text


def test_stream_with_client_usage_keeps_the_usage_chunk(client, proxy, session):
    chunks = list(
        client.chat.completions.create(
            model="echo", messages=MESSAGES, stream=True, stream_options={"include_usage": True}
        )
    )
    usage = chunks[-1].usage
    assert usage is not None and chunks[-1].choices == []
    [call] = proxy.calls(session.id)
    assert (call.prompt_tokens, call.completion_tokens, call.total_tokens) == (
        usage.prompt_tokens,
        usage.completion_tokens,
        usage.total_tokens,
    )


@pytest.mark.parametrize("stream", [False, True])
def test_scripted_tool_calls(client, proxy, session, stream):
    model = "scripted/demo/fix-handler"
    messages = [{"role": "user", "content": "go"}]
    seen = []
    for _ in range(4):
        if stream:
            chunks = list(
                client.chat.completions.create(model=model, messages=messages, stream=True)
            )
            content = "".join(c.choices[0].delta.content or "" for c in chunks) or None
            calls = {}
            for c in chunks:
                for tc in c.choices[0].delta.tool_calls or ():
                    entry = calls.setdefault(tc.index, {"id": tc.id, "name": "", "arguments": ""})
                    entry["name"] += tc.function.name or ""
                    entry["arguments"] += tc.function.arguments or ""
            tool_calls = list(calls.values())
        else:
            msg = client.chat.completions.create(model=model, messages=messages).choices[0].message
            content = msg.content
            tool_calls = [
                {"id": t.id, "name": t.function.name, "arguments": t.function.arguments}
                for t in msg.tool_calls or ()
            ]
        seen.append((content, [t["name"] for t in tool_calls]))
        messages.append({"role": "assistant", "content": content, "tool_calls": [
            {"id": t["id"], "type": "function", "function": {"name": t["name"], "arguments": t["arguments"]}}
            for t in tool_calls] or None})  # fmt: skip
        for t in tool_calls:
            messages.append({"role": "tool", "tool_call_id": t["id"], "content": "ok"})
        if tool_calls:
            assert tool_calls[0]["id"] == f"call_{len(seen) - 1}_0"
            assert json.loads(tool_calls[0]["arguments"])["command"]
    assert seen == [
        ("Let me look.", ["bash"]),
        (None, ["bash", "str_replace"]),
        ("Fixed: the status is now written before the body.", []),
        ("done", []),
    ]
    calls = proxy.calls(session.id)
    assert [c.seq for c in calls] == [1, 2, 3, 4]
    assert [c.tool_calls for c in calls] == [["bash"], ["bash", "str_replace"], [], []]
    assert [c.finish_reason for c in calls] == ["tool_calls", "tool_calls", "stop", "stop"]
    assert all(c.outcome == "ok" and c.tokens_source == "usage" for c in calls)


async def test_async_client_streaming_and_not(proxy, session):
    async with openai.AsyncOpenAI(
        base_url=proxy.base_url + "/v1", api_key=session.key, max_retries=0
    ) as aclient:
        reply = await aclient.chat.completions.create(model="echo", messages=MESSAGES)
        stream = await aclient.chat.completions.create(
            model="echo", messages=MESSAGES, stream=True, stream_options={"include_usage": True}
        )
        chunks = [c async for c in stream]
    assert chunks[-1].usage.total_tokens == reply.usage.total_tokens
    calls = proxy.calls(session.id)
    assert len(calls) == 2
    assert calls[0].request_hash == calls[1].request_hash
    assert calls[1].ttft_ms < calls[1].latency_ms
    assert [c.total_tokens for c in calls] == [reply.usage.total_tokens] * 2


def test_model_override_and_models_passthrough(proxy, fake, upstream_key):
    sess = proxy.create_session(cell_id="c", model_override="scripted/demo/fix-handler")
    with openai.OpenAI(base_url=proxy.base_url + "/v1", api_key=sess.key, max_retries=0) as c:
        msg = c.chat.completions.create(model="whatever", messages=MESSAGES).choices[0].message
        ids = [m.id for m in c.models.list()]
    assert msg.content == "Let me look."
    assert "scripted/demo/fix-handler" in ids
    chat, models = proxy.calls(sess.id)
    assert (chat.requested_model, chat.model) == ("whatever", "scripted/demo/fix-handler")
    assert (models.api, models.method, models.outcome) == ("models", "GET", "ok")


def test_session_in_path_and_closed_session(proxy, fake, upstream_key):
    sess = proxy.create_session(cell_id="by-path")
    base = f"{proxy.base_url}/s/{sess.id}/v1"
    with openai.OpenAI(base_url=base, api_key="anything", max_retries=0) as c:
        c.chat.completions.create(model="echo", messages=MESSAGES)
    assert [c.cell_id for c in proxy.calls(sess.id)] == ["by-path"]
    assert len(proxy.close_session(sess.id)) == 1
    with (
        openai.OpenAI(base_url=proxy.base_url + "/v1", api_key=sess.key, max_retries=0) as c,
        pytest.raises(openai.AuthenticationError),
    ):
        c.chat.completions.create(model="echo", messages=MESSAGES)


def test_session_with_its_own_upstream_and_key(proxy, fake, monkeypatch):
    from proxy.server import FakeUpstreamServer

    monkeypatch.setenv("CAB_TEST_OTHER_KEY", "sk-other-provider")
    with FakeUpstreamServer() as other:
        sess = proxy.create_session(cell_id="c2", upstream=other.base_url + "/v1",
                                    upstream_key_env="CAB_TEST_OTHER_KEY")  # fmt: skip
        with openai.OpenAI(base_url=proxy.base_url + "/v1", api_key=sess.key, max_retries=0) as c:
            c.chat.completions.create(model="echo", messages=MESSAGES)
        assert list(other.state.authorizations) == ["Bearer sk-other-provider"]
    assert fake.state.requests == 0
    assert [c.outcome for c in proxy.calls(sess.id)] == ["ok"]


def test_no_key_configured_sends_no_authorization(fake, monkeypatch):
    from proxy.server import ProxyServer

    monkeypatch.delenv("CAB_TEST_UNSET_KEY", raising=False)
    with ProxyServer(upstream=fake.base_url + "/v1", upstream_key_env="CAB_TEST_UNSET_KEY") as p:
        sess = p.create_session()
        with openai.OpenAI(base_url=p.base_url + "/v1", api_key=sess.key, max_retries=0) as c:
            c.chat.completions.create(model="echo", messages=MESSAGES)
    assert list(fake.state.authorizations) == [None]
