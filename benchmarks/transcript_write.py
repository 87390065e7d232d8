"""CPU the transcript writer takes per call on an agent-like conversation.

    python benchmarks/transcript_write.py [--calls 300] [--tools 50]

Writes `--calls` non-streamed calls through one `TranscriptWriter` (in-process, a
temporary folder), each resending the whole history so far (a system prompt, then one
~600-byte tool output and one reply per turn) and `--tools` tool schemas of ~400 bytes,
as agents do every turn. Prints the process CPU per call and the bytes stored against
the bytes sent. The proxy makes this write on its event loop when a call ends, so it is
CPU the proxy spends per call with transcripts on (docs/transcripts.md).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from proxy.capture import CapturedCall, TranscriptWriter

REPLY = (
    b'{"choices":[{"message":{"role":"assistant","content":"ok"},"finish_reason":"stop"}],'
    b'"usage":{"prompt_tokens":1,"completion_tokens":1}}'
)


def tool(i: int) -> dict:
    params = {"type": "object", "properties": {"path": {"type": "string"}}}
    return {"type": "function", "function": {"name": f"tool_{i}", "description": "d" * 300, "parameters": params}}  # fmt: skip


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--calls", type=int, default=300)
    ap.add_argument("--tools", type=int, default=50)
    args = ap.parse_args()
    tools = [tool(i) for i in range(args.tools)]
    history = [{"role": "system", "content": "You are a coding agent. " * 100}]
    with tempfile.TemporaryDirectory() as tmp:
        writer = TranscriptWriter(Path(tmp))
        started = time.process_time()
        for seq in range(1, args.calls + 1):
            history.append({"role": "user", "content": f"tool output {seq}: " + "x = 1\n" * 100})
            writer.write(
                CapturedCall(
                    seq=seq, request_hash=f"sha256:{seq}", api="chat", stream=False,
                    body={"model": "m", "messages": list(history), "tools": tools}, status=200,
                    content_type="application/json", response=REPLY, response_cut=False,
                    session="bench", usage=None, redact=None,
                )
            )  # fmt: skip
            history.append({"role": "assistant", "content": f"step {seq}"})
        cpu = time.process_time() - started
        writer.close()
    stats = writer.stats
    print(
        f"transcript write: {cpu / args.calls * 1e6:.0f} µs CPU per call over {args.calls} calls"
        f" (history up to {len(history)} messages, {args.tools} tools);"
        f" {stats.stored_bytes / 1e6:.1f} MB stored for {stats.logical_bytes / 1e6:.1f} MB sent"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
