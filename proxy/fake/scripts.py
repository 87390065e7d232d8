"""Scripted models: `scripted/<category>/<name>` replays <scripts_dir>/<category>/<name>.toml.

The turn to play is the number of assistant turns already in the request, so the fake
keeps no state between calls. Past the last turn the reply is "done".
"""

from __future__ import annotations

import json
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

_NAME_OK = re.compile(r"^[A-Za-z0-9_.-]+$")


@dataclass(frozen=True)
class Turn:
    content: str | None = None
    #: (name, arguments as a JSON string)
    tool_calls: list[tuple[str, str]] = field(default_factory=list)

    @property
    def finish_reason(self) -> str:
        return "tool_calls" if self.tool_calls else "stop"


DONE = Turn(content="done")


class ScriptNotFound(LookupError):
    pass


class ScriptError(ValueError):
    """A script file is broken: the message names the file and the field."""


def script_path(scripts_dir: Path, model: str) -> Path:
    """`scripted/<category>/<name>` -> <scripts>/<category>/<name>.toml; deeper names
    (`scripted/clis/<tui>/<category>/<name>`, an agent CLI's own script) map the same way."""
    parts = model.split("/")
    if not 3 <= len(parts) <= 5 or not all(
        _NAME_OK.match(p) and p not in (".", "..") for p in parts[1:]
    ):
        raise ScriptNotFound(f"model {model!r}: use scripted/<category>/<name>")
    path = scripts_dir.joinpath(*parts[1:-1], f"{parts[-1]}.toml")
    if not path.is_file():
        raise ScriptNotFound(f"model {model!r}: no script {path}")
    return path


def load_turns(path: Path) -> list[Turn]:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ScriptError(f"{path}: {exc}") from None
    turns = data.get("turns", [])
    if not isinstance(turns, list):
        raise ScriptError(f"{path}: field 'turns' must be an array of tables ([[turns]])")
    return [_turn(path, i, t) for i, t in enumerate(turns)]


def _turn(path: Path, i: int, t: Any) -> Turn:
    where = f"{path}: field 'turns[{i}]"
    if not isinstance(t, dict):
        raise ScriptError(f"{where}' must be a table")
    content = t.get("content")
    if content is not None and not isinstance(content, str):
        raise ScriptError(f"{where}.content' must be a string")
    calls = []
    for j, tc in enumerate(t.get("tool_calls", [])):
        if not isinstance(tc, dict) or not isinstance(tc.get("name"), str):
            raise ScriptError(f"{where}.tool_calls[{j}].name' must be a string")
        args = tc.get("arguments", {})
        calls.append((tc["name"], args if isinstance(args, str) else json.dumps(args)))
    return Turn(content=content, tool_calls=calls)


def chat_turn_index(messages: list[Any]) -> int:
    """Assistant messages already in the conversation."""
    return sum(1 for m in messages if isinstance(m, dict) and m.get("role") == "assistant")


def responses_turn_index(input_: Any) -> int:
    """Runs of consecutive model-produced items in `input` (assistant messages,
    function_call and reasoning items); one run is one turn, as one chat assistant
    message carries both text and tool calls. A string input is turn 0."""
    if not isinstance(input_, list):
        return 0
    turns, in_run = 0, False
    for item in input_:
        produced = isinstance(item, dict) and (
            item.get("role") == "assistant" or item.get("type") in ("function_call", "reasoning")
        )
        if produced and not in_run:
            turns += 1
        in_run = produced
    return turns


def scripted_turn(scripts_dir: Path, model: str, index: int) -> Turn:
    turns = load_turns(script_path(scripts_dir, model))
    return turns[index] if index < len(turns) else DONE
