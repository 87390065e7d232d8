#!/usr/bin/env bash
# Installs what the tests need (the package with its test extras, Debian's chromium and
# Go for the local sandbox) and runs lint, the import contracts, the type checker and the whole
# test suite. Extra args go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
need=()
command -v chromium >/dev/null 2>&1 || need+=(chromium)
command -v go >/dev/null 2>&1 || need+=(golang-go)
if [ ${#need[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q && apt-get install -y -q "${need[@]}"
fi
python3 -m pip install -q -e '.[test]'
ruff check .
ruff format --check .
lint-imports  # the layering (pyproject.toml [tool.importlinter])
mypy          # zero errors, pydantic plugin (pyproject.toml [tool.mypy])
set +e
python3 -m pytest "$@"
rc=$?
set -e
if [ "$rc" -eq 5 ]; then
  echo "pytest collected no tests: that is a failure" >&2
  exit 1
fi
exit "$rc"
