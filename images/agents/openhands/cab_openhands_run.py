"""Run one OpenHands agent (openhands-sdk) headless on /workspace, then exit.

Why a script: the OpenHands app (openhands-ai 1.x) is a web server that starts a runtime
container per conversation; the SDK underneath it runs the same agent in-process with a
local workspace, which is what a sandboxed benchmark cell needs. Tools: terminal, file
editor, task tracker (the default preset without the browser). The LLM comes from
LLM_MODEL / LLM_BASE_URL / LLM_API_KEY (+ LLM_NUM_RETRIES, LLM_RETRY_MIN_WAIT,
LLM_RETRY_MAX_WAIT); events are persisted under --persist (kept as cell artifacts).
Exit code: 0 when the agent finished, 1 when it stopped in error (e.g. out of retries).
"""

import argparse
import os
import sys

from openhands.sdk import LLM, Agent, Conversation, Tool
from openhands.tools.file_editor import FileEditorTool
from openhands.tools.task_tracker import TaskTrackerTool
from openhands.tools.terminal import TerminalTool


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--task-file", required=True)
    p.add_argument("--workspace", default="/workspace")
    p.add_argument("--persist", default="/cab/out/openhands")
    p.add_argument("--max-iterations", type=int, default=60)
    args = p.parse_args()
    llm = LLM(
        usage_id="agent",
        model=os.environ["LLM_MODEL"],
        base_url=os.environ["LLM_BASE_URL"],
        api_key=os.environ["LLM_API_KEY"],
        num_retries=int(os.environ.get("LLM_NUM_RETRIES", "5")),
        retry_min_wait=int(os.environ.get("LLM_RETRY_MIN_WAIT", "8")),
        retry_max_wait=int(os.environ.get("LLM_RETRY_MAX_WAIT", "64")),
    )
    tools = [Tool(name=TerminalTool.name), Tool(name=FileEditorTool.name)]
    tools.append(Tool(name=TaskTrackerTool.name))
    agent = Agent(llm=llm, tools=tools)
    conversation = Conversation(
        agent=agent,
        workspace=args.workspace,
        persistence_dir=args.persist,
        max_iteration_per_run=args.max_iterations,
        visualizer=None,
    )
    with open(args.task_file, encoding="utf-8") as f:
        conversation.send_message(f.read())
    try:
        conversation.run()
    except Exception as exc:  # the SDK raises once retries are exhausted
        print(f"cab-openhands: agent stopped: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    status = str(conversation.state.execution_status)
    print(f"cab-openhands: finished with status {status}", file=sys.stderr)
    return 1 if "error" in status.lower() else 0


if __name__ == "__main__":
    sys.exit(main())
