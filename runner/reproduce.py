"""The cell page's "Run it yourself": commands a reader runs to repeat the cell.

`docker_run` is generated from the same RunSpec the sandbox ran (image by id, mounts,
env, network, limits, command), so it follows whatever the pipeline changes. Run from any
empty folder with CAB_REPO set to a checkout: it copies the task's workspace to
./workspace, recreates the files the adapter wrote before the agent started (the task
prompt and the agent's config) in ./cab-home and ./cab-out, and runs the agent, whose logs
land in ./cab-out. What the agent may write lives in that folder; what it only reads
(read-only mounts from the checkout) comes from $CAB_REPO.

The proxy's URL, the session key and the model name are replaced by $YOUR_ENDPOINT,
$YOUR_KEY and $YOUR_MODEL_ID wherever they appear, so no key of the run is ever shown.
An isolated cell (the default) is reproduced isolated: `cab proxy` holds $YOUR_KEY and
serves a Unix socket, the sidecar serves it on the agent's loopback, and the agent keeps
its http://127.0.0.1:4141/v1 with a `cab-` key ($CAB_KEY), never the reader's.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

from runner import images
from runner.adapters import Adapter, AdapterContext
from runner.models import ModelSpec
from runner.record import Reproduce
from runner.sandbox.base import RunResult, RunSpec
from runner.sandbox.docker import cli_flags
from runner.sandbox.isolation import REPRODUCE_KEY_VAR, reproduce_setup
from runner.tasks import Task

REPO_ROOT = Path(__file__).resolve().parent.parent
#: Files the adapter leaves for the agent bigger than this are not inlined (the command
#: then says so); config files and prompts are far smaller.
INLINE_LIMIT = 256 * 1024


class Placeholders:
    """Swaps the run's endpoint, key and model for the reader's, in shell words."""

    def __init__(self, ctx: AdapterContext, isolated: bool = False) -> None:
        names = {ctx.base_url: "YOUR_ENDPOINT", ctx.api_key: "YOUR_KEY", ctx.model: "YOUR_MODEL_ID"}
        if isolated:  # the agent keeps its loopback URL, and gets a cab- key, never yours
            names = {ctx.api_key: REPRODUCE_KEY_VAR, ctx.model: "YOUR_MODEL_ID"}
        self.names = {value: name for value, name in names.items() if value}
        alternatives = "|".join(re.escape(v) for v in sorted(self.names, key=len, reverse=True))
        # a whole value, not a piece of a longer name or path component
        self.pattern = re.compile(rf"(?<![\w.\-])(?:{alternatives or '(?!)'})(?![\w.\-])")

    def word(self, value: str) -> str:
        """`value` as one shell word; placeholders expand, nothing else does."""
        if not self.pattern.search(value):
            return shlex.quote(value)
        out, last = [], 0
        for match in self.pattern.finditer(value):
            out.append(_dq_escape(value[last : match.start()]))
            out.append("${" + self.names[match.group()] + "}")
            last = match.end()
        out.append(_dq_escape(value[last:]))
        return '"' + "".join(out) + '"'

    def heredoc(self, path: str, text: str) -> list[str]:
        """Shell lines that write `text` to `path` (placeholders expanded, if any)."""
        tag = "CAB_EOF"
        while tag in text:
            tag += "_"
        end = "" if text.endswith("\n") else "\n"
        if not self.pattern.search(text):
            return [f"cat > {shlex.quote(path)} <<'{tag}'", text + end + tag]
        body = self.pattern.sub(lambda m: "${" + self.names[m.group()] + "}", _here_escape(text))
        return [f"cat > {shlex.quote(path)} <<{tag}", body + end + tag]


def _dq_escape(text: str) -> str:
    """Escape for inside double quotes."""
    return re.sub(r'([\\"$`])', r"\\\1", text)


def _here_escape(text: str) -> str:
    """Escape for an unquoted here-document (no expansion but our placeholders)."""
    return re.sub(r"([\\$`])", r"\\\1", text)


def host_dir(source: Path, target: str, read_only: bool) -> str:
    """Where a mount comes from on the reader's machine: read-only parts of the checkout
    from $CAB_REPO, everything else a folder `cab-<name>` next to ./workspace."""
    if read_only:
        try:
            return "$CAB_REPO/" + source.resolve().relative_to(REPO_ROOT).as_posix()
        except ValueError:
            pass
    return "$PWD/cab-" + Path(target).name


def prepared_files(spec: RunSpec, limit: int = INLINE_LIMIT) -> dict[str, str]:
    """Text files already in the writable mounts before the agent runs (the prompt, the
    agent's config), by path relative to the reader's folder. Call it before the run."""
    files: dict[str, str] = {}
    for mount in spec.mounts:
        if mount.read_only or not Path(mount.source).is_dir():
            continue
        local = host_dir(mount.source, mount.target, False).removeprefix("$PWD/")
        for path in sorted(Path(mount.source).rglob("*")):
            if path.is_file() and not path.is_symlink() and path.stat().st_size <= limit:
                try:
                    text = path.read_text(encoding="utf-8")
                except UnicodeDecodeError:
                    continue
                files[f"{local}/{path.relative_to(mount.source).as_posix()}"] = text
    return files


def docker_run(
    task: Task,
    spec: RunSpec,
    ctx: AdapterContext,
    result: RunResult | None,
    files: dict[str, str],
) -> str:
    """The shell lines that repeat the agent's run in Docker (see the module docstring)."""
    ph = Placeholders(ctx, isolated=spec.network_mode == "isolated")
    image = (result.image_digest if result and result.image_digest else None) or spec.image
    local_dirs = sorted({host_dir(m.source, m.target, m.read_only) for m in spec.mounts})
    made = [d.removeprefix("$PWD/") for d in local_dirs if d.startswith("$PWD/")]
    lines = [
        f"# image {spec.image}" + (f" (id {image})" if image != spec.image else ""),
        "# build it with: cab images build; CAB_REPO is your checkout of CodingAgentBench.",
        "# Run in an empty folder: ./workspace gets the task (the agent changes it),",
        "# ./cab-home holds the task prompt and the agent's config, ./cab-out gets the logs.",
        "# Set YOUR_ENDPOINT (an OpenAI-compatible base URL ending in /v1), YOUR_KEY and",
        "# YOUR_MODEL_ID first.",
        f'cp -r "$CAB_REPO/tasks/{task.id}/workspace" ./workspace',
    ]
    if made:
        lines.append("mkdir -p " + " ".join(shlex.quote(d) for d in made))
    for rel in sorted(files):
        parent = str(Path(rel).parent)
        if parent not in made:
            lines.append(f"mkdir -p {shlex.quote(parent)}")
        lines += ph.heredoc(rel, files[rel])
    lines += reproduce_setup(spec, images.resolve("sidecar"))
    lines += cli_flags(spec, lambda m: host_dir(m.source, m.target, m.read_only), ph.word)
    lines.append(f"  {image} \\")
    lines.append("  " + " ".join(ph.word(a) for a in spec.command))
    return "\n".join(lines)


def reproduce(
    adapter: Adapter,
    model: ModelSpec,
    task: Task,
    spec: RunSpec | None,
    ctx: AdapterContext | None,
    result: RunResult | None,
    files: dict[str, str] | None = None,
) -> Reproduce:
    """The "Run it yourself" commands: the exact image (by id) and agent command, with the
    endpoint, key and model left for the reader to fill in."""
    run_cell = (
        f"cab run-cell --tui {shlex.quote(adapter.tui)} --model {shlex.quote(model.name)} "
        f"--task {shlex.quote(task.id)}"
    )
    if not model.embedded:
        run_cell += ' --endpoint "$YOUR_ENDPOINT" --key-env YOUR_KEY_ENV'
    byo = adapter.byo_snippet(model.name, task.prompt)
    if spec is None or ctx is None:
        return Reproduce(run_cell=run_cell, byo=byo)
    text = docker_run(task, spec, ctx, result, files or {})
    return Reproduce(docker_run=text, run_cell=run_cell, byo=byo)
