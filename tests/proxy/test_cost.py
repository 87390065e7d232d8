"""The hot path builds records without validation and writes them with orjson: both
must give exactly what the validated model and pydantic's JSON give."""

from __future__ import annotations

import subprocess
import sys

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


def test_settled_heap_is_out_of_the_collectors_sight_and_cycles_are_still_collected():
    """`cab proxy` settles its heap before serving: what is alive then is frozen, the young
    generation is collected less often, and garbage cycles made while serving still go."""
    script = (
        "import gc, weakref\n"
        "from proxy.server import settle_heap, GC_YOUNG_THRESHOLD\n"
        "settle_heap()\n"
        "assert gc.get_freeze_count() > 1000, gc.get_freeze_count()\n"
        "assert gc.get_threshold()[0] == GC_YOUNG_THRESHOLD > 700\n"
        "class Node: pass\n"
        "a, b = Node(), Node(); a.other, b.other = b, a; gone = weakref.ref(a); del a, b\n"
        "kept = [[] for _ in range(GC_YOUNG_THRESHOLD * 2)]  # as serving allocates\n"
        "assert gone() is None, 'a cycle made after settling was never collected'\n"
        "print('ok')\n"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr
