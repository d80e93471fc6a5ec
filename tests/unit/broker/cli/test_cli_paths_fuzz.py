"""Every ``qcb`` command and option that takes a path, fed the paths a user gets wrong:
binary, empty, huge, missing, a folder, a pipe or a device for a file to read; a folder, a
missing folder, a file as folder and an unwritable place for a file to write. No traceback,
no crash report, an exit status from the documented table, and a message naming the path."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import click
import pytest

from broker.cli.main import cli, run_cli
from broker.cli.paths import InputFile, OutputFile, OutputFolder
from broker.errors import EXIT_CODES
from tests.conftest import EXAMPLES, ROOT

POLICY = ROOT / "policies" / "examples" / "default.yaml"
TRACE = EXAMPLES / "traces" / "qcup_sample.jsonl"
GOOD_INPUT = {"job file": EXAMPLES / "vqe_h2.yaml", "policy file": POLICY, "trace": TRACE}

PATHLIKE_NAMES = {
    "file", "files", "out", "plot", "trace_file", "base", "old", "new", "folder", "output",
}  # fmt: skip
"""Parameter names that hold a path: each must have a path type (checked below)."""


def _commands(
    group: click.Group = cli, prefix: tuple[str, ...] = ()
) -> Iterator[tuple[tuple[str, ...], click.Command]]:
    for name, command in sorted(group.commands.items()):
        if isinstance(command, click.Group):
            yield from _commands(command, (*prefix, name))
        else:
            yield (*prefix, name), command


def _is_path(param: click.Parameter) -> bool:
    return isinstance(param.type, InputFile | OutputFile | OutputFolder | click.Path)


PATH_PARAMS = [
    (words, command, param)
    for words, command in _commands()
    for param in command.params
    if _is_path(param)
]


def test_every_parameter_named_like_a_path_has_a_path_type() -> None:
    untyped = [
        f"{' '.join(words)} {param.name}"
        for words, command in _commands()
        for param in command.params
        if param.name in PATHLIKE_NAMES and not _is_path(param)
    ]
    assert untyped == []
    assert len(PATH_PARAMS) >= 12  # run, submit, result, usage, five policy commands


def _value(param: click.Parameter) -> str:
    """A valid value for a parameter that is not under test."""
    if isinstance(param.type, InputFile):
        return str(GOOD_INPUT[param.type.what])
    if isinstance(param.type, click.Path):
        return str(POLICY)
    if isinstance(param.type, OutputFile):
        return "/tmp/qcb-fuzz-unused.out"
    if isinstance(param.type, OutputFolder):
        return "/tmp/qcb-fuzz-unused"
    return "j-none" if param.name in ("job_id", "ident") else "a reason"


def argv(
    words: tuple[str, ...], command: click.Command, target: click.Parameter, bad: str
) -> list[str]:
    """The command line with ``bad`` for ``target`` and valid values for what it requires."""
    args: list[str] = list(words)
    for param in command.params:
        value = bad if param is target else _value(param)
        if isinstance(param, click.Argument):
            args.append(value)
        elif param is target or param.required:
            args += [param.opts[0], value]
    return args


@pytest.fixture(scope="module")
def bad_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Path]]:
    """Bad paths by kind, for files to read and files to write."""
    folder = tmp_path_factory.mktemp("fuzz")
    binary = folder / "binary.yaml"
    binary.write_bytes(bytes(range(256)) * 40)
    empty = folder / "empty.yaml"
    empty.write_bytes(b"")
    huge = folder / "huge.yaml"
    with huge.open("wb") as f:
        f.truncate(200 << 20)  # sparse: 200 MiB that nothing may read whole
    pipe = folder / "pipe.yaml"
    os.mkfifo(pipe)
    a_file = folder / "plain.txt"
    a_file.write_text("x\n")
    return {
        "read": {
            "binary": binary,
            "empty": empty,
            "huge": huge,
            "missing": folder / "missing.yaml",
            "folder": folder,
            "pipe": pipe,
            "device": Path("/dev/zero"),
        },
        "write": {
            "folder": folder,
            "missing folder": folder / "nope" / "out.png",
            "file as folder": a_file / "out.png",
            "unwritable": Path("/sys/qcb-fuzz.png"),  # refused even to root
        },
        "folder": {
            "file": a_file,
            "file as folder": a_file / "sub",
            "unwritable": Path("/sys/qcb-fuzz"),
        },
    }


def _kinds(param: click.Parameter) -> tuple[str, ...]:
    if isinstance(param.type, OutputFolder):
        return ("file", "file as folder", "unwritable")
    if isinstance(param.type, OutputFile):
        return ("folder", "missing folder", "file as folder", "unwritable")
    return ("binary", "empty", "huge", "missing", "folder", "pipe", "device")


def _side(param: click.Parameter) -> str:
    if isinstance(param.type, OutputFolder):
        return "folder"
    return "write" if isinstance(param.type, OutputFile) else "read"


CASES = [
    pytest.param(words, command, param, kind, id=f"{' '.join(words)}-{param.name}-{kind}")
    for words, command, param in PATH_PARAMS
    for kind in _kinds(param)
]


@pytest.mark.parametrize(("words", "command", "param", "kind"), CASES)
def test_a_bad_path_is_refused_in_words(
    words: tuple[str, ...],
    command: click.Command,
    param: click.Parameter,
    kind: str,
    bad_files: dict[str, dict[str, Path]],
    qcb_home: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    bad = bad_files[_side(param)][kind]
    code = run_cli(argv(words, command, param, str(bad)))
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    assert code in EXIT_CODES and code not in (0, 70), (code, err)
    said = " ".join((err + out).split())
    assert str(bad) in said or f"{bad.parent} " in said, err  # the path, or its folder


def test_the_readme_lists_every_exit_status() -> None:
    readme = (ROOT / "README.md").read_text()
    for code, meaning in EXIT_CODES.items():
        assert f"| {code} | {meaning} |" in readme
