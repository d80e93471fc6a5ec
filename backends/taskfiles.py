"""Reading what a task left in its directory, as the broker (often root) safely can.

A task's files are written by the task's own account, which may be hostile: a file may be a
symbolic link to a secret of the broker's, a FIFO that never ends, or gigabytes long. Every
read here refuses links and anything but a regular file, and reads at most a limit:
captured output keeps its last :data:`LOG_LIMIT` bytes, and an ``output.json`` larger than
:data:`OUTPUT_LIMIT` is not collected.
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any

WORK = "work"
"""The task's own folder inside its directory: its working directory, where an entry point's
``output.json`` goes."""

ERROR_FILE = ".qcb-error"
"""Where an entry point's exception goes, in one line (inside ``work/``)."""

LOG_LIMIT = 1 << 20
"""Bytes of a task's stdout or stderr that its result keeps (the end of it)."""

OUTPUT_LIMIT = 32 << 20
"""Largest ``output.json`` the broker collects."""


class TaskFileError(Exception):
    """A task's file exists but may not be read (a link, not a regular file, too large)."""


def _open(path: Path) -> tuple[int, os.stat_result] | None:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        return None
    except OSError as exc:  # ELOOP: a symbolic link
        raise TaskFileError(f"{path.name} is not a regular file ({exc.strerror})") from None
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):
        os.close(fd)
        raise TaskFileError(f"{path.name} is not a regular file")
    return fd, info


def read_tail(path: Path, limit: int = LOG_LIMIT) -> str:
    """The last ``limit`` bytes of a task's text file ("" if it does not exist), with a
    note of how much was left out; a file that may not be read gives a note instead."""
    try:
        opened = _open(path)
    except TaskFileError as exc:
        return f"[qcbroker: not read: {exc}]\n"
    if opened is None:
        return ""
    fd, info = opened
    with os.fdopen(fd, "rb") as handle:
        size = info.st_size
        if size > limit:
            handle.seek(size - limit)
        data = handle.read(limit)
    text = data.decode(errors="replace")
    if size > limit:
        text = f"[qcbroker: the first {size - limit} bytes of {path.name} are left out]\n{text}"
    return text


def read_bytes(path: Path, limit: int) -> bytes | None:
    """A task's whole file (None if it does not exist); ``TaskFileError`` beyond ``limit``."""
    opened = _open(path)
    if opened is None:
        return None
    fd, info = opened
    with os.fdopen(fd, "rb") as handle:
        if info.st_size > limit:
            raise TaskFileError(
                f"{path.name} is {info.st_size / 2**20:.1f} MiB; "
                f"the broker collects at most {limit / 2**20:.0f} MiB"
            )
        data = handle.read(limit + 1)
    if len(data) > limit:  # grew while being read
        raise TaskFileError(f"{path.name} is over {limit / 2**20:.0f} MiB")
    return data


def read_json(path: Path, limit: int = OUTPUT_LIMIT) -> Any:
    """A task's JSON file, parsed (None if it does not exist); ``TaskFileError`` if it may
    not be read or is not JSON."""
    data = read_bytes(path, limit)
    if data is None:
        return None
    try:
        return json.loads(data)
    except ValueError as exc:
        raise TaskFileError(f"{path.name} is not valid JSON: {exc}") from None


def collect_output(workdir: Path) -> tuple[Any, str]:
    """An entry point's ``output.json`` (from ``work/``) and a note for stderr when it could
    not be collected (a link, not JSON, too large)."""
    try:
        return read_json(workdir / WORK / "output.json"), ""
    except TaskFileError as exc:
        return None, f"\n[qcbroker: the output was not collected: {exc}]\n"


_FINAL = ("COMPLETED", "FAILED", "TIMEOUT")


def runner_record(workdir: Path) -> dict[str, Any] | None:
    """The runner's ``state.json``, if there is one of the right shape (under Slurm the task's
    account could have written anything there)."""
    try:
        record = read_json(workdir / "state.json", 1 << 16)
    except TaskFileError:
        return None
    if not isinstance(record, dict) or record.get("state") not in _FINAL:
        return None
    code, elapsed = record.get("exit_code"), record.get("elapsed_s")
    if not (code is None or (isinstance(code, int) and not isinstance(code, bool))):
        return None
    if not (elapsed is None or (isinstance(elapsed, int | float) and elapsed >= 0)):
        return None
    if not isinstance(record.get("error", ""), str):
        return None
    return record
