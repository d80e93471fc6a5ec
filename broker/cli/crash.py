"""What ``qcb`` does with an error nobody foresaw: a crash report on disk, one paragraph on
the terminal, exit status 70. A traceback never reaches the user's terminal."""

from __future__ import annotations

import os
import platform
import sys
import tempfile
import time
import traceback
from pathlib import Path

INTERNAL_ERROR = 70
"""The exit status of a bug (``EX_SOFTWARE`` of sysexits.h)."""


def _folder() -> Path:
    """``$QCB_HOME/logs`` when it can be written, else the temporary folder."""
    try:
        from broker.config import Settings

        folder = Settings().home / "logs"
        folder.mkdir(parents=True, exist_ok=True)
        if os.access(folder, os.W_OK):
            return folder
    except Exception:  # the settings themselves may be what is broken
        pass
    return Path(tempfile.gettempdir())


def report(exc: BaseException, argv: list[str]) -> Path | None:
    """Write the crash report of ``exc``; its path (``None`` when nothing can be written)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        release = version("qcbroker")
    except PackageNotFoundError:
        release = "unknown"
    text = (
        f"qcb {' '.join(argv)}\n"
        f"qcbroker {release}, Python {platform.python_version()}, {platform.platform()}\n"
        f"at {time.strftime('%Y-%m-%d %H:%M:%S %Z')}\n\n"
        + "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    )
    try:
        folder = _folder()
        fd, name = tempfile.mkstemp(prefix="crash-", suffix=".txt", dir=folder)
        with os.fdopen(fd, "w") as f:
            f.write(text)
        return Path(name)
    except OSError:
        return None


def internal_error(exc: BaseException, argv: list[str]) -> int:
    """Say that qcb failed, where the report is, and return :data:`INTERNAL_ERROR`."""
    path = report(exc, argv)
    where = f"the details are in {path}" if path else "no report could be written"
    what = f"{type(exc).__name__}: {exc}".strip().splitlines()[0][:300]
    print(
        f"error: qcb failed unexpectedly ({what})\n"
        f"this is a bug in qcbroker: {where}; please send it to the developers. "
        "A job already submitted is not affected: `qcb jobs` shows it.",
        file=sys.stderr,
    )
    return INTERNAL_ERROR
