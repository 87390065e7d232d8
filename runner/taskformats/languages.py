"""How each aider-polyglot language runs its whole test suite here, offline, in the
`polyglot` image (images/polyglot), with every skipped case enabled, writing a report
that scorer.reports reads (docs/tasks.md has the table)."""

from __future__ import annotations

import shlex
from collections.abc import Callable

from pydantic import BaseModel

IMAGE = "polyglot"


def _go(_: str) -> str:
    return "go test -json -count=1 ./..."


def _python(_: str) -> str:
    return "python3 -m pytest -q -p no:cacheprovider --junitxml=.cab-report.xml"


def _rust(_: str) -> str:
    # libtest's text report on stdout (cargo's own progress goes to stderr)
    # (no incremental cache nor debug info: a fresh container gains nothing from them)
    return (
        "CARGO_INCREMENTAL=0 CARGO_PROFILE_DEV_DEBUG=0 "
        "cargo test --offline -- --include-ignored --test-threads=2"
    )


def _javascript(_: str) -> str:
    # the exercise's package.json runs `jest ./*`; jest and babel come from /node_modules
    return "jest --ci --silent --json --outputFile=.cab-report.json ./*"


def _cpp(name: str) -> str:
    # The exercise's CMakeLists.txt takes its target name from its folder's name, so the
    # build runs on a copy named after the exercise. When its bundled catch.hpp is the one
    # the image compiled Catch's main from, that object is linked (images/polyglot/catch);
    # else the exercise builds its own. Catch writes JUnit for every case.
    slug = shlex.quote(name)
    return (
        f"set -e; n={slug}; src=/tmp/cab-cpp/src/$n; b=/tmp/cab-cpp/build; rm -rf /tmp/cab-cpp; "
        "mkdir -p $src; cp -r . $src; "
        "if [ -f /opt/cab-catch/tests-main.o ] && cmp -s test/catch.hpp /opt/cab-catch/catch.hpp; "
        "then cmake -S /opt/cab-catch -B $b -DCAB_EXERCISE_DIR=$src -DEXERCISM_RUN_ALL_TESTS=1 "
        ">/dev/null; bin=$b/exercise/$n; "
        "else cmake -S $src -B $b -DEXERCISM_RUN_ALL_TESTS=1 >/dev/null; bin=$b/$n; fi; "
        "cmake --build $b --target $n -- -j2; $bin --reporter junit --out .cab-report.xml"
    )


#: Jars of the polyglot-java image (Debian's) a Java exercise's tests compile against.
JAVA_CLASSPATH = ":".join(
    f"/usr/share/java/{jar}.jar" for jar in ("junit-platform-console-standalone", "assertj-core")
)


def _java(_: str) -> str:
    # No Gradle here: javac compiles src/main and src/test, the JUnit Platform console
    # launcher runs every test class and writes JUnit XML (TEST-junit-jupiter.xml).
    return (
        "set -e; o=/tmp/cab-java; rm -rf $o; mkdir -p $o/classes $o/reports; "
        f"cp={JAVA_CLASSPATH}; "
        "javac -nowarn -encoding UTF-8 -d $o/classes -cp $cp "
        "$(find src/main/java src/test/java -name '*.java'); "
        "rc=0; java -jar /usr/share/java/junit-platform-console-standalone.jar "
        "-cp $o/classes:$cp --scan-classpath --disable-banner --details=tree "
        "--reports-dir=$o/reports || rc=$?; "
        "cp $o/reports/TEST-junit-jupiter.xml .cab-report.xml; exit $rc"
    )


class LanguageSpec(BaseModel):
    name: str
    report: str
    report_path: str | None = None
    image: str = IMAGE
    timeout_s: int = 600
    unsupported: str | None = None
    make_command: Callable[[str], str]

    def command(self, exercise: str) -> str:
        return self.make_command(exercise)


LANGUAGES: dict[str, LanguageSpec] = {
    "go": LanguageSpec(name="go", report="go-json", make_command=_go),
    "python": LanguageSpec(
        name="python", report="junit", report_path=".cab-report.xml", make_command=_python
    ),
    "rust": LanguageSpec(name="rust", report="libtest", make_command=_rust),
    "javascript": LanguageSpec(
        name="javascript",
        report="jest-json",
        report_path=".cab-report.json",
        make_command=_javascript,
    ),
    "cpp": LanguageSpec(
        name="cpp", report="junit", report_path=".cab-report.xml", make_command=_cpp
    ),
    "java": LanguageSpec(
        name="java",
        report="junit",
        report_path=".cab-report.xml",
        image="polyglot-java",
        make_command=_java,
    ),
}
