"""The `cab` entry point lists every subcommand."""

import subprocess
import sys

import pytest

from cab.cli import COMMANDS


def test_cab_help_lists_every_command():
    out = subprocess.run(
        [sys.executable, "-m", "cab", "--help"], capture_output=True, text=True, check=True
    ).stdout
    for name in COMMANDS:
        assert name in out


@pytest.mark.parametrize(
    ("flag", "value", "says"),
    [("--max-reply-bytes", "0", "must be greater than 0"),
     ("--max-body-bytes", "-1", "must be greater than 0"),
     ("--timeout", "nan", "must be greater than 0"),
     ("--rpm", "ten", "is not a number")],
)  # fmt: skip
def test_cab_proxy_refuses_a_size_timeout_or_limit_that_would_refuse_everything(flag, value, says):
    done = subprocess.run([sys.executable, "-m", "cab", "proxy", flag, value],
                          capture_output=True, text=True, timeout=60)  # fmt: skip
    assert done.returncode == 2
    assert f"argument {flag}: {value!r} {says}" in done.stderr


@pytest.mark.parametrize(
    ("upstream", "says"),
    [("ftp://x/v1", "expected an http(s) base URL"),
     ("http://", "expected an http(s) base URL"),
     ("https://user:secret@host/v1", "no credentials in the URL: put the key in $OPENAI_API_KEY"),
     ("http://127.0.0.1:1/v1?x=1", "no query or fragment")],
)  # fmt: skip
def test_cab_proxy_refuses_an_upstream_it_could_not_use_safely(upstream, says):
    done = subprocess.run([sys.executable, "-m", "cab", "proxy", "--port", "0",
                           "--upstream", upstream], capture_output=True, text=True, timeout=60)  # fmt: skip
    assert done.returncode == 2 and says in done.stderr
    assert "secret" not in done.stderr  # credentials are never echoed
