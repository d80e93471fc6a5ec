"""The command line's file and folder arguments, checked before a command does any work.

An input must exist and be a file (what it holds is checked by whatever reads it: its size
before it is read, its encoding, its content); an output must be a file name in a folder
that exists and can be written. Each refusal is a usage error (exit 2) that says what to do.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import click


class InputFile(click.ParamType):  # type: ignore[type-arg]
    """A file to read: it exists and is a regular file (not a folder, a device or a pipe,
    which could block or never end)."""

    name = "file"

    def __init__(self, what: str = "file") -> None:
        self.what = what

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Path:
        """The path, or a usage error naming what is wrong with it."""
        path = Path(value).expanduser()
        if path.is_dir():
            self.fail(f"{path} is a folder; give the {self.what} itself", param, ctx)
        if not path.exists():
            self.fail(f"no {self.what} {path} (relative to {os.getcwd()})", param, ctx)
        if not path.is_file():
            self.fail(f"{path} is not a regular file; give the {self.what} itself", param, ctx)
        return path


class OutputFile(click.ParamType):  # type: ignore[type-arg]
    """A file to write: a name (not a folder) in a folder that exists and can be written."""

    name = "file"

    def __init__(self, what: str = "file", example: str = "out.png") -> None:
        self.what = what
        self.example = example

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Path:
        """The path, or a usage error naming what is wrong with it."""
        path = Path(value).expanduser()
        if path.is_dir():
            self.fail(
                f"{path} is a folder; name a {self.what} in it, e.g. {path / self.example}",
                param,
                ctx,
            )
        folder = path.parent
        if not folder.exists():
            self.fail(
                f"the folder {folder} does not exist; create it first (mkdir -p {folder})",
                param,
                ctx,
            )
        if not folder.is_dir():
            self.fail(f"{folder} is not a folder, so {path} cannot be written", param, ctx)
        if path.exists():
            if not os.access(path, os.W_OK):
                self.fail(f"cannot write {path}: permission denied", param, ctx)
            return path
        try:  # the only sure test (root passes os.access on read-only /sys, say)
            path.open("x").close()
            path.unlink()
        except OSError as exc:
            self.fail(f"cannot write {path}: {exc.strerror or exc}", param, ctx)
        return path


class OutputFolder(click.ParamType):  # type: ignore[type-arg]
    """A folder to write into: one that exists, or that can be made (as ``mkdir -p``)."""

    name = "folder"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Path:
        """The folder, made if missing, or a usage error naming what is wrong with it."""
        path = Path(value).expanduser()
        if path.exists() and not path.is_dir():
            self.fail(f"{path} is a file, not a folder; name a folder", param, ctx)
        try:
            path.mkdir(parents=True, exist_ok=True)
            probe = path / ".qcb-write-test"
            probe.open("x").close()  # the only sure test (see OutputFile)
            probe.unlink()
        except OSError as exc:
            self.fail(f"cannot write into {path}: {exc.strerror or exc}", param, ctx)
        return path
