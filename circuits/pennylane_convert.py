"""Conversion between the IR and PennyLane quantum scripts (no pennylane-qiskit needed).

Qubit ``i`` is wire ``i``. Gates keep Qiskit's conventions (``u`` is ``U3``, ``p`` is
``PhaseShift``, ``cp`` is ``ControlledPhaseShift``, ``rxx``/``ryy``/``rzz`` are
``IsingXX``/``YY``/``ZZ``, ``sxdg`` is ``adjoint(SX)``), with identical matrices. Beware that
``qml.matrix`` puts wire 0 in the most significant bit, Qiskit's ``Operator`` in the least.

PennyLane has no symbolic parameters: :func:`to_pennylane` evaluates the IR's expressions at
values given positionally in the IR's ``parameters`` order, and :func:`from_pennylane` gives
an IR with numeric angles only.

Measurements: when every ``measure`` is final (nothing but measurements or barriers follows
on its qubit) and there is no ``reset``, the script ends in one ``qml.sample`` of the measured
wires. Otherwise every ``measure`` and ``reset`` becomes a mid-circuit measurement and the
script samples those. :func:`counts_from_samples` turns either kind of samples into counts
keyed by Qiskit-order bitstrings (clbit 0 rightmost).
"""

from __future__ import annotations

import functools
import math
import operator
from collections.abc import Hashable, Sequence
from typing import Any

import numpy as np
import pennylane as qml
from pennylane.measurements import CountsMP, MeasurementProcess, ProbabilityMP, SampleMP
from pennylane.operation import Operator
from pennylane.ops import MeasurementValue, MidMeasure
from pennylane.tape import QuantumScript

from circuits import expressions
from circuits.errors import CircuitError
from circuits.ir import CircuitIR, Op, validate
from circuits.observables import PauliSum

__all__ = ["counts_from_samples", "from_pennylane", "pauli_observable", "to_pennylane"]

_TO_PL: dict[str, Any] = {
    "id": qml.Identity,
    "x": qml.PauliX,
    "y": qml.PauliY,
    "z": qml.PauliZ,
    "h": qml.Hadamard,
    "s": qml.S,
    "sdg": lambda wires: qml.adjoint(qml.S(wires)),
    "t": qml.T,
    "tdg": lambda wires: qml.adjoint(qml.T(wires)),
    "sx": qml.SX,
    "sxdg": lambda wires: qml.adjoint(qml.SX(wires)),
    "rx": qml.RX,
    "ry": qml.RY,
    "rz": qml.RZ,
    "p": qml.PhaseShift,
    "u": qml.U3,
    "cx": qml.CNOT,
    "cy": qml.CY,
    "cz": qml.CZ,
    "ch": qml.CH,
    "swap": qml.SWAP,
    "crx": qml.CRX,
    "cry": qml.CRY,
    "crz": qml.CRZ,
    "cp": qml.ControlledPhaseShift,
    "rxx": qml.IsingXX,
    "ryy": qml.IsingYY,
    "rzz": qml.IsingZZ,
    "ccx": qml.Toffoli,
    "cswap": qml.CSWAP,
}

# PennyLane operation names (``Operator.name``) that map one to one onto IR gates.
_FROM_PL: dict[str, str] = {
    "Identity": "id",
    "PauliX": "x",
    "PauliY": "y",
    "PauliZ": "z",
    "Hadamard": "h",
    "S": "s",
    "Adjoint(S)": "sdg",
    "T": "t",
    "Adjoint(T)": "tdg",
    "SX": "sx",
    "Adjoint(SX)": "sxdg",
    "RX": "rx",
    "RY": "ry",
    "RZ": "rz",
    "PhaseShift": "p",
    "U1": "p",
    "U3": "u",
    "CNOT": "cx",
    "CY": "cy",
    "CZ": "cz",
    "CH": "ch",
    "SWAP": "swap",
    "CRX": "crx",
    "CRY": "cry",
    "CRZ": "crz",
    "ControlledPhaseShift": "cp",
    "IsingXX": "rxx",
    "IsingYY": "ryy",
    "IsingZZ": "rzz",
    "Toffoli": "ccx",
    "CSWAP": "cswap",
}

_PAULI = {"X": qml.PauliX, "Y": qml.PauliY, "Z": qml.PauliZ}
_MAX_DECOMPOSITION_DEPTH = 32


def _is_dynamic(ir: CircuitIR) -> bool:
    """Whether a measurement or reset is followed by a gate on its qubit (or there is a reset)."""
    measured: set[int] = set()
    for op in ir.ops:
        if op.name == "reset":
            return True
        if op.name == "measure":
            measured.update(op.qubits)
        elif op.name != "barrier" and measured.intersection(op.qubits):
            return True
    return False


def _sources(ir: CircuitIR) -> tuple[bool, list[int], dict[int, int]]:
    """How samples map to clbits: (dynamic, sampled wires or measure-op indices, clbit->column).

    Final measurements sample each measured qubit once; mid-circuit ones sample every
    ``measure`` op. A clbit written twice holds its last write.
    """
    dynamic = _is_dynamic(ir)
    writes: dict[int, int] = {}  # clbit -> the key of its last write
    for index, op in enumerate(ir.ops):
        if op.name == "measure":
            writes[op.clbits[0]] = index if dynamic else op.qubits[0]
    if dynamic:  # every measure op is sampled, in the order they happen
        columns = [i for i, op in enumerate(ir.ops) if op.name == "measure"]
    else:  # final measurements: each qubit once, in the order of the clbits they write, so
        # that reading the script back numbers the clbits as they were
        columns = list(dict.fromkeys(writes[c] for c in sorted(writes)))
    clbit_column = {clbit: columns.index(key) for clbit, key in writes.items()}
    return dynamic, columns, clbit_column


def to_pennylane(
    ir: CircuitIR,
    values: Sequence[Any] | None = None,
    *,
    measurements: Sequence[MeasurementProcess] | None = None,
    shots: int | None = None,
) -> QuantumScript:
    """A PennyLane ``QuantumScript`` for ``ir`` with ``values`` bound in ``ir.parameters`` order.

    ``measurements`` replace the ones made from the IR's ``measure`` ops (e.g. expectation
    values); with neither, the script measures nothing. Values may be trainable tensors;
    expressions using only arithmetic keep them differentiable.

    Raises:
        CircuitError: wrong number of values, or an expression that cannot be evaluated.
    """
    given = list(values) if values is not None else []
    if len(given) != len(ir.parameters):
        raise CircuitError(
            f"expected {len(ir.parameters)} parameter values, got {len(given)}",
            hint=f"pass values in this order: {', '.join(ir.parameters) or '(none)'}",
        )
    env = dict(zip(ir.parameters, given, strict=True))
    dynamic, columns, _ = _sources(ir)
    ops: list[Operator] = []
    mid: list[MidMeasure] = []
    for index, op in enumerate(ir.ops):
        wires = list(op.qubits)
        if op.name == "barrier":
            ops.append(qml.Barrier(wires=wires))
        elif op.name in ("measure", "reset"):
            if dynamic:
                reset = op.name == "reset"
                mcm = MidMeasure(wires, reset=reset, meas_uid=f"qcb_{index}")
                ops.append(mcm)
                if not reset:
                    mid.append(mcm)
        elif op.name in _TO_PL:
            params = [expressions.evaluate(p, env) for p in op.params]
            ops.append(_TO_PL[op.name](*params, wires=wires))
        else:
            raise CircuitError(f"op {index}: unknown gate {op.name!r} in IR")
    if measurements is None:
        if dynamic:
            measurements = [qml.sample(op=[MeasurementValue([m]) for m in mid])] if mid else []
        else:
            measurements = [qml.sample(wires=columns)] if columns else []
    return QuantumScript(ops, list(measurements), shots=shots)


def counts_from_samples(ir: CircuitIR, samples: Any) -> dict[str, int]:
    """Counts keyed by Qiskit-order bitstrings (``ir.num_clbits`` characters, clbit 0
    rightmost) from the samples of :func:`to_pennylane`'s default measurement of ``ir``.

    Clbits that no ``measure`` writes read ``0``.
    """
    _, columns, clbit_column = _sources(ir)
    if not columns:
        raise CircuitError("the circuit measures nothing, so it has no counts")
    table = np.asarray(samples).reshape(-1, len(columns))
    bits = np.zeros((table.shape[0], ir.num_clbits), dtype=np.uint8)
    for clbit, column in clbit_column.items():
        bits[:, ir.num_clbits - 1 - clbit] = table[:, column]
    rows, counts = np.unique(bits, axis=0, return_counts=True)
    return {"".join("01"[b] for b in row): int(n) for row, n in zip(rows, counts, strict=True)}


def pauli_observable(obs: PauliSum) -> Operator:
    """``obs`` as a ``qml.Hamiltonian`` (repeated strings summed; character ``-1 - i`` of each
    string acts on wire ``i``)."""
    merged: dict[str, float] = {}
    for term in obs.terms:
        merged[term.pauli] = merged.get(term.pauli, 0.0) + term.coeff
    words = []
    for label in merged:
        factors = [_PAULI[ch](wire) for wire, ch in enumerate(reversed(label)) if ch != "I"]
        words.append(functools.reduce(operator.matmul, factors) if factors else qml.Identity(0))
    return qml.Hamiltonian(list(merged.values()), words)


def from_pennylane(
    circuit: QuantumScript | Sequence[Operator | MeasurementProcess],
    *,
    wire_order: Sequence[Hashable] | None = None,
) -> CircuitIR:
    """Convert a quantum script (e.g. a QNode's tape) or a list of operations to the IR.

    Qubit ``i`` is ``wire_order[i]``; by default integer wires keep their number and other
    labels are numbered in order of appearance. Operations without an IR gate are decomposed
    with PennyLane's decompositions until they have one; ``GlobalPhase`` is dropped.

    Clbits are numbered in order: every mid-circuit measurement, then every wire of a final
    ``sample``/``counts``/``probs``. A mid-circuit measurement with ``reset`` whose value no
    measurement of the script reads is a plain ``reset``. Expectation-type measurements
    (``expval``, ``var``, ``state``, ...) are not part of a circuit and are left out.

    Raises:
        CircuitError: an operation that does not decompose into IR gates (its name and index
            are in the message), classical control, postselection, a non-numeric or broadcast
            parameter, or a sampling measurement of an observable.
    """
    if isinstance(circuit, QuantumScript):
        operations, measurements = list(circuit.operations), list(circuit.measurements)
    else:
        operations = [o for o in circuit if isinstance(o, Operator)]
        measurements = [m for m in circuit if isinstance(m, MeasurementProcess)]
    all_wires = qml.wires.Wires.all_wires(
        [o.wires for o in operations] + [m.wires for m in measurements]
    )
    qubit = _qubit_numbering(list(all_wires), wire_order)
    builder = _Builder(qubit, _referenced(measurements))
    for index, op in enumerate(operations):
        builder.add(op, index, op, 0)
    for mp in measurements:
        builder.measure(mp, list(all_wires))
    num_qubits = max(len(qubit), 1)
    ir = CircuitIR(num_qubits, builder.clbits, (), tuple(builder.ops))
    validate(ir)
    return ir


def _qubit_numbering(
    wires: list[Hashable], wire_order: Sequence[Hashable] | None
) -> dict[Hashable, int]:
    if wire_order is not None:
        qubit = {w: i for i, w in enumerate(wire_order)}
        missing = [w for w in wires if w not in qubit]
        if missing:
            raise CircuitError(f"wires {missing} are not in wire_order {list(wire_order)}")
        return qubit
    if all(isinstance(w, int | np.integer) and w >= 0 for w in wires):
        top = max((int(w) for w in wires), default=0)  # type: ignore[call-overload]
        return {i: i for i in range(top + 1)}
    return {w: i for i, w in enumerate(wires)}


def _referenced(measurements: list[MeasurementProcess]) -> set[Hashable] | None:
    """Keys of the mid-circuit measurements whose values the script reads (None: no
    measurement reads any, so all count as read)."""
    keys: set[Hashable] = set()
    found = False
    for mp in measurements:
        if mp.mv is None:
            continue
        found = True
        for value in mp.mv if isinstance(mp.mv, list) else [mp.mv]:
            for mcm in value.measurements:
                keys.update(_mcm_keys(mcm))
    return keys if found else None


def _mcm_keys(mcm: Operator) -> set[Hashable]:
    keys: set[Hashable] = {id(mcm)}
    if getattr(mcm, "meas_uid", None) is not None:
        keys.add(mcm.hash)
    return keys


class _Builder:
    """Accumulates IR ops while walking PennyLane operations."""

    def __init__(self, qubit: dict[Hashable, int], referenced: set[Hashable] | None) -> None:
        self.qubit = qubit
        self.referenced = referenced
        self.ops: list[Op] = []
        self.clbits = 0

    def _fail(self, top: Operator, index: int, why: str) -> CircuitError:
        return CircuitError(f"operation {top.name!r} at index {index} {why}")

    def add(self, op: Operator, index: int, top: Operator, depth: int) -> None:
        """Append ``op`` (part of operation ``top`` at ``index``), decomposing as needed."""
        outside = [w for w in op.wires if w not in self.qubit]
        if outside:
            raise self._fail(top, index, f"uses wires {outside} outside the circuit")
        qubits = tuple(self.qubit[w] for w in op.wires)
        name = op.name
        if name in _FROM_PL and not (name == "Identity" and len(qubits) != 1):
            params = tuple(_angle(p, top, index) for p in op.parameters)
            self.ops.append(Op(_FROM_PL[name], qubits, params))
        elif name == "Identity":
            self.ops.extend(Op("id", (q,)) for q in qubits)
        elif name == "GlobalPhase":
            return  # the IR does not keep global phase
        elif name == "U2":
            phi, delta = (_angle(p, top, index) for p in op.parameters)
            self.ops.append(Op("u", qubits, ("pi/2", phi, delta)))
        elif name == "Barrier":
            if qubits:
                self.ops.append(Op("barrier", qubits))
        elif isinstance(op, MidMeasure):
            if op.postselect is not None:
                raise self._fail(top, index, "postselects, which a circuit cannot express")
            read = self.referenced is None or bool(_mcm_keys(op) & self.referenced)
            # A reset whose outcome nobody reads is a plain reset; any other measurement
            # keeps a clbit, because it collapses the state even when unread.
            if read or not op.reset:
                self.ops.append(Op("measure", qubits, (), (self.clbits,)))
                self.clbits += 1
            if op.reset:
                self.ops.append(Op("reset", qubits))
        elif isinstance(op, qml.ops.Conditional):
            raise self._fail(top, index, "is classically controlled, which is not supported")
        elif op.has_decomposition and depth < _MAX_DECOMPOSITION_DEPTH:
            try:
                parts = op.decomposition()
            except Exception as exc:  # PennyLane raises several types for "cannot decompose"
                raise self._fail(top, index, f"failed to decompose ({exc})") from exc
            for part in parts:
                self.add(part, index, top, depth + 1)
        else:
            raise self._fail(
                top,
                index,
                f"does not decompose into supported gates (stuck at {name!r})",
            )

    def measure(self, mp: MeasurementProcess, all_wires: list[Hashable]) -> None:
        """Append final measurements for a sampling measurement; others are left out."""
        if not isinstance(mp, SampleMP | CountsMP | ProbabilityMP) or mp.mv is not None:
            return
        if mp.obs is not None:
            raise CircuitError(
                f"measurement {mp!r} samples an observable",
                hint="rotate into the computational basis with gates and sample wires",
            )
        for wire in mp.wires or all_wires:
            self.ops.append(Op("measure", (self.qubit[wire],), (), (self.clbits,)))
            self.clbits += 1


def _angle(value: Any, top: Operator, index: int) -> str:
    try:
        number = np.asarray(qml.math.unwrap(value))
        if number.ndim != 0:
            raise CircuitError(
                f"operation {top.name!r} at index {index} has a broadcast parameter",
                hint="convert one parameter set at a time",
            )
        real = complex(number.item())
    except CircuitError:
        raise
    except Exception as exc:  # tracers and other non-numeric parameters
        raise CircuitError(
            f"operation {top.name!r} at index {index} has a non-numeric parameter {value!r}"
        ) from exc
    if real.imag != 0.0 or not math.isfinite(real.real):
        raise CircuitError(
            f"operation {top.name!r} at index {index} has parameter {value!r}, not a finite real"
        )
    return repr(float(real.real))
