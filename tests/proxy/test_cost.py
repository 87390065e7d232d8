"""The hot path builds records without validation and writes them with orjson: both
must give exactly what the validated model and pydantic's JSON give."""

from __future__ import annotations

import httpx

from proxy.records import ModelCall
from proxy.sink import json_line

MSG = [{"role": "user", "content": "héllo \u2028 wörld"}]


def test_records_are_valid_models_written_as_pydantic_writes_them(
    proxy, session, client, record_dir
):
    client.chat.completions.create(model="echo", messages=MSG)
    list(
        client.chat.completions.create(model="scripted/demo/fix-handler", messages=MSG, stream=True)
    )
    httpx.post(proxy.base_url + "/v1/chat/completions", json={"model": "fault/429-first-1", "messages": MSG},
               headers={"Authorization": f"Bearer {session.key}"})  # fmt: skip
    calls = proxy.calls(session.id)
    assert len(calls) == 3
    lines = (record_dir / "calls.jsonl").read_bytes().splitlines(keepends=True)
    for call, line in zip(calls, lines, strict=True):
        assert json_line(call) == line == call.model_dump_json().encode() + b"\n"
        assert ModelCall.model_validate_json(line) == call
