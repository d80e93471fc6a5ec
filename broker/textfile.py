"""Reading a user's text file (a job file, a graph, a backends file) once and safely.

At most ``max_bytes + 1`` bytes are read, so a huge file, ``/dev/zero`` or a runaway pipe is
refused without being read whole; bytes that are not UTF-8 are reported with the line and
column where they start, not as a decoding traceback.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from broker.errors import BrokerError, InvalidJob

MAX_TEXT_FILE_BYTES = 8 << 20
"""The largest text file read by default (8 MiB: the API's largest request body)."""

_LOOKS_BINARY = re.compile(rb"[\x00-\x08\x0e-\x1f]")


def size_text(size: int) -> str:
    """A byte count for a person: 512 bytes, 3.4 KiB, 60.0 MiB."""
    if size < 1024:
        return f"{size} bytes"
    if size < 1 << 20:
        return f"{size / 1024:.1f} KiB"
    return f"{size / (1 << 20):.1f} MiB"


def _where(raw: bytes, offset: int) -> str:
    """``line L, column C`` (1-based) of byte ``offset``."""
    line = raw.count(b"\n", 0, offset) + 1
    column = offset - (raw.rfind(b"\n", 0, offset) + 1) + 1
    return f"line {line}, column {column}"


def read_text(
    path: Path,
    what: str = "job file",
    *,
    max_bytes: int = MAX_TEXT_FILE_BYTES,
    error: type[BrokerError] = InvalidJob,
    hint: str | None = None,
) -> str:
    """The UTF-8 text of ``path``; ``error`` (a :class:`BrokerError`) saying what is wrong
    otherwise: no such file, a folder, unreadable, larger than ``max_bytes``, or not UTF-8
    (with the line and column of the first bad byte). ``what`` names the file in messages."""
    where = f"{what} {path}"
    if path.is_dir():
        raise error(f"{where} is a folder, not a file", hint=hint)
    try:
        with path.open("rb") as f:
            raw = f.read(max_bytes + 1)
    except FileNotFoundError:
        raise error(
            f"no {what} {path}", hint=hint or f"check the path (relative to {os.getcwd()})"
        ) from None
    except OSError as exc:
        raise error(f"cannot read {where}: {exc.strerror or exc}", hint=hint) from None
    if len(raw) > max_bytes:
        raise error(
            f"{where} is larger than {size_text(max_bytes)}, the most a {what} may be; "
            "nothing was read past that",
            hint=hint,
        )
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        binary = " (it looks binary)" if _LOOKS_BINARY.search(raw[:4096]) else ""
        raise error(
            f"{where} is not UTF-8 text{binary}: byte 0x{raw[exc.start]:02x} at "
            f"{_where(raw, exc.start)} cannot be decoded",
            hint=hint or f"a {what} is YAML text saved as UTF-8",
        ) from None
