"""``gate`` definitions in OpenQASM text (``gate cu3(theta, phi, lambda) c, t { ... }``):
read into a :class:`~circuits.qasm_library.Definition` that later calls inline.

The body is read by a parser of its own whose only register is the formal qubits and whose
only inputs are the formal parameters (renamed, since ``lambda`` cannot be a Python name).
It may call the IR's gates, the standard library and earlier definitions; a definition
that names a known gate replaces it for the rest of the file, as the file says.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from circuits.errors import CircuitError
from circuits.qasm_library import PORTABLE, Definition
from circuits.qasm_text import _clip

if TYPE_CHECKING:
    from circuits.qasm_parser import _Parser

_IDENT = r"[^\W\d]\w*"
_RE_GATE = re.compile(rf"gate\s+({_IDENT})\s*(?:\(([^)]*)\))?\s*([^{{]*)\{{(.*)\}}\s*", re.DOTALL)
_RE_WORD = re.compile(_IDENT)
_BODY_WORDS = frozenset({"measure", "reset", "qubit", "bit", "qreg", "creg", "input", "gate"})


def define(parent: _Parser, text: str, line: int) -> Definition | None:
    """The definition that ``text`` (a whole ``gate ... { ... }`` statement from ``line``)
    makes; ``CircuitError`` with the line of what is wrong. None for the definition that the
    canonical text (and Qiskit's exporter) writes of an IR gate outside ``stdgates.inc``
    (``rzz``...): that gate stays itself rather than being inlined."""
    match = _RE_GATE.fullmatch(text)
    if match is None and "{" in text and not text.rstrip().endswith("}"):
        raise CircuitError("missing '}' at the end of a gate definition", line=line)
    if match is None:
        raise CircuitError(
            f"bad gate definition {_clip(text)!r}",
            line=line,
            hint="write 'gate name(a, b) q0, q1 { ... }' with only gates in the body",
        )
    name, params_text, qargs_text, body = match.groups()
    params = _names(params_text or "", "parameter", line)
    qargs = _names(qargs_text, "qubit", line)
    if not qargs:
        raise CircuitError(f"gate {name!r} names no qubit", line=line)
    if set(params) & set(qargs):
        raise CircuitError(f"gate {name!r} uses a name for a parameter and a qubit", line=line)
    formal = {p: f"_a{i}" for i, p in enumerate(params)}
    formal |= {q: f"__q[{i}]" for i, q in enumerate(qargs)}
    pattern = re.compile(rf"(?<![\w.]){'|'.join(map(re.escape, formal))}(?!\w)")
    child = parent.child(len(qargs), [formal[p] for p in params], line)
    at = line + text[: match.start(4)].count("\n")
    for statement in body.split(";"):
        here = at + statement[: len(statement) - len(statement.lstrip())].count("\n")
        at += statement.count("\n")
        statement = statement.strip()
        if not statement:
            continue
        found = _RE_WORD.match(statement)
        word = found.group(0) if found else ""
        if not word or word in _BODY_WORDS or "=" in statement or "{" in statement:
            raise CircuitError(
                f"{_clip(statement)!r} cannot be in a gate definition: only gates can",
                line=here,
            )
        rest = pattern.sub(lambda m: formal[m.group(0)], statement[len(word) :])
        child.statement(word + rest, here)
    made = Definition(name, tuple(formal[p] for p in params), len(qargs), tuple(child.ops))
    return None if PORTABLE.get(name) == made else made


def _names(text: str, what: str, line: int) -> list[str]:
    names = [n.strip() for n in text.split(",")] if text.strip() else []
    for name in names:
        if not re.fullmatch(_IDENT, name):
            raise CircuitError(f"bad {what} name {name!r} in a gate definition", line=line)
    if len(set(names)) != len(names):
        raise CircuitError(f"a {what} name is given twice in a gate definition", line=line)
    return names
