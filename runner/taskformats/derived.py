"""The image an agent runs in for a task: its CLI's image, or the task's own image with
the CLI layered on top (built once per task image x CLI, then reused by tag).

Our own tasks run on the toolbox, which every CLI image is built FROM, so the CLI's image
is used as is. A task with an image of its own (an aider-polyglot toolchain image, a
Harbor environment) keeps its tools and files: the CLI's Dockerfile is rebuilt FROM the
task's image instead of the toolbox, and the reference agent (one stdlib Python file)
only needs python3 there. Layering needs apt-get (Debian/Ubuntu bases); another base is
refused with a message that says so. `oracle` and `nop` run in the task's image itself.
"""

from __future__ import annotations

import re
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

from runner import images
from runner.tasks import Task

_NEEDS_APT = (
    "command -v apt-get >/dev/null || {{ echo 'cab: {base} is not Debian/Ubuntu-based "
    "(no apt-get): the agent CLI cannot be layered on it' >&2; exit 1; }}"
)


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9_.-]+", "-", text.lower()).strip("-.")


def derived_tag(task_image: str, cli_tag: str) -> str:
    cli_repo, _, cli_version = cli_tag.rpartition(":")
    name = _slug(cli_repo.rsplit("/", 1)[-1])
    return f"cab-derived/{name}:{_slug(cli_version)}-on-{_slug(task_image)}"[:128]


def agent_image(
    task: Task, adapter_image: str, *, emit: Callable[[str], None] | None = None
) -> str:
    """The tag the agent runs in for this task, built when missing."""
    task_tag = images.resolve(task.image)
    wanted = images.resolve(adapter_image)
    toolbox = images.resolve("toolbox")
    if wanted == task_tag or task_tag == toolbox:
        return wanted
    tag = derived_tag(task_tag, wanted)
    if images.digest(tag) is None:
        build_derived(task_tag, adapter_image, tag, emit=emit)
    return tag


def build_derived(
    task_tag: str, adapter_image: str, tag: str, *, emit: Callable[[str], None] | None = None
) -> None:
    """Build `tag`: the CLI's Dockerfile FROM the task's image (the toolbox's own CLI,
    the reference agent, needs only python3)."""
    specs = images.load_config()
    name = adapter_image if adapter_image in specs else None
    with tempfile.TemporaryDirectory(prefix="cab-derived-") as tmp:
        context = Path(tmp) / "context"
        if name is None or name == "toolbox":
            context.mkdir()
            (context / "Dockerfile").write_text(_python_layer(task_tag))
        else:
            shutil.copytree(specs[name].context(), context)
            dockerfile = context / "Dockerfile"
            dockerfile.write_text(_rebase(dockerfile.read_text(), task_tag))
        spec = images.ImageSpec(tag=tag, dockerfile=str(context))
        if emit is None:
            images.build(["derived"], specs={"derived": spec})
        else:
            images.build(["derived"], specs={"derived": spec}, emit=emit)


def _python_layer(base: str) -> str:
    need_apt = _NEEDS_APT.format(base=base)
    return (
        f"FROM {base}\nUSER root\n"  # a task image may end as another user: apt needs root
        "RUN command -v python3 >/dev/null || { " + need_apt + "; apt-get update -q "
        "&& DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "
        "python3 && rm -rf /var/lib/apt/lists/*; }\n"
        "LABEL cab.derived=1\n"
    )


def _rebase(text: str, base: str) -> str:
    """The CLI's Dockerfile with its toolbox FROM replaced by the task's image, and a
    first step that refuses a base without apt-get."""
    toolbox = images.resolve("toolbox")
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if re.match(rf"^\s*FROM\s+{re.escape(toolbox)}\b", line, flags=re.I):
            # the CLI's steps run as root, as on the toolbox (a task image may end as
            # another USER); the agent's container runs as its own uid anyway
            lines[i] = f"FROM {base}\nUSER root\nRUN {_NEEDS_APT.format(base=base)}"
    return "\n".join(lines) + "\nLABEL cab.derived=1\n"


def build_for_tasks(
    tasks: list[Task], tuis: list[str], *, emit: Callable[[str], None] | None = None
) -> dict[str, str]:
    """Every image these tasks need, built where missing: each task's own image (a Harbor
    environment, or a configured image such as `polyglot`), and for each agent in `tuis`
    the image it runs in for each task image. Returns tag -> what it is for."""
    from runner.adapters import get_adapter
    from runner.taskformats.harbor_run import ensure_image

    built: dict[str, str] = {}
    seen: set[str] = set()
    for task in tasks:
        if task.unsupported or task.image in seen:
            continue
        seen.add(task.image)
        if task.harbor is not None:
            ensure_image(task, emit=emit)
        else:
            images.ensure(task.image)
        built[images.resolve(task.image)] = f"task image of {task.id}"
        for tui in tuis:
            adapter = get_adapter(tui)
            if adapter.image in images.load_config():
                images.ensure(adapter.image)
            if tui in ("oracle", "nop"):
                continue
            built[agent_image(task, adapter.image, emit=emit)] = f"{tui} on {task.image}"
    return built
