"""Our strict OpenQASM 3 subset: the canonical emitter :func:`dumps` and the parser :func:`loads`.

The canonical form is one statement per line::

    OPENQASM 3.0;
    include "stdgates.inc";
    input float[64] theta;
    qubit[2] q;
    bit[2] c;
    rz(2*theta + 0.5) q[1];
    cx q[0], q[1];
    c[0] = measure q[0];

:func:`loads` also takes common variants (comments, blank lines, ``OPENQASM 2.0`` with
``qreg``/``creg``, ``measure q[0] -> c[0];``, gate aliases such as ``U``, ``CX``, ``cnot``,
``phase``, ``u1``/``u2``/``u3``), gate definitions (inlined) and classical control (``if``,
as conditioned gates), but refuses loops, subroutines, modifiers and classical variables.
Every parse error carries the 1-based line number of the offending statement.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from circuits import expressions
from circuits.errors import CircuitError
from circuits.ir import CircuitIR, Condition, validate
from circuits.qasm_declarations import _CREG, _QREG
from circuits.qasm_library import PORTABLE, portable_text
from circuits.qasm_parser import (
    _DECLARATION_WORDS,
    _RE_WORD,
    _UNSUPPORTED_WORDS,
    _Parser,
)
from circuits.qasm_text import _clip, _strip_block_comments

__all__ = ["DEFAULT_MAX_BYTES", "Parsed", "dumps", "loads", "parse"]

DEFAULT_MAX_BYTES = 1_000_000
"""Default size limit of the text accepted by :func:`loads`."""


def dumps(ir: CircuitIR) -> str:
    """Canonical OpenQASM 3 text of ``ir`` (see the module docstring for the exact form)."""
    validate(ir)
    lines = ["OPENQASM 3.0;", 'include "stdgates.inc";']
    used = {op.name for op in ir.ops}
    if "ryy" in used:
        used.add("sxdg")
    lines += [portable_text(d) for name, d in PORTABLE.items() if name in used]
    lines += [f"input float[64] {name};" for name in ir.parameters]
    lines.append(f"qubit[{ir.num_qubits}] {_QREG};")
    if ir.num_clbits:
        lines.append(f"bit[{ir.num_clbits}] {_CREG};")
    for op in ir.ops:
        qubits = ", ".join(f"{_QREG}[{q}]" for q in op.qubits)
        if op.name == "measure":
            lines.append(f"{_CREG}[{op.clbits[0]}] = measure {qubits};")
            continue
        line = f"{'U' if op.name == 'u' else op.name}"
        if op.params:
            line += f"({', '.join(expressions.normalize(p) for p in op.params)})"
        line += f" {qubits};"
        lines.append(_condition_text(op.condition, ir.num_clbits) + line)
    return "\n".join(lines) + "\n"


def _condition_text(condition: Condition | None, num_clbits: int) -> str:
    """``if (...) `` for a classically controlled gate, as Qiskit's importer reads it."""
    if condition is None:
        return ""
    clbits, value = condition
    if len(clbits) == 1:
        return f"if ({'' if value else '!'}{_CREG}[{clbits[0]}]) "
    if len(clbits) == num_clbits:
        return f"if ({_CREG} == {value}) "
    return f"if ({_CREG}[{clbits[0]}:{clbits[-1]}] == {value}) "


def loads(text: str, *, max_bytes: int = DEFAULT_MAX_BYTES) -> CircuitIR:
    """Parse OpenQASM text in the supported subset into a :class:`CircuitIR`.

    Raises :class:`CircuitError` (with ``line`` set) on anything outside the subset.
    """
    parsed = parse(text, max_bytes=max_bytes, max_errors=1)
    if parsed.errors:
        raise parsed.errors[0]
    assert parsed.ir is not None  # parse() gives an IR whenever it found no problem
    return parsed.ir


@dataclass(frozen=True)
class Parsed:
    """What :func:`parse` read: the circuit, the source line of each op, and the problems.

    ``ir`` holds every statement that parsed (``None`` without a qubit declaration), so it is
    the whole circuit only when ``errors`` is empty. ``op_lines[i]`` is the 1-based line of
    ``ir.ops[i]`` and ``qubit_line`` the line declaring the qubit register. With
    ``max_qubits``, statements using qubits beyond it are left out of ``ir`` (the circuit is
    too wide anyway) and ``beyond`` is the first such (line, qubit).
    """

    ir: CircuitIR | None
    op_lines: tuple[int, ...]
    qubit_line: int | None
    errors: tuple[CircuitError, ...]
    beyond: tuple[int, int] | None = None


def parse(
    text: str,
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    max_errors: int = 20,
    max_qubits: int | None = None,
) -> Parsed:
    """Parse like :func:`loads`, but collect up to ``max_errors`` problems instead of raising.

    After a bad gate or measurement, reading goes on with the next statement; after a bad
    declaration or an unsupported construct it stops, as what follows would fail because of
    it. Only text over ``max_bytes`` raises (before anything is read). Lines end at ``\n``,
    ``\r\n`` or ``\r`` only, as OpenQASM's grammar says (a form feed or U+2028 inside a
    ``//`` comment does not end it). See :class:`Parsed` for ``max_qubits``.
    """
    size = len(text.encode("utf-8", errors="replace"))
    if size > max_bytes:
        raise CircuitError(
            f"circuit text is {size} bytes, more than the limit of {max_bytes}",
            hint="split the work into smaller circuits or raise max_bytes",
        )
    try:
        lines = _lines(_strip_block_comments(_newlines(text.removeprefix("\ufeff"))))
    except CircuitError as exc:
        return Parsed(None, (), None, (exc,))
    parser = _Parser(max_qubits=max_qubits)
    errors: list[CircuitError] = []
    op_lines: list[int] = []
    for number, statement, terminated in _statements(lines):
        before = len(parser.ops)
        try:
            if not statement:
                raise CircuitError("empty statement (stray ';')", line=number)
            parser.statement(statement, number)
            if not terminated:
                # Either an unsupported multi-line construct (reported as such) or a missing ';'.
                raise CircuitError(
                    f"missing ';' after {_clip(statement)!r}",
                    line=number,
                    hint="put each statement on one line, ending with ';'",
                )
        except CircuitError as exc:
            del parser.ops[before:]
            errors.append(exc)
            if len(errors) >= max_errors or parser.exhausted or not _recoverable(statement):
                break
            continue
        op_lines += [number] * (len(parser.ops) - before)
    ir: CircuitIR | None = None
    if parser.qreg is not None or not errors:
        try:
            ir = parser.result(max(len(lines), 1))
        except CircuitError as exc:
            errors.append(exc)
    qubit_line = parser.qreg.line if parser.qreg else None
    return Parsed(ir, tuple(op_lines), qubit_line, tuple(errors), parser.beyond)


def _newlines(text: str) -> str:
    """``\r\n`` and a lone ``\r`` as ``\n``: the only line ends OpenQASM has."""
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _lines(text: str) -> list[str]:
    """The lines of ``text`` split at ``\n`` only (``str.splitlines`` also splits at form
    feeds, U+2028 and others, which would end a comment early and shift line numbers)."""
    lines = text.split("\n")
    return lines[:-1] if lines and lines[-1] == "" else lines


_RE_BLOCK = re.compile(r"\s*(?:gate|if|else)\b")


def _statements(lines: list[str]) -> Iterator[tuple[int, str, bool]]:
    """``(line, statement, ended)`` for each statement, comments removed: a statement ends
    at ``;``, or at the ``}`` that closes a block (a gate definition, which may span lines
    and hold ``;``s); ``ended`` is False for one that a line or the text leaves open."""
    start, depth = 0, 0
    parts: list[str] = []
    for number, raw in enumerate(lines, start=1):
        code = raw.split("//", 1)[0]
        for piece in re.split(r"([;{}])", code):
            if not parts and not piece.strip():
                continue
            if not parts:
                start = number
            if piece == ";" and depth == 0:
                yield start, "".join(parts).strip(), True
                parts = []
                continue
            parts.append(piece)
            if piece in "{}" and piece:
                depth += 1 if piece == "{" else -1
                if depth <= 0:
                    yield start, "".join(parts).strip(), depth == 0
                    parts, depth = [], 0
        if depth == 0 and parts and not _RE_BLOCK.match("".join(parts)):
            yield start, "".join(parts).strip(), False
            parts = []
        elif parts:  # inside a block, or a gate's header before its {
            parts.append("\n")
    if parts:
        yield start, "".join(parts).strip(), False


def _recoverable(statement: str) -> bool:
    """Whether a bad ``statement`` leaves the parser fit to read on: gates and measurements."""
    match = _RE_WORD.match(statement)
    word = match.group(0) if match else ""
    return (
        word not in _DECLARATION_WORDS
        and word not in _UNSUPPORTED_WORDS
        and not any(char in statement for char in "{}")
    )
