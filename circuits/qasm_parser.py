"""The parser behind :func:`circuits.qasm.parse`: one statement at a time into the IR.

Internal to :mod:`circuits.qasm`; its errors carry the 1-based line of the statement.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from circuits import expressions, qasm_library
from circuits.errors import CircuitError
from circuits.ir import GATES, CircuitIR, Condition, Op, supported_gate_names
from circuits.qasm_control import control
from circuits.qasm_declarations import _CREG, _QREG, _RE_PHYSICAL, _Declarations, _Register
from circuits.qasm_define import define
from circuits.qasm_library import Definition
from circuits.qasm_text import (
    _ALIASES,
    _broadcast,
    _check_distinct,
    _clip,
    _did_you_mean,
    _first_beyond,
    _integer,
    _split_parens,
    _split_top_level,
)

MAX_QUBIT_OPERANDS = 100_000
"""The most qubit operands a text may expand to (after broadcast, barriers included),
checked before a statement is expanded: ``h q;`` on a large register repeated many times
is refused at once, never built."""


_UNSUPPORTED_WORDS = frozenset(
    {
        "def", "defcal", "defcalgrammar", "cal", "opaque", "extern", "for", "while",
        "switch", "case", "box", "let", "const", "output", "return", "break", "continue",
        "end", "ctrl", "negctrl", "inv", "pow", "delay", "gphase", "float", "int", "uint",
        "bool", "angle", "complex", "duration", "stretch", "array", "pragma", "#pragma",
    }
)  # fmt: skip
_DECLARATION_WORDS = frozenset({"OPENQASM", "include", "input", "qubit", "bit", "qreg", "creg"})
_FLAT_ONLY_HINT = "supported gates: " + supported_gate_names()

_IDENT = r"[^\W\d]\w*"
_RE_OPERAND = re.compile(rf"({_IDENT})\s*(?:\[\s*(\d+)\s*\])?")
_RE_MEASURE3 = re.compile(r"(.+?)=\s*measure\b(.*)", re.DOTALL)
_RE_MEASURE2 = re.compile(r"measure\b(.*?)->(.*)", re.DOTALL)
_RE_WORD = re.compile(rf"#?{_IDENT}")


@dataclass
class _Parser(_Declarations):
    """Statement-by-statement state of :func:`loads`.

    With ``max_qubits``, a statement that uses a qubit beyond it is not expanded (the
    circuit will be refused for its qubits): ``beyond`` keeps the first such line and qubit.
    ``exhausted`` is set when the text would expand past :data:`MAX_QUBIT_OPERANDS`.
    """

    max_qubits: int | None = None
    qreg: _Register | None = None
    """Every qubit register as one: the first one's name and line, their total size."""
    creg: _Register | None = None
    """Every bit register as one, likewise."""
    named: dict[str, tuple[bool, _Register]] = field(default_factory=dict)
    """Each declared register by name: (quantum, the register at its offset)."""
    parameters: list[str] = field(default_factory=list)
    renames: dict[str, str] = field(default_factory=dict)
    """Inputs named like a gate (``t``), read as ``t_``: see ``expressions.GATE_NAMES``."""
    ops: list[Op] = field(default_factory=list)
    statements: int = 0
    operands: int = 0
    beyond: tuple[int, int] | None = None
    exhausted: bool = False
    definitions: dict[str, Definition] = field(default_factory=dict)
    last_if: Condition | None = None
    """The condition of the statement just read when it was an ``if`` (for an ``else``)."""

    def child(self, num_qubits: int, parameters: list[str], line: int) -> _Parser:
        """A parser for the body of a gate definition: the formal qubits as its register
        ``__q``, the formal parameters as its inputs, this file's definitions."""
        register = _Register("__q", num_qubits, line)
        return _Parser(
            qreg=register,
            named={"__q": (True, register)},
            parameters=parameters,
            definitions=self.definitions,
        )

    def statement(self, text: str, line: int) -> None:
        """Parse one statement (without its ``;``) found on ``line``."""
        self.statements += 1
        word_match = _RE_WORD.match(text)
        word = word_match.group(0) if word_match else ""
        previous, self.last_if = self.last_if, None
        if word in ("if", "else"):
            condition = control(self, text, line, previous)
            self.last_if = condition if word == "if" else None  # no 'else' after an 'else'
            return
        if word == "gate":
            definition = define(self, text, line)
            if definition is not None:
                self.definitions[definition.name] = definition
            return
        if word in _UNSUPPORTED_WORDS or "@" in text or "{" in text or "}" in text:
            raise CircuitError(
                f"unsupported statement {_clip(text)!r}: only the flat gate subset is "
                "supported (gates, gate definitions and 'if'; no modifiers or loops)",
                line=line,
                hint=_FLAT_ONLY_HINT,
            )
        if "$" in text and word not in _DECLARATION_WORDS:
            self._physical(text, line)
        if word == "OPENQASM":
            self._version(text, line)
        elif word == "include":
            self._include(text, line)
        elif word == "input":
            self._input(text, line)
        elif word in ("qubit", "bit", "qreg", "creg"):
            self._register(text, line)
        elif _RE_MEASURE3.fullmatch(text) or word == "measure":
            self._measure(text, line)
        else:
            self._gate(text, word, line)

    def _measure(self, text: str, line: int) -> None:
        if (match3 := _RE_MEASURE3.fullmatch(text)) is not None:
            target, source = match3.group(1), match3.group(2)
        elif (match2 := _RE_MEASURE2.fullmatch(text)) is not None:
            source, target = match2.group(1), match2.group(2)
        else:
            raise CircuitError(
                f"bad measurement {_clip(text)!r}",
                line=line,
                hint="write 'c[0] = measure q[0];'",
            )
        qubits = self._operands(source, line, quantum=True)
        clbits = self._operands(target, line, quantum=False)
        if len(qubits) != 1 or len(clbits) != 1:
            raise CircuitError("measure takes one qubit and one bit", line=line)
        if not self._spend(qubits, max(len(qubits[0]), len(clbits[0])), line):
            return
        for qs, cs in _broadcast([qubits[0], clbits[0]], line):
            self.ops.append(Op("measure", (qs,), (), (cs,)))

    def _gate(self, text: str, word: str, line: int) -> None:
        defined = self.definitions.get(word)
        name = _ALIASES.get(word, word)
        if defined is None and name not in GATES and name != "u2":
            defined = qasm_library.standard(name)
            if defined is None:
                raise CircuitError(
                    f"unknown gate {word!r}{_did_you_mean(word)}", line=line, hint=_FLAT_ONLY_HINT
                )
        rest = text[len(word) :].lstrip()
        params: list[str] = []
        if rest.startswith("("):
            inner, rest = _split_parens(rest, line)
            params = [p.strip() for p in _split_top_level(inner)] if inner.strip() else []
        if defined is not None:
            self._call(defined, word, params, rest, line)
            return
        spec = GATES["u"] if name == "u2" else GATES[name]
        wanted_params = 2 if name == "u2" else spec.num_params
        if len(params) != wanted_params:
            raise CircuitError(
                f"gate {word!r} takes {wanted_params} parameter(s), got {len(params)}", line=line
            )
        params = [self._expression(p, line) for p in params]
        if name == "u2":  # u2(phi, lambda) == u(pi/2, phi, lambda)
            name, params = "u", ["pi/2", *params]
        if self.qreg is None:
            raise CircuitError(
                f"missing qubit declaration before {word!r}",
                line=line,
                hint="declare 'qubit[n] q;' before the first gate",
            )
        operands = self._operands(rest, line, quantum=True) if rest.strip() else []
        if name == "barrier":
            width = sum(len(o) for o in operands) or self.qreg.size
            if not self._spend([], width, line, barrier=True):
                return
            qubits = [q for o in operands for q in o] if operands else list(range(self.qreg.size))
            _check_distinct(qubits, word, line)
            self.ops.append(Op("barrier", tuple(qubits)))
            return
        if len(operands) != spec.num_qubits:
            raise CircuitError(
                f"gate {word!r} acts on {spec.num_qubits} qubit(s), got {len(operands)}",
                line=line,
            )
        if not self._spend(operands, max(map(len, operands)) * len(operands), line):
            return
        for qubits in _broadcast(operands, line):
            _check_distinct(qubits, word, line)
            self.ops.append(Op(name, tuple(qubits), tuple(params)))

    def _call(
        self, defined: Definition, word: str, params: list[str], rest: str, line: int
    ) -> None:
        """A call of a defined gate: its body inlined on each (broadcast) application."""
        if len(params) != len(defined.params):
            raise CircuitError(
                f"gate {word!r} takes {len(defined.params)} parameter(s), got {len(params)}",
                line=line,
            )
        args = [self._expression(p, line) for p in params]
        if self.qreg is None:
            raise CircuitError(f"missing qubit declaration before {word!r}", line=line)
        operands = self._operands(rest, line, quantum=True) if rest.strip() else []
        if len(operands) != defined.num_qubits:
            raise CircuitError(
                f"gate {word!r} acts on {defined.num_qubits} qubit(s), got {len(operands)}",
                line=line,
            )
        size = sum(len(op.qubits) for op in defined.body) or 1
        if not self._spend(operands, max(map(len, operands)) * size, line):
            return
        for qubits in _broadcast(operands, line):
            _check_distinct(qubits, word, line)
            self.ops.extend(qasm_library.inline(defined, args, qubits))

    def _spend(
        self, operands: list[Sequence[int]], cost: int, line: int, *, barrier: bool = False
    ) -> bool:
        """Whether a statement of (at most) ``cost`` qubit operands is expanded: not when it
        uses a qubit beyond ``max_qubits`` (the first such use is kept in ``beyond``); a
        ``CircuitError`` (and ``exhausted``) when the text would pass
        :data:`MAX_QUBIT_OPERANDS`. Checked before anything is expanded."""
        limit = self.max_qubits
        if limit is not None and self.qreg is not None and self.qreg.size > limit:
            if barrier:
                return False
            first = _first_beyond(operands, limit)
            if first is not None:
                self.beyond = self.beyond or (line, first)
                return False
        if self.operands + cost > MAX_QUBIT_OPERANDS:
            self.exhausted = True
            raise CircuitError(
                f"the circuit expands to more than {MAX_QUBIT_OPERANDS:,} qubit operands "
                "(gates after broadcast); nothing past this line was read",
                line=line,
                hint="split the work into smaller circuits",
            )
        self.operands += cost
        return True

    def _expression(self, text: str, line: int) -> str:
        try:
            canonical = expressions.normalize(text)
            if self.renames:
                canonical = expressions.rename(canonical, self.renames)
            used = expressions.names(canonical)
        except CircuitError as exc:
            raise CircuitError(exc.message, line=line, hint=exc.hint) from exc
        undeclared = sorted(used - set(self.parameters))
        if undeclared:
            declared = ", ".join(self.parameters) if self.parameters else "none"
            raise CircuitError(
                f"undeclared parameter {undeclared[0]!r} in {text!r}; declared inputs: {declared}",
                line=line,
                hint=f"declare it with 'input float[64] {undeclared[0]};'",
            )
        if not used:  # a number: one a simulator can use
            try:
                value = float(expressions.evaluate(canonical, {}))
            except CircuitError as exc:
                raise CircuitError(exc.message, line=line, hint=exc.hint) from exc
            if not math.isfinite(value):
                raise CircuitError(
                    f"the angle {_clip(text)!r} is {value}, not a finite number", line=line
                )
        return canonical

    def _operands(self, text: str, line: int, *, quantum: bool) -> list[Sequence[int]]:
        """Operands as index lists: ``q[i]`` gives ``[i]``, a bare register all its indices."""
        register = self.qreg if quantum else self.creg
        kind = "qubit" if quantum else "bit"
        if register is None:
            raise CircuitError(
                f"missing {kind} declaration",
                line=line,
                hint=f"declare '{kind}[n] {_QREG if quantum else _CREG};' first",
            )
        result: list[Sequence[int]] = []
        for piece in _split_top_level(text):
            if quantum and (physical := _RE_PHYSICAL.fullmatch(piece.strip())) is not None:
                result.append([_integer(physical.group(1), line)])  # sized by _physical
                continue
            match = _RE_OPERAND.fullmatch(piece.strip())
            if match is None:
                raise CircuitError(f"bad {kind} operand {piece.strip()!r}", line=line)
            name, index_text = match.groups()
            found = self.named.get(name)
            if found is None or found[0] != quantum:
                known = ", ".join(repr(n) for n, (q, _) in self.named.items() if q == quantum)
                raise CircuitError(
                    f"unknown {kind} register {name!r}; {kind} registers: {known}", line=line
                )
            register = found[1]
            if index_text is None:  # a range: never built unless the statement is expanded
                result.append(range(register.offset, register.offset + register.size))
                continue
            index = _integer(index_text, line)
            if index >= register.size:
                raise CircuitError(
                    f"{kind} index {index} out of range: register {register.name!r} has size "
                    f"{register.size}",
                    line=line,
                )
            result.append([register.offset + index])
        return result

    def result(self, last_line: int) -> CircuitIR:
        """The parsed circuit; raise if no qubit register was declared."""
        if self.qreg is None:
            raise CircuitError(
                "missing qubit declaration",
                line=last_line,
                hint="declare 'qubit[n] q;'",
            )
        return CircuitIR(
            num_qubits=self.qreg.size,
            num_clbits=self.creg.size if self.creg else 0,
            parameters=tuple(self.parameters),
            ops=tuple(self.ops),
        )
