"""aider-polyglot exercises as tasks: ids, prompt, hidden tests, oracle, expected changes,
skipped cases enabled, id clashes, and the source folder left untouched."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from runner.errors import TaskSpecError, UnknownNameError
from runner.taskformats import detect, load_sources
from runner.taskformats.cache import record_count
from runner.tasks import TASKS_DIR, get_task, select


def test_the_sample_loads_as_44_tasks_in_six_languages(sample):
    tasks = select(None, sample)
    assert len(tasks) == 44
    by_lang = {t.language for t in tasks}
    assert by_lang == {"go", "python", "javascript", "rust", "cpp", "java"}
    assert all(t.id.startswith("aider-polyglot/") for t in tasks)
    assert "aider-polyglot/go-book-store" in {t.id for t in tasks}
    assert detect(sample) == "aider-polyglot"


def test_an_exercise_becomes_a_hidden_test_task(sample):
    t = get_task("aider-polyglot/go-book-store", sample)
    assert t.expected_changes == ["book_store.go"]
    assert t.hidden_paths() == ["book_store_test.go"]
    assert not (t.workspace_dir / "book_store_test.go").exists()
    assert (t.workspace_dir / "cases_test.go").exists()  # editor file: given, not hidden
    assert not (t.workspace_dir / ".meta").exists() and not (t.workspace_dir / ".docs").exists()
    assert "Use the above instructions to modify the supplied files: book_store.go" in t.prompt
    assert (sample / "go/exercises/practice/book-store/.docs/instructions.md").read_text()[
        :40
    ] in t.prompt
    assert "instructions.append" not in t.prompt  # the append file's text, not its name
    oracle = (t.solution_dir / "book_store.go").read_text()
    assert oracle == (sample / "go/exercises/practice/book-store/.meta/example.go").read_text()
    assert t.test.command.startswith("go test -json") and t.test.expected_tests is None


def test_rust_hides_all_of_tests_and_maps_cargo_example(sample):
    t = get_task("aider-polyglot/rust-macros", sample)
    assert "tests/invalid/comma-sep.rs" in t.hidden_paths()
    assert not (t.workspace_dir / "tests").exists()
    assert (t.solution_dir / "src" / "lib.rs").is_file()
    pig = get_task("aider-polyglot/rust-pig-latin", sample)
    assert "regex" in (pig.solution_dir / "Cargo.toml").read_text()
    assert "--include-ignored" in pig.test.command


def test_javascript_xtests_are_enabled_in_the_hidden_copy(sample):
    t = get_task("aider-polyglot/javascript-two-bucket", sample)
    original = (sample / "javascript/exercises/practice/two-bucket/two-bucket.spec.js").read_text()
    hidden = (t.tests_dir / "two-bucket.spec.js").read_text()
    assert "xtest(" in original and "xtest(" not in hidden
    assert hidden.count("test(") == original.count("test(")
    assert t.test.report == "jest-json"


def test_java_runs_without_gradle_and_names_a_library_it_lacks(sample, tmp_path):
    t = get_task("aider-polyglot/java-two-bucket", sample)
    assert t.unsupported is None and t.image == "polyglot-java"
    hidden = (t.tests_dir / "src/test/java/TwoBucketTest.java").read_text()
    assert "@Disabled(" not in hidden and "javac" in t.test.command
    ex = tmp_path / "java/exercises/practice/two-bucket"
    shutil.copytree(sample / "java/exercises/practice/two-bucket", ex)
    for p in ex.rglob("*"):
        p.chmod(0o755 if p.is_dir() else 0o644)
    gradle = ex / "build.gradle"
    gradle.write_text(gradle.read_text().replace(
        "dependencies {", 'dependencies {\n    implementation "com.google.guava:guava:33.0"'
    ))  # fmt: skip
    odd = get_task("aider-polyglot/java-two-bucket", tmp_path)
    assert "com.google.guava:guava" in (odd.unsupported or "")


def test_visible_tests_mode_leaves_tests_read_only_and_protected(sample):
    from runner.taskformats import polyglot

    ex = sample / "python/exercises/practice/grep"
    t = polyglot.load_exercise(ex, visible_tests=True)
    shown = t.workspace_dir / "grep_test.py"
    assert shown.is_file() and not shown.stat().st_mode & 0o222
    assert t.protected_paths == ["grep_test.py"] and "read-only" in t.prompt
    assert t.id == "aider-polyglot-visible/python-grep"


def test_recorded_count_becomes_the_expected_count(sample):
    t = get_task("aider-polyglot/python-grep", sample)
    assert t.test.expected_tests is None and t.fingerprint
    record_count(t.id, t.fingerprint, 25)
    assert get_task("aider-polyglot/python-grep", sample).test.expected_tests == 25


def test_a_changed_exercise_gets_a_new_fingerprint(sample, tmp_path):
    src = sample / "python/exercises/practice/grep"
    copy = tmp_path / "python/exercises/practice/grep"
    shutil.copytree(src, copy)
    for p in copy.rglob("*"):
        p.chmod(0o755 if p.is_dir() else 0o644)
    before = get_task("aider-polyglot/python-grep", tmp_path)
    (copy / "grep.py").write_text("# changed\n")
    after = get_task("aider-polyglot/python-grep", tmp_path)
    assert before.fingerprint != after.fingerprint and before.root != after.root


def test_two_sources_with_one_id_is_an_error_naming_both(sample, tmp_path):
    ex = sample / "go/exercises/practice/octal"
    shutil.copytree(ex, tmp_path / "go/exercises/practice/octal")
    with pytest.raises(TaskSpecError) as err:
        load_sources([sample, tmp_path])
    assert "aider-polyglot/go-octal" in str(err.value)
    assert str(tmp_path) in str(err.value) and str(ex) in str(err.value)


def test_sources_combine_and_select_by_category_and_glob(sample):
    both = [TASKS_DIR, sample]
    assert {t.id for t in select(["polyglot"], both)} == {
        t.id for t in select(["polyglot"], TASKS_DIR)
    }
    assert len(select(["aider-polyglot/rust-*"], both)) == 8
    assert len(select(["aider-polyglot"], both)) == 44
    with pytest.raises(UnknownNameError):
        select(["aider-polyglot/cobol-*"], both)


def test_an_unrecognised_folder_is_a_clear_error(tmp_path):
    (tmp_path / "readme.txt").write_text("nothing here")
    with pytest.raises(TaskSpecError, match="no tasks recognised"):
        select(None, tmp_path)


def test_the_source_is_never_written(sample):
    before = sorted(str(p) for p in Path(sample).rglob("*"))
    select(None, sample)
    assert sorted(str(p) for p in Path(sample).rglob("*")) == before


def test_skipped_cases_are_enabled_in_every_language_that_marks_them(tmp_path):
    from runner.taskformats.polyglot import _copy

    js = tmp_path / "a.spec.js"
    js.write_text("xtest('a', f);\ntest.skip('b', f);\nxdescribe('c', g);\nit.skip('d', f);\n")
    _copy(js, tmp_path / "out.spec.js", enable_skipped="javascript")
    assert (tmp_path / "out.spec.js").read_text() == (
        "test('a', f);\ntest('b', f);\ndescribe('c', g);\nit('d', f);\n"
    )
    py = tmp_path / "a_test.py"
    py.write_text(
        '    @unittest.skip("later")\n    def test_a(self): ...\n    @unittest.skipIf(X, "y")\n'
    )
    _copy(py, tmp_path / "out_test.py", enable_skipped="python")
    out = (tmp_path / "out_test.py").read_text().splitlines()
    assert out[0].strip().startswith("#") and "skipIf" in out[2]


def test_robot_name_optional_test_is_enabled(sample):
    t = get_task("aider-polyglot/javascript-robot-name", sample)
    hidden = (t.tests_dir / "robot-name.spec.js").read_text()
    assert "test.skip(" not in hidden and "xtest(" not in hidden


def test_visible_mode_is_its_own_category_from_the_cli(sample):
    import subprocess
    import sys

    args = ["--tasks-dir", str(sample), "--visible-tests", "aider-polyglot-visible/python-*"]
    proc = subprocess.run(
        [sys.executable, "-m", "cab", "tasks", "list", *args],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    ids = [ln.split()[0] for ln in proc.stdout.splitlines()[1:]]
    assert len(ids) == 8 and all(i.startswith("aider-polyglot-visible/python-") for i in ids)
