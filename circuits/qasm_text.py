"""Text helpers of :mod:`circuits.qasm_parser`: operands and their broadcast, numbers,
parentheses, commas and block comments, each failure a :class:`CircuitError` with its line."""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence

from circuits.errors import CircuitError
from circuits.ir import GATES, MAX_QUBITS

_MAX_DIGITS = 7
"""Register sizes and indices longer than this are refused before they are read as
integers (Python refuses some 4,300 digits with a ValueError of its own)."""

_ALIASES = {
    "U": "u",
    "u3": "u",
    "CX": "cx",
    "cnot": "cx",
    "phase": "p",
    "u1": "p",
    "cphase": "cp",
    "cu1": "cp",
}


def _first_beyond(operands: list[Sequence[int]], limit: int) -> int | None:
    """The first qubit at or past ``limit`` that the statement's ops use, in the order they
    would be expanded, without expanding them (a whole register is a ``range``)."""
    at_start = next((o[0] for o in operands if o and o[0] >= limit), None)
    if at_start is not None:
        return at_start
    steps = [limit - o[0] for o in operands if len(o) > 1 and o[-1] >= limit]
    if not steps:
        return None
    k = min(steps)
    return next(o[k] for o in operands if len(o) > k and o[k] >= limit)


def _integer(digits: str, line: int) -> int:
    """A register size or index, refused with its line when it has too many digits."""
    if len(digits.lstrip("0")) > _MAX_DIGITS:
        raise CircuitError(
            f"the number {_clip(digits, 20)} is too large for a register size or index "
            f"(at most {MAX_QUBITS})",
            line=line,
        )
    return int(digits)


def _clip(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _did_you_mean(word: str) -> str:
    close = difflib.get_close_matches(word, [*GATES, *_ALIASES], n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _check_distinct(qubits: Sequence[int], word: str, line: int) -> None:
    if len(qubits) > 1 and len(set(qubits)) != len(qubits):
        twice = next(q for i, q in enumerate(qubits) if q in qubits[:i])
        raise CircuitError(f"{word!r} uses the same qubit more than once ({twice})", line=line)


def _broadcast(operands: list[Sequence[int]], line: int) -> list[list[int]]:
    """Expand whole-register operands as OpenQASM 2 does: ``h q;`` is ``h`` on every qubit."""
    sizes = {len(o) for o in operands if len(o) != 1}
    if len(sizes) > 1:
        raise CircuitError("registers of different sizes in one statement", line=line)
    count = sizes.pop() if sizes else 1
    return [[o[k] if len(o) > 1 else o[0] for o in operands] for k in range(count)]


def _split_parens(text: str, line: int) -> tuple[str, str]:
    """Split ``"(a, b) rest"`` into ``("a, b", "rest")``."""
    level = 0
    for index, char in enumerate(text):
        if char == "(":
            level += 1
        elif char == ")":
            level -= 1
            if level == 0:
                return text[1:index], text[index + 1 :]
    raise CircuitError(f"unbalanced parentheses in {_clip(text)!r}", line=line)


def _split_top_level(text: str) -> list[str]:
    """Split on commas that are not inside parentheses."""
    pieces, level, start = [], 0, 0
    for index, char in enumerate(text):
        if char == "(":
            level += 1
        elif char == ")":
            level -= 1
        elif char == "," and level == 0:
            pieces.append(text[start:index])
            start = index + 1
    pieces.append(text[start:])
    return pieces


def _strip_block_comments(text: str) -> str:
    """Blank out ``/* ... */`` comments, keeping newlines so line numbers stay right."""
    out: list[str] = []
    position = 0
    while (start := text.find("/*", position)) != -1:
        end = text.find("*/", start + 2)
        if end == -1:
            line = text.count("\n", 0, start) + 1
            raise CircuitError("unterminated /* comment", line=line)
        out.append(text[position:start])
        out.append(re.sub(r"[^\n]", " ", text[start : end + 2]))
        position = end + 2
    out.append(text[position:])
    return "".join(out)
