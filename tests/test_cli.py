"""The `cab` entry point lists every subcommand."""

import subprocess
import sys

from cab.cli import COMMANDS


def test_cab_help_lists_every_command():
    out = subprocess.run(
        [sys.executable, "-m", "cab", "--help"], capture_output=True, text=True, check=True
    ).stdout
    for name in COMMANDS:
        assert name in out
