"""The Responses API (Codex CLI, OpenCode) passes through, streamed and not, and is
recorded as fully as chat."""

from __future__ import annotations

import json

import httpx
import pytest

from proxy.fake.scripts import responses_turn_index


def test_non_streaming_response(client, proxy, session):
    resp = client.responses.create(model="echo", input="hello responses")
    assert resp.output_text == "echo: hello responses"
    [call] = proxy.calls(session.id)
    assert (call.api, call.path, call.outcome) == ("responses", "/v1/responses", "ok")
    assert call.tokens_source == "usage"
    assert call.prompt_tokens == resp.usage.input_tokens
    assert call.completion_tokens == resp.usage.output_tokens
    assert call.total_tokens == resp.usage.total_tokens
    assert call.cached_tokens == 0 and call.reasoning_tokens == 0
    assert call.finish_reason == "completed" and call.response_text == resp.output_text


def test_streaming_response_typed_events(client, proxy, session):
    plain = client.responses.create(model="echo", input="stream me please")
    kinds = []
    text = ""
    with client.responses.stream(model="echo", input="stream me please") as stream:
        for event in stream:
            kinds.append(event.type)
            if event.type == "response.output_text.delta":
                text += event.delta
        final = stream.get_final_response()
    assert kinds[0] == "response.created" and kinds[-1] == "response.completed"
    assert "response.output_text.delta" in kinds
    assert text == final.output_text == plain.output_text
    first, second = proxy.calls(session.id)
    assert second.stream and second.outcome == "ok"
    assert first.request_hash == second.request_hash
    assert second.prompt_tokens == final.usage.input_tokens
    assert second.completion_tokens == final.usage.output_tokens
    assert second.ttft_ms < second.latency_ms
    assert second.finish_reason == "completed" and second.response_text == text


@pytest.mark.parametrize("stream", [False, True])
def test_scripted_function_calls_over_responses(client, proxy, session, stream):
    model = "scripted/demo/fix-handler"
    items: list = [{"role": "user", "content": "fix it"}]
    names = []
    for _ in range(3):
        if stream:
            with client.responses.stream(model=model, input=items) as s:
                resp = s.get_final_response()
        else:
            resp = client.responses.create(model=model, input=items)
        calls = [o for o in resp.output if o.type == "function_call"]
        names.append([c.name for c in calls])
        for o in resp.output:
            items.append(o.model_dump(exclude_none=True))
        for c in calls:
            items.append({"type": "function_call_output", "call_id": c.call_id, "output": "ok"})
        if calls:
            assert json.loads(calls[0].arguments)["command"]
    assert names == [["bash"], ["bash", "str_replace"], []]
    assert resp.output_text == "Fixed: the status is now written before the body."
    records = proxy.calls(session.id)
    assert [r.tool_calls for r in records] == names
    assert all(r.tokens_source == "usage" and r.api == "responses" for r in records)


def test_turn_rule_counts_runs_of_model_items():
    user = {"role": "user", "content": "x"}
    msg = {"type": "message", "role": "assistant", "content": []}
    call = {"type": "function_call", "name": "bash", "call_id": "c", "arguments": "{}"}
    out = {"type": "function_call_output", "call_id": "c", "output": "ok"}
    assert responses_turn_index("just text") == 0
    assert responses_turn_index([user]) == 0
    assert responses_turn_index([user, msg, call, out]) == 1  # text + call = one turn
    assert responses_turn_index([user, msg, call, out, call, out, msg]) == 3


def test_other_v1_paths_pass_through_and_are_recorded(proxy, session, client):
    emb = client.embeddings.create(model="text-embedding-3-small", input=["a", "b"])
    assert len(emb.data) == 2
    resp = httpx.post(proxy.base_url + "/v1/completions", json={"model": "echo", "prompt": "x"},
                      headers={"Authorization": f"Bearer {session.key}"})  # fmt: skip
    assert resp.status_code == 404  # the fake has no legacy completions: passed through
    e, c = proxy.calls(session.id)
    assert (e.api, e.outcome, e.prompt_tokens, e.tokens_source) == (
        "embeddings",
        "ok",
        emb.usage.prompt_tokens,
        "usage",
    )
    assert (c.api, c.outcome, c.status_code) == ("completions", "client_error", 404)
