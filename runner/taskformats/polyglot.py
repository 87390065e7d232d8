"""aider-polyglot (Exercism) exercises as tasks: `<lang>/exercises/practice/<name>/`.

Per exercise (files named by `.meta/config.json`):
- the prompt is `.docs/instructions.md` (+ `instructions.append.md`) and the stub files'
  names, as aider's benchmark words it;
- the workspace is the exercise folder without `.docs/`, `.meta/` and the test files; the
  test files (Rust: all of `tests/`) are hidden and copied in after the agent, or, with
  `visible_tests`, also left in the workspace read-only (aider's own harness);
- every skipped case is enabled: JavaScript `xtest`/`xit`/`test.skip` become `test`/`it`
  in the hidden copy, Rust runs `--include-ignored`, C++ builds with EXERCISM_RUN_ALL_TESTS;
- the reference solution (`.meta/example.*`, `proof.ci.js`, `.meta/src/reference/java/`)
  mapped onto the solution files is the oracle, and the solution files are
  `expected_changes`.
Id: `aider-polyglot/<lang>-<name>`. Laid out in our own format under the cache (cache.py).
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

from runner.errors import TaskSpecError
from runner.taskformats import cache
from runner.taskformats.languages import LANGUAGES, LanguageSpec
from runner.tasks import Task, TestSpec

CATEGORY = "aider-polyglot"
#: The category in aider's own mode (tests visible): its scores are not comparable.
VISIBLE_CATEGORY = "aider-polyglot-visible"
#: Exercise folders that are documentation or tooling, never given to the agent.
META_DIRS = (".docs", ".meta", ".approaches", ".articles")
#: Build output an exercise checkout may carry (never part of a task).
JUNK = ("node_modules", "target", "build", ".gradle", "__pycache__", ".pytest_cache")
#: Python cases skipped unconditionally (a `skipIf` keeps its condition).
_SKIPPED_PY = re.compile(r"^(\s*)@(?:unittest\.skip|pytest\.mark\.skip)\b(?!If|if).*$", re.M)
#: Java cases disabled by annotation (`@Disabled("Remove to run test")`).
_SKIPPED_JAVA = re.compile(r"^(\s*)@Disabled\b.*$", re.M)
#: What a Java exercise's build.gradle may ask for that the polyglot-java image provides.
#: (org.json is not: Debian has none, and Android's look-alike throws checked exceptions.)
JAVA_PROVIDED = ("org.junit", "org.assertj:assertj-core")
#: JavaScript cases skipped by name: `xtest(`, `xit(`, `xdescribe(`, `test.skip(`, ...
_SKIPPED_JS = re.compile(r"\b(?:x(test|it|describe)|(test|it|describe)\.skip)\s*\(")


def exercise_dirs(path: Path) -> list[Path]:
    """Exercise folders under a checkout root, a language folder, or one exercise."""
    path = Path(path)
    if (path / ".meta" / "config.json").is_file():
        return [path.resolve()]
    for pattern in ("*", "practice/*", "exercises/practice/*", "*/exercises/practice/*"):
        found = sorted(p for p in path.glob(pattern) if (p / ".meta" / "config.json").is_file())
        if found:
            return [p.resolve() for p in found]
    return []


def language_of(exercise: Path) -> str:
    """The language: the `<lang>` folder above `exercises/practice/`, else the build files."""
    parts = exercise.parts
    if len(parts) >= 4 and parts[-3:-1] == ("exercises", "practice") and parts[-4] in LANGUAGES:
        return parts[-4]
    for lang, marker in (
        ("go", "go.mod"),
        ("rust", "Cargo.toml"),
        ("javascript", "package.json"),
        ("cpp", "CMakeLists.txt"),
        ("java", "build.gradle"),
    ):
        if (exercise / marker).is_file():
            return lang
    if any(exercise.glob("*.py")):
        return "python"
    raise TaskSpecError(exercise, "<folder>", "cannot tell the exercise's language")


def load(path: Path, *, visible_tests: bool = False) -> list[Task]:
    return [load_exercise(ex, visible_tests=visible_tests) for ex in exercise_dirs(path)]


def _config(exercise: Path) -> dict:
    path = exercise / ".meta" / "config.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise TaskSpecError(path, "<json>", f"not readable JSON: {exc}") from exc
    files = data.get("files")
    if not isinstance(files, dict) or not files.get("solution") or not files.get("test"):
        raise TaskSpecError(path, "files", "needs 'solution' and 'test' file lists")
    return data


def _all_files(exercise: Path) -> list[Path]:
    return sorted(
        p
        for p in exercise.rglob("*")
        if p.is_file() and not any(part in JUNK for part in p.relative_to(exercise).parts)
    )


def hidden_files(exercise: Path, lang: str, files: dict) -> list[str]:
    """The test files: config's `test` list, plus all of `tests/` for Rust (its
    compile-fail cases and extra test crates live there)."""
    hidden = set(files["test"])
    if lang == "rust" and (exercise / "tests").is_dir():
        hidden |= {
            p.relative_to(exercise).as_posix()
            for p in (exercise / "tests").rglob("*")
            if p.is_file()
        }
    return sorted(hidden)


def oracle_files(exercise: Path, files: dict) -> dict[str, str]:
    """solution file -> reference file (both relative to the exercise)."""
    solution = list(files["solution"])
    examples = list(files.get("example") or files.get("exemplar") or [])
    if (exercise / ".meta" / "Cargo-example.toml").is_file():
        examples.append(".meta/Cargo-example.toml")
    out: dict[str, str] = {}
    for example in examples:
        name = Path(example).name
        if name == "Cargo-example.toml":
            target = ["Cargo.toml"]
        else:
            target = [s for s in solution if Path(s).name == name]
            target = target or [s for s in solution if Path(s).suffix == Path(example).suffix]
        if len(target) != 1:
            raise TaskSpecError(
                exercise / ".meta" / "config.json",
                "files.example",
                f"cannot tell which solution file {example} replaces (candidates: {target})",
            )
        out[target[0]] = example
    if not out:
        raise TaskSpecError(exercise / ".meta" / "config.json", "files.example", "no reference")
    return out


def prompt_for(exercise: Path, stubs: list[str], hidden: list[str], visible: bool) -> str:
    docs = exercise / ".docs"
    parts = [
        (docs / name).read_text(encoding="utf-8").strip()
        for name in ("instructions.md", "instructions.append.md")
        if (docs / name).is_file()
    ]
    tests = (
        f"The tests are in {', '.join(hidden)}, read-only: do not change them."
        if visible
        else "The tests are not in the workspace: they are run after you finish."
    )
    return "\n\n".join(parts) + (
        "\n\n####\n\n"
        f"Use the above instructions to modify the supplied files: {' '.join(stubs)}\n"
        "Don't change the names of existing functions or classes, as they may be referenced "
        "from other code like unit tests, etc.\n"
        "Only use standard libraries, don't suggest installing any packages.\n"
        f"{tests}\n"
    )


def load_exercise(exercise: Path, *, visible_tests: bool = False) -> Task:
    exercise = Path(exercise).resolve()
    lang = language_of(exercise)
    spec = LANGUAGES[lang]
    data = _config(exercise)
    files = data["files"]
    hidden = hidden_files(exercise, lang, files)
    oracle = oracle_files(exercise, files)
    every = _all_files(exercise)
    digest = cache.fingerprint(exercise, every, lang, str(visible_tests))
    name = f"{lang}-{exercise.name}"
    task_id = f"{VISIBLE_CATEGORY if visible_tests else CATEGORY}/{name}"
    root = cache.materialize(
        CATEGORY,
        name,
        digest,
        lambda tmp: _lay_out(exercise, tmp, every, hidden, oracle, spec, visible_tests),
    )
    stubs = [s for s in files["solution"] if s != "Cargo.toml"] + (
        ["Cargo.toml"] if "Cargo.toml" in files["solution"] else []
    )
    blurb = " ".join(str(data.get("blurb") or exercise.name).split())
    return Task(
        id=task_id,
        title=blurb,
        prompt=prompt_for(exercise, stubs, hidden, visible_tests),
        language=lang,
        image=spec.image,
        timeout_s=spec.timeout_s,
        test=TestSpec(
            command=spec.command(exercise.name),
            report=spec.report,
            report_path=spec.report_path,
            expected_tests=cache.recorded_count(task_id, digest),
        ),
        expected_changes=sorted(files["solution"]),
        protected_paths=hidden if visible_tests else [],
        tags=["aider-polyglot", lang] + (["tests-visible"] if visible_tests else []),
        root=root,
        source_format=CATEGORY,
        source_path=exercise,
        fingerprint=digest,
        unsupported=spec.unsupported or _java_deps_missing(exercise, lang),
        oracle_unavailable=_crates_needed(exercise, oracle),
    )


def _java_deps_missing(exercise: Path, lang: str) -> str | None:
    """A Java exercise whose build.gradle wants a library the image lacks cannot run."""
    gradle = exercise / "build.gradle"
    if lang != "java" or not gradle.is_file():
        return None
    wanted = re.findall(
        r"""(?:implementation|testImplementation|compile|testCompile)\s*\(?\s*(?:platform\()?["']([^"':]+:[^"':]+)""",
        gradle.read_text(encoding="utf-8"),
    )
    missing = [w for w in wanted if not w.startswith(JAVA_PROVIDED)]
    if missing:
        return (
            f"its build.gradle needs {', '.join(missing)} from Maven Central, which is not "
            "reachable here, and Debian does not package it (the polyglot-java image has JDK 17, "
            "JUnit 5 and AssertJ)"
        )
    return None


def _crates_needed(exercise: Path, oracle: dict[str, str]) -> str | None:
    """A Rust reference solution that depends on crates cannot build here: crates.io is
    not reachable (and the image vendors none). Agents can still solve the exercise
    without crates, so only the oracle is unavailable."""
    import tomllib

    source = oracle.get("Cargo.toml")
    if source is None:
        return None
    deps = tomllib.loads((exercise / source).read_text(encoding="utf-8")).get("dependencies", {})
    if not deps:
        return None
    wanted = ", ".join(
        f"{k} {v if isinstance(v, str) else v.get('version', '')}".strip() for k, v in deps.items()
    )
    return f"the reference solution needs crates from crates.io ({wanted}), not reachable here"


def _lay_out(
    exercise: Path,
    dest: Path,
    every: list[Path],
    hidden: list[str],
    oracle: dict[str, str],
    spec: LanguageSpec,
    visible: bool,
) -> None:
    """workspace/ (stubs and build files), tests/ (hidden, skips enabled), solution/."""
    for path in every:
        rel = path.relative_to(exercise).as_posix()
        if rel.split("/")[0] in META_DIRS:
            continue
        if rel in hidden:
            _copy(path, dest / "tests" / rel, enable_skipped=spec.name)
            if not visible:
                continue
            shown = dest / "workspace" / rel
            _copy(path, shown, enable_skipped=spec.name)
            shown.chmod(0o444)
            continue
        _copy(path, dest / "workspace" / rel)
    for target, source in oracle.items():
        _copy(exercise / source, dest / "solution" / target)


def _copy(src: Path, dst: Path, *, enable_skipped: str | None = None) -> None:
    """Copy a file; for a test file of `enable_skipped`'s language, with its skipped cases
    turned into ordinary ones (the decorator line becomes a comment: lines keep numbers)."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    if enable_skipped == "javascript":
        text = _SKIPPED_JS.sub(lambda m: f"{m.group(1) or m.group(2)}(", src.read_text("utf-8"))
        dst.write_text(text, encoding="utf-8")
    elif enable_skipped == "java" and src.suffix == ".java":
        text = _SKIPPED_JAVA.sub(r"\1// (@Disabled removed by cab)", src.read_text("utf-8"))
        dst.write_text(text, encoding="utf-8")
    elif enable_skipped == "python" and src.suffix == ".py":
        text = _SKIPPED_PY.sub(r"\1# (skip enabled by cab)", src.read_text("utf-8"))
        dst.write_text(text, encoding="utf-8")
    else:
        shutil.copyfile(src, dst)
    dst.chmod(0o755 if src.stat().st_mode & 0o111 else 0o644)
