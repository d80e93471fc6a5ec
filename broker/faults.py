"""Crash points: where a test may have this process killed, to prove nothing is lost.

``QCB_CRASH_AT=<name>`` in a process's environment makes :func:`crash_point` of that name
kill the process with SIGKILL, as an operator's ``kill -9`` or the kernel's OOM killer
would, at a place that is otherwise impossible to hit on purpose (between a commit and
the send that follows it). Unset, it costs one dictionary lookup.
"""

from __future__ import annotations

import os
import signal

POINTS = ("admission.after-commit",)
"""The crash points there are."""


def crash_point(name: str) -> None:
    """Die here, by SIGKILL, if ``QCB_CRASH_AT`` names this point."""
    assert name in POINTS, f"unknown crash point {name!r}"
    if os.environ.get("QCB_CRASH_AT") == name:
        os.kill(os.getpid(), signal.SIGKILL)
