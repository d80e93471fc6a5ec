"""The declarations of an OpenQASM text (version, include, inputs, registers, physical
qubits), as a part of :class:`circuits.qasm_parser._Parser`: every register becomes a slice
of one flat qubit (or bit) register, in declaration order."""

from __future__ import annotations

import re
from dataclasses import dataclass

from circuits import expressions
from circuits.errors import CircuitError
from circuits.ir import GATES, MAX_QUBITS
from circuits.qasm_text import _clip, _integer

_QREG, _CREG = "q", "c"
_FORBIDDEN_REGISTER_NAMES = (expressions.RESERVED - expressions.GATE_NAMES - {_QREG, _CREG}) | set(
    GATES
)
_IDENT = r"[^\W\d]\w*"
_RE_VERSION = re.compile(r"OPENQASM\s+(\S+)")
_RE_INCLUDE = re.compile(r'include\s+"([^"]*)"')
_RE_INPUT = re.compile(rf"input\s+float\s*(?:\[\s*\d+\s*\])?\s+({_IDENT})")
_RE_REG3 = re.compile(rf"(qubit|bit)\s*(?:\[\s*(\d+)\s*\])?\s*({_IDENT})")
_RE_REG2 = re.compile(rf"(qreg|creg)\s+({_IDENT})\s*\[\s*(\d+)\s*\]")
_RE_PHYSICAL = re.compile(r"\$(\d+)")


@dataclass
class _Register:
    name: str
    size: int
    line: int
    offset: int = 0
    """Where its first qubit (or bit) sits in the circuit's one flat register."""


class _Declarations:
    """The declaration statements of :class:`circuits.qasm_parser._Parser`."""

    qreg: _Register | None
    creg: _Register | None
    named: dict[str, tuple[bool, _Register]]
    parameters: list[str]
    renames: dict[str, str]
    statements: int

    def _version(self, text: str, line: int) -> None:
        match = _RE_VERSION.fullmatch(text)
        if match is None or match.group(1) not in ("2", "2.0", "3", "3.0", "3.1"):
            raise CircuitError(
                f"unsupported version line {_clip(text)!r}",
                line=line,
                hint="use 'OPENQASM 3.0;' (or 'OPENQASM 2.0;')",
            )
        if self.statements != 1:
            raise CircuitError("the OPENQASM version line must be the first statement", line=line)

    def _include(self, text: str, line: int) -> None:
        match = _RE_INCLUDE.fullmatch(text)
        if match is None or match.group(1) not in ("stdgates.inc", "qelib1.inc"):
            raise CircuitError(
                f"unsupported include {_clip(text)!r}",
                line=line,
                hint='only include "stdgates.inc" (or "qelib1.inc") is supported',
            )

    def _input(self, text: str, line: int) -> None:
        match = _RE_INPUT.fullmatch(text)
        if match is None:
            raise CircuitError(
                f"bad input declaration {_clip(text)!r}",
                line=line,
                hint="write 'input float[64] name;'",
            )
        name = match.group(1)
        if name in expressions.GATE_NAMES:  # it would clash with the gate: read it renamed
            renamed = f"{name}_"
            while renamed in self.parameters or renamed in self.renames.values():
                renamed += "_"
            self.renames[name], name = renamed, renamed
        if not expressions.is_parameter_name(name):
            raise CircuitError(f"{name!r} is reserved and cannot name a parameter", line=line)
        if name in self.parameters or name in self._register_names():
            raise CircuitError(f"name {name!r} is declared twice", line=line)
        self.parameters.append(name)

    def _register(self, text: str, line: int) -> None:
        if (match3 := _RE_REG3.fullmatch(text)) is not None:
            kind, size_text, name = match3.groups()
            quantum = kind == "qubit"
            size = _integer(size_text, line) if size_text is not None else 1
        elif (match2 := _RE_REG2.fullmatch(text)) is not None:
            kind, name, size_text = match2.groups()
            quantum = kind == "qreg"
            size = _integer(size_text, line)
        else:
            raise CircuitError(
                f"bad register declaration {_clip(text)!r}",
                line=line,
                hint="write 'qubit[n] q;' and 'bit[n] c;'",
            )
        if not 1 <= size <= MAX_QUBITS:
            raise CircuitError(f"register size must be 1 to {MAX_QUBITS}, not {size}", line=line)
        if name in _FORBIDDEN_REGISTER_NAMES:
            raise CircuitError(f"{name!r} is reserved and cannot name a register", line=line)
        if name in self.parameters or name in self._register_names():
            raise CircuitError(f"name {name!r} is declared twice", line=line)
        whole = self.qreg if quantum else self.creg
        offset = whole.size if whole is not None else 0
        if offset + size > MAX_QUBITS:
            what = "qubits" if quantum else "bits"
            raise CircuitError(f"more than {MAX_QUBITS} {what} in all", line=line)
        self.named[name] = (quantum, _Register(name, size, line, offset))
        if whole is not None:
            whole.size += size
        elif quantum:
            self.qreg = _Register(name, size, line)
        else:
            self.creg = _Register(name, size, line)

    def _physical(self, text: str, line: int) -> None:
        """Make room for the physical qubits (``$3``) that ``text`` uses: they are the one
        register ``$``, as large as the highest one used needs, and no other may exist."""
        found = _RE_PHYSICAL.findall(text)
        if not found:  # "$" that names no qubit: the operand refuses it
            return
        highest = max(_integer(n, line) for n in found)
        if self.qreg is not None and "$" not in self.named:
            raise CircuitError(
                "physical qubits ($0, $1, ...) cannot be used with declared qubit registers",
                line=line,
                hint="use either physical qubits or declared registers",
            )
        if self.qreg is None:
            self.qreg = _Register("$", highest + 1, line)
            self.named["$"] = (True, _Register("$", highest + 1, line))
        grown = max(self.qreg.size, highest + 1)
        self.qreg.size = self.named["$"][1].size = grown

    def _register_names(self) -> set[str]:
        return set(self.named)
