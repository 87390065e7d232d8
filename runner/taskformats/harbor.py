"""Harbor task directories as tasks (docs/tasks.md, ../shared/reference/formats.md):

    <task>/instruction.md  task.toml  environment/Dockerfile  tests/test.sh  solution/solve.sh

- the prompt is instruction.md as is; limits come from task.toml ([agent].timeout_sec,
  [verifier].timeout_sec, [environment] cpus, memory_mb, allow_internet or network_mode,
  workdir, env);
- the task's image is built from environment/ (harbor_images.py) or is
  `[environment].docker_image`, which must be present locally; the agent works in the
  image's WORKDIR, whose files are the workspace (taken out of the image once built);
- the verifier is tests/test.sh with tests/ at /tests, run after the agent; its reward
  (/logs/verifier/reward.txt or reward.json) is the result: 1 passes, a fraction is
  partial credit (report `harbor-reward`);
- the oracle is solution/solve.sh, run in the task's environment with solution/ at
  /solution. docker-compose environments and multi-step tasks are refused clearly.
Id: `<dataset>/<task folder>`, the dataset being the source folder's name.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

from runner.errors import TaskSpecError
from runner.taskformats import cache
from runner.tasks import HarborRun, Task, TestSpec

#: Where the verifier writes its reward, and where tests/ and solution/ are mounted.
LOGS_DIR = "/logs/verifier"
TESTS_DIR = "/tests"
DEFAULT_WORKDIR = "/app"


def _no_env(value: object) -> object:
    """`env = []` (some generators write an empty table as an empty array) is no env."""
    return {} if value == [] else value


Env = Annotated[dict[str, str], BeforeValidator(_no_env)]
NetworkMode = Literal["public", "no-network", "allowlist", "none", "bridge", "host"]


class _Env(BaseModel):
    model_config = ConfigDict(extra="allow")

    build_timeout_sec: float = 600
    cpus: float = Field(1, gt=0)
    memory_mb: int = Field(2048, gt=0)
    storage_mb: int | None = None
    gpus: int = 0
    allow_internet: bool = True
    #: the newer spelling: "public" (the internet), "no-network", or "allowlist" (some
    #: hosts, which cannot be enforced here: run with no network, the strict reading);
    #: Docker's own words are read too ("none"; "bridge" and "host" reach the internet)
    network_mode: NetworkMode | None = None
    docker_image: str | None = None
    env: Env = Field(default_factory=dict)

    @property
    def internet(self) -> bool:
        """The task may use the internet: both spellings must allow it (a conflict is read
        the strict way)."""
        return self.allow_internet and self.network_mode in (None, "public", "bridge", "host")


class _Timeout(BaseModel):
    model_config = ConfigDict(extra="allow")

    timeout_sec: float = Field(600, gt=0)
    env: Env = Field(default_factory=dict)


class HarborSpec(BaseModel):
    """The parts of task.toml we read; other tables and keys are kept and ignored."""

    model_config = ConfigDict(extra="allow")

    version: str | None = None
    schema_version: str | None = None
    task: dict = Field(default_factory=dict)
    metadata: dict = Field(default_factory=dict)
    agent: _Timeout = Field(default_factory=_Timeout)
    verifier: _Timeout = Field(default_factory=_Timeout)
    environment: _Env = Field(default_factory=_Env)
    solution: dict = Field(default_factory=dict)


def _is_task(path: Path) -> bool:
    return (path / "task.toml").is_file() and (path / "instruction.md").is_file()


def task_dirs(path: Path) -> list[Path]:
    """One Harbor task, or the tasks of a dataset folder."""
    path = Path(path)
    if _is_task(path):
        return [path.resolve()]
    if not path.is_dir():
        return []
    return sorted(p.resolve() for p in path.iterdir() if p.is_dir() and _is_task(p))


def is_harbor_dataset(path: Path) -> bool:
    return bool(task_dirs(path))


def load(path: Path) -> list[Task]:
    path = Path(path).resolve()
    dataset = path.parent.name if _is_task(path) else path.name
    return [load_task(d, dataset) for d in task_dirs(path)]


def read_spec(task_dir: Path) -> HarborSpec:
    spec_path = task_dir / "task.toml"
    try:
        data = tomllib.loads(spec_path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise TaskSpecError(spec_path, "<toml>", f"not valid TOML: {exc}") from exc
    try:
        return HarborSpec.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        raise TaskSpecError(spec_path, ".".join(map(str, err["loc"])), err["msg"]) from exc


def unsupported_reason(task_dir: Path, spec: HarborSpec) -> str | None:
    """Why we cannot run this task, or None."""
    env = task_dir / "environment"
    if (task_dir / "steps").is_dir():
        return "multi-step Harbor tasks (steps/) are not supported"
    if spec.environment.docker_image:
        return None
    if any(env.glob("docker-compose*.y*ml")) or any(env.glob("compose*.y*ml")):
        return "docker-compose environments are not supported (one Dockerfile only)"
    if not (env / "Dockerfile").is_file():
        return "environment/Dockerfile is missing (and no [environment].docker_image)"
    if spec.environment.gpus:
        return "tasks that need GPUs are not supported"
    return None


def task_workdir(task_dir: Path, spec: HarborSpec) -> str:
    """Where the agent works: `[environment].workdir` when task.toml names an absolute
    path (Terminal-Bench 2.x tasks do), else the Dockerfile's last WORKDIR, else /app."""
    declared = (spec.environment.model_extra or {}).get("workdir")
    if isinstance(declared, str) and declared.startswith("/"):
        return declared.rstrip("/") or "/"
    return dockerfile_workdir(task_dir)


def dockerfile_workdir(task_dir: Path) -> str:
    """The last WORKDIR of environment/Dockerfile: where the agent works."""
    path = task_dir / "environment" / "Dockerfile"
    if not path.is_file():
        return DEFAULT_WORKDIR
    found = re.findall(r"^\s*WORKDIR\s+(\S+)", path.read_text(encoding="utf-8"), flags=re.M | re.I)
    return found[-1] if found and found[-1].startswith("/") else DEFAULT_WORKDIR


def load_task(task_dir: Path, dataset: str) -> Task:
    spec = read_spec(task_dir)
    files = sorted(p for p in task_dir.rglob("*") if p.is_file())
    digest = cache.fingerprint(task_dir, files, dataset)
    name = task_dir.name
    image = spec.environment.docker_image or f"cab-harbor/{_slug(dataset)}-{_slug(name)}:{digest}"
    root = cache.materialize(
        "harbor", f"{_slug(dataset)}-{name}", digest, lambda d: _lay_out(task_dir, d)
    )
    prompt = (task_dir / "instruction.md").read_text(encoding="utf-8")
    title = str(spec.task.get("description") or "").strip().splitlines()
    head = next((ln.strip("# ").strip() for ln in prompt.splitlines() if ln.strip()), name)
    return Task(
        id=f"{dataset}/{name}",
        title=(title[0] if title else head)[:200] or name,
        prompt=prompt,
        language="shell",
        image=image,
        timeout_s=max(1, int(spec.agent.timeout_sec)),
        # the agent's container limits and network opt-in (docs/isolation.md)
        cpus=spec.environment.cpus,
        memory_mb=max(64, spec.environment.memory_mb),
        allow_internet=spec.environment.internet,
        test=TestSpec(
            command=f"bash {TESTS_DIR}/test.sh",
            report="harbor-reward",
            report_path=None,
            expected_tests=1,
        ),
        expected_changes=["*"],
        tags=["harbor", *map(str, spec.metadata.get("tags", []) or [])],
        root=root,
        source_format="harbor",
        source_path=task_dir,
        fingerprint=digest,
        unsupported=unsupported_reason(task_dir, spec),
        harbor=HarborRun(
            workdir=task_workdir(task_dir, spec),
            verifier_timeout_s=spec.verifier.timeout_sec,
            verifier_env=spec.verifier.env,
            agent_env=spec.environment.env,
            solution_env=dict(spec.solution.get("env", {}) or {}),
            cpus=spec.environment.cpus,
            memory_mb=spec.environment.memory_mb,
            allow_internet=spec.environment.internet,
            prebuilt=spec.environment.docker_image is not None,
            context=task_dir / "environment",
        ),
    )


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9._-]+", "-", text.lower()).strip("-.") or "task"


def _lay_out(task_dir: Path, dest: Path) -> None:
    """tests/ and solution/ as they are; workspace/ is filled from the built image."""
    import shutil

    for sub in ("tests", "solution"):
        if (task_dir / sub).is_dir():
            shutil.copytree(task_dir / sub, dest / sub)
    (dest / "workspace").mkdir(parents=True, exist_ok=True)
