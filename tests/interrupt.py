"""For tests that stop a child with Ctrl-C (SIGINT): the child must react to it even when
the test run itself was started with SIGINT ignored (a shell's background job, nohup),
which every child would inherit and Python would then leave ignored."""

from __future__ import annotations

import signal


def sigint_default() -> None:
    """`preexec_fn` for such a child: SIGINT as a terminal's Ctrl-C delivers it."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
