"""The fake provider on its own: model names pick behaviour, statelessly."""

from __future__ import annotations

import httpx
import pytest

from proxy.fake.scripts import ScriptError, load_turns

from .conftest import SCRIPTS


def chat(fake, model, messages, **extra) -> httpx.Response:
    return httpx.post(fake.base_url + "/v1/chat/completions",
                      json={"model": model, "messages": messages, **extra}, timeout=30)  # fmt: skip


def test_turn_is_the_number_of_assistant_messages(fake):
    user = {"role": "user", "content": "go"}
    asst = {"role": "assistant", "content": "x"}
    replies = [
        chat(fake, "scripted/demo/fix-handler", [user] + [asst, user] * n).json() for n in range(4)
    ]
    msgs = [r["choices"][0]["message"] for r in replies]
    assert [m["content"] for m in msgs] == [
        "Let me look.", None, "Fixed: the status is now written before the body.", "done"]  # fmt: skip
    assert [t["id"] for t in msgs[1]["tool_calls"]] == ["call_1_0", "call_1_1"]
    assert [r["choices"][0]["finish_reason"] for r in replies] == [
        "tool_calls",
        "tool_calls",
        "stop",
        "stop",
    ]


def test_same_request_same_reply(fake):
    body = [{"role": "user", "content": "same"}]
    assert chat(fake, "echo", body).content == chat(fake, "echo", body).content


def test_unknown_script_is_model_not_found(fake):
    resp = chat(fake, "scripted/demo/nope", [])
    assert resp.status_code == 404 and resp.json()["error"]["code"] == "model_not_found"
    assert chat(fake, "scripted/../etc", []).status_code == 404


def test_broken_script_names_file_and_field():
    with pytest.raises(ScriptError, match=r"broken\.toml: field 'turns\[0\]\.content'"):
        load_turns(SCRIPTS / "demo" / "broken.toml")


def test_throttled_has_retry_after_and_ratelimit_headers(fake):
    resp = chat(fake, "throttled/x", [])
    assert resp.status_code == 429
    assert resp.headers["retry-after"] == "1" and resp.headers["retry-after-ms"] == "50"
    assert resp.headers["x-ratelimit-remaining-requests"] == "0"
    assert resp.json()["error"]["code"] == "rate_limit_exceeded"


def test_429_first_n_counts_per_prompt(fake):
    a, b = [{"role": "user", "content": "a"}], [{"role": "user", "content": "b"}]
    assert [chat(fake, "fault/429-first-1", a).status_code for _ in range(2)] == [429, 200]
    assert chat(fake, "fault/429-first-1", b).status_code == 429


def test_stream_usage_only_when_asked(fake):
    plain = chat(fake, "echo", [{"role": "user", "content": "x"}], stream=True).text
    asked = chat(fake, "echo", [{"role": "user", "content": "x"}], stream=True,
                 stream_options={"include_usage": True}).text  # fmt: skip
    no_usage = chat(fake, "fault/no-usage", [{"role": "user", "content": "x"}], stream=True,
                    stream_options={"include_usage": True}).text  # fmt: skip
    assert '"usage"' not in plain and '"usage"' in asked and '"usage"' not in no_usage
    assert plain.endswith("data: [DONE]\n\n")
