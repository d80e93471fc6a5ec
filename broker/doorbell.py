"""Doorbells: a named pipe that one process rings and another waits on, instead of polling.

A ring is one byte written without blocking; a waiter selects on the pipe for at most its
polling period and takes every byte waiting. A ring nobody hears (no waiter yet, another
waiter took the byte, the pipe full) costs the waiter at most that period, as polling did.
A pipe is a file: nothing is served, and a killed process changes nothing for the next.
"""

from __future__ import annotations

import contextlib
import errno
import os
import select
import stat

from kombu.exceptions import ChannelError

DOORBELL = ".doorbell"
"""The named pipe in the embedded queue folder that publishers ring."""

JOBS_DOORBELL = "jobs.doorbell"
"""The named pipe in the embedded runtime's folder that a worker rings when it has recorded
a task (its job moved): an embedded ``Client.wait`` waits on it between looks."""


def ring(folder: str, name: str = DOORBELL) -> None:
    """Tell a consumer waiting on ``folder``'s doorbell ``name`` that something is there
    (never blocks)."""
    try:
        fd = os.open(os.path.join(folder, name), os.O_WRONLY | os.O_NONBLOCK)
    except OSError:  # no pipe yet, or no consumer listening (ENXIO): it polls
        return
    try:
        os.write(fd, b"\x01")
    except OSError as exc:  # EAGAIN: the pipe is full of rings already
        if exc.errno != errno.EAGAIN:
            raise
    finally:
        os.close(fd)


class Doorbell:
    """The consumer's end of a folder's doorbell."""

    def __init__(self, folder: str, name: str = DOORBELL) -> None:
        path = os.path.join(folder, name)
        with contextlib.suppress(FileExistsError):
            os.mkfifo(path, 0o600)
        if not stat.S_ISFIFO(os.stat(path).st_mode):
            raise ChannelError(f"{path} is not a named pipe; remove it")
        self._read = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
        # A writer of our own, so that the pipe never reads as closed (which would make
        # select() return at once, for ever, whenever no publisher has it open).
        self._keep = os.open(path, os.O_WRONLY | os.O_NONBLOCK)

    def wait(self, seconds: float) -> None:
        """Return when rung, or after ``seconds``; take every ring waiting."""
        ready, _, _ = select.select([self._read], [], [], max(seconds, 0.0))
        if ready:
            with contextlib.suppress(BlockingIOError):
                while os.read(self._read, 4096):
                    pass

    def close(self) -> None:
        """Close both ends."""
        for fd in (self._read, self._keep):
            with contextlib.suppress(OSError):
                os.close(fd)
