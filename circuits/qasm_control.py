"""Classical control in OpenQASM text: ``if (c == 1) x q[0];`` (QASM 2's ``if(c==1)``),
``if (c[0]) { ... }``, ``if (!c[0])``, ``if (c[1:2] == 2)`` and, after a one-bit condition,
``else``.

The body's gates are read by the parser itself and each is given the condition (an
:data:`~circuits.ir.Condition`), so ``if (c == 1) { x q[0]; h q[1]; }`` becomes two
conditioned gates. A body holds gates only: a measurement inside it could change the bits
its own condition reads.
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import TYPE_CHECKING

from circuits.errors import CircuitError
from circuits.ir import NON_UNITARY, Condition
from circuits.qasm_text import _clip, _integer, _split_parens

if TYPE_CHECKING:
    from circuits.qasm_parser import _Parser

_IDENT = r"[^\W\d]\w*"
_RE_BIT = re.compile(rf"(!)?\s*({_IDENT})\s*(?:\[\s*(\d+)\s*(?::\s*(\d+)\s*)?\])?")
_RE_COMPARE = re.compile(r"(.+?)(==|!=)\s*(\w+)", re.DOTALL)
_RE_WORD = re.compile(_IDENT)
_BODY_WORDS = frozenset(
    {"measure", "reset", "qubit", "bit", "qreg", "creg", "input", "gate", "if", "else"}
)
_HINT = "write 'if (c == 1) x q[0];', 'if (c[0]) { x q[0]; }' or 'if (!c[0]) ...'"


def control(parent: _Parser, text: str, line: int, previous: Condition | None) -> Condition:
    """Read the ``if`` or ``else`` statement ``text`` (from ``line``) into ``parent``'s ops;
    ``previous`` is the condition of the ``if`` just before (for an ``else``). Returns the
    statement's condition."""
    if text.startswith("else"):
        if previous is None:
            raise CircuitError("'else' without an 'if' just before it", line=line)
        if len(previous[0]) != 1:
            raise CircuitError(
                "'else' after a condition on several bits is not supported",
                line=line,
                hint="write a second 'if' with the other value",
            )
        condition: Condition = (previous[0], 1 - previous[1])
        body = text[len("else") :]
    else:
        rest = text[len("if") :].lstrip()
        if not rest.startswith("("):
            raise CircuitError(f"bad condition in {_clip(text)!r}", line=line, hint=_HINT)
        inner, body = _split_parens(rest, line)
        condition = _condition(parent, inner, line)
    _body(parent, body, condition, line + text[: len(text) - len(body)].count("\n"))
    return condition


def _condition(parent: _Parser, text: str, line: int) -> Condition:
    """``c == 1``, ``c[0] == true``, ``c[0]``, ``!c[0]``, ``c[1:2] != 0`` as clbits and value."""
    compare = _RE_COMPARE.fullmatch(text.strip())
    operand, negate, value = text.strip(), False, 1
    if compare is not None:
        operand, operator, literal = compare.group(1).strip(), compare.group(2), compare.group(3)
        negate = operator == "!="
        value = {"true": 1, "false": 0}.get(literal, -1)
        if value < 0:
            value = _integer(literal, line) if literal.isdigit() else -1
        if value < 0:
            raise CircuitError(f"bad value {literal!r} in condition {text.strip()!r}", line=line)
    bit = _RE_BIT.fullmatch(operand)
    if bit is None or (bit.group(1) and compare is not None):
        raise CircuitError(f"unsupported condition {_clip(text.strip())!r}", line=line, hint=_HINT)
    if bit.group(1):
        negate = True
    clbits = _clbits(parent, bit.group(2), bit.group(3), bit.group(4), line)
    if value >= 2 ** len(clbits):
        raise CircuitError(
            f"condition value {value} does not fit in {len(clbits)} bit(s)", line=line
        )
    if negate and len(clbits) != 1:
        raise CircuitError(
            f"'!=' on several bits is not supported in {_clip(text.strip())!r}",
            line=line,
            hint="write the condition as '==' with the value wanted",
        )
    return (clbits, 1 - value) if negate else (clbits, value)


def _clbits(
    parent: _Parser, name: str, first: str | None, last: str | None, line: int
) -> tuple[int, ...]:
    found = parent.named.get(name)
    if found is None or found[0]:
        known = ", ".join(repr(n) for n, (q, _) in parent.named.items() if not q) or "none"
        raise CircuitError(
            f"a condition reads a bit register; {name!r} is not one (bit registers: {known})",
            line=line,
        )
    register = found[1]
    low = _integer(first, line) if first is not None else 0
    high = _integer(last, line) if last is not None else (low if first else register.size - 1)
    if not low <= high < register.size:
        raise CircuitError(
            f"bits {low} to {high} are out of range: register {name!r} has size {register.size}",
            line=line,
        )
    return tuple(range(register.offset + low, register.offset + high + 1))


def _body(parent: _Parser, body: str, condition: Condition, line: int) -> None:
    """Read ``body`` (one statement, or several in braces) as gates under ``condition``."""
    text = body.strip()
    if text.startswith("{"):
        if not text.endswith("}"):
            raise CircuitError("missing '}' at the end of a conditional block", line=line)
        text = text[1:-1]
    at = line + body[: len(body) - len(body.lstrip())].count("\n")
    for statement in text.split(";"):
        here = at + statement[: len(statement) - len(statement.lstrip())].count("\n")
        at += statement.count("\n")
        statement = statement.strip()
        if not statement:
            continue
        found = _RE_WORD.match(statement)
        if found is None or found.group(0) in _BODY_WORDS or "{" in statement or "=" in statement:
            raise CircuitError(
                f"{_clip(statement)!r} cannot be classically controlled here: only gates can",
                line=here,
            )
        before = len(parent.ops)
        parent.statement(statement, here)
        if any(op.name in NON_UNITARY for op in parent.ops[before:]):
            del parent.ops[before:]
            raise CircuitError(
                f"{_clip(statement)!r} cannot be classically controlled: only gates can",
                line=here,
            )
        parent.ops[before:] = [replace(op, condition=condition) for op in parent.ops[before:]]
