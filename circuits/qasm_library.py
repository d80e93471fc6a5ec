"""Gate definitions that a parser inlines: the standard gates that OpenQASM files use beyond
the IR's own, and the ``gate`` definitions a file makes.

A :class:`Definition` is a body of IR ops on the formal qubits ``0..n-1`` whose angles are
expressions of the formal parameters; :func:`inline` applies it to actual qubits and angle
expressions. The standard ones (``qelib1.inc``'s ``cu3``, ``csx``, ``c3x``, ``c4x``,
``c3sqrtx``, ``rccx``, ``rc3x``, ``stdgates.inc``'s ``cu``, and Qiskit's other standard gates
such as ``ecr``, ``iswap``, ``dcx``, ``rzx``, ``cs``) are made from Qiskit's own definition of
each gate, so they keep its unitary up to global phase.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType

from circuits import expressions
from circuits.errors import CircuitError
from circuits.ir import GATES, Op

_QISKIT_NAMES = {"c3sqrtx": "c3sx", "rc3x": "rcccx"}
"""qelib1.inc names that Qiskit spells otherwise."""

_NOT_GATES = frozenset({"delay", "global_phase", "measure", "reset", "barrier"})


@dataclass(frozen=True)
class Definition:
    """A gate as a body of IR ops: ``params`` are the formal names its angles use, in the
    order a call gives them; the body acts on qubits ``0..num_qubits-1``."""

    name: str
    params: tuple[str, ...]
    num_qubits: int
    body: tuple[Op, ...]


def inline(definition: Definition, args: Sequence[str], qubits: Sequence[int]) -> list[Op]:
    """The body of ``definition`` on ``qubits`` with angle expressions ``args``."""
    mapping = dict(zip(definition.params, args, strict=True))
    return [
        Op(
            op.name,
            tuple(qubits[q] for q in op.qubits),
            tuple(expressions.substitute(p, mapping) for p in op.params),
        )
        for op in definition.body
    ]


def _portable() -> dict[str, Definition]:
    def op(name: str, *qubits: int, angle: str = "") -> Op:
        return Op(name, qubits, (angle,) if angle else ())

    parity = (op("cx", 0, 1), op("rz", 1, angle="_a0"), op("cx", 0, 1))
    bodies = {
        "sxdg": ((), (op("s", 0), op("h", 0), op("s", 0))),
        "rxx": (("_a0",), (op("h", 0), op("h", 1), *parity, op("h", 1), op("h", 0))),
        "ryy": (("_a0",), (op("sxdg", 0), op("sxdg", 1), *parity, op("sx", 0), op("sx", 1))),
        "rzz": (("_a0",), parity),
    }
    return {
        name: Definition(name, params, max(q for o in body for q in o.qubits) + 1, body)
        for name, (params, body) in bodies.items()
    }


PORTABLE: Mapping[str, Definition] = MappingProxyType(_portable())
"""The IR's gates that ``stdgates.inc`` lacks, as the canonical text defines them (the
bodies Qiskit's own exporter writes; ``ryy`` uses ``sxdg``), in the order they are written."""


def portable_text(definition: Definition) -> str:
    """``definition`` as one line of OpenQASM 3 (``gate rzz(_gate_p_0) _gate_q_0, ...``)."""
    params = {p: f"_gate_p_{i}" for i, p in enumerate(definition.params)}
    body = " ".join(
        op.name
        + (f"({', '.join(expressions.rename(p, params) for p in op.params)})" if op.params else "")
        + " "
        + ", ".join(f"_gate_q_{q}" for q in op.qubits)
        + ";"
        for op in definition.body
    )
    header = definition.name + (f"({', '.join(params.values())})" if params else "")
    qubits = ", ".join(f"_gate_q_{q}" for q in range(definition.num_qubits))
    return f"gate {header} {qubits} {{ {body} }}"


def standard(name: str) -> Definition | None:
    """The definition of standard gate ``name`` (None for a name that is not one)."""
    return _standard().get(name)


@functools.cache
def _standard() -> dict[str, Definition]:
    from qiskit import QuantumCircuit
    from qiskit.circuit import Gate
    from qiskit.circuit.library import (
        C3SXGate,
        C3XGate,
        C4XGate,
        RC3XGate,
        get_standard_gate_name_mapping,
    )

    from circuits.qiskit_convert import from_qiskit

    gates: dict[str, Gate] = {
        name: gate
        for name, gate in get_standard_gate_name_mapping().items()
        if isinstance(gate, Gate) and name not in GATES and name not in _NOT_GATES
    }
    gates |= {"c3x": C3XGate(), "c4x": C4XGate(), "c3sx": C3SXGate(), "rcccx": RC3XGate()}
    found: dict[str, Definition] = {}
    for name, gate in gates.items():
        circuit = QuantumCircuit(gate.num_qubits)
        circuit.append(gate, range(gate.num_qubits))
        try:
            ir = from_qiskit(circuit)
        except CircuitError:  # a gate Qiskit cannot decompose into ours: not offered
            continue
        order = list(circuit.parameters)  # what from_qiskit names ir.parameters after
        formal = tuple(ir.parameters[order.index(p)] for p in gate.params)
        found[name] = Definition(name, formal, gate.num_qubits, ir.ops)
    for qasm_name, qiskit_name in _QISKIT_NAMES.items():
        if qiskit_name in found:
            found[qasm_name] = found[qiskit_name]
    return found
