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
import operator
from collections.abc import Sequence
from typing import Any

import numpy as np
import pennylane as qml
from pennylane.measurements import MeasurementProcess
from pennylane.operation import Operator
from pennylane.ops import MeasurementValue, MidMeasure
from pennylane.tape import QuantumScript

from circuits import expressions
from circuits.errors import CircuitError
from circuits.ir import CircuitIR, Condition
from circuits.observables import PauliSum
from circuits.pennylane_import import from_pennylane

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

_PAULI = {"X": qml.PauliX, "Y": qml.PauliY, "Z": qml.PauliZ}


def _is_dynamic(ir: CircuitIR) -> bool:
    """Whether a measurement is followed by a gate on its qubit, or there is a reset or
    classical control: the script then needs mid-circuit measurements."""
    measured: set[int] = set()
    for op in ir.ops:
        if op.name == "reset" or op.condition is not None:
            return True
        if op.name == "measure":
            measured.update(op.qubits)
        elif op.name != "barrier" and measured.intersection(op.qubits):
            return True
    return False


def _sources(ir: CircuitIR) -> tuple[bool, list[int], dict[int, int]]:
    """How samples map to clbits: (dynamic, sampled wires or measure-op indices, clbit->column).

    Final measurements sample each measured qubit once; mid-circuit ones sample every
    ``measure`` op. A clbit written twice holds its last write. Either way the columns come
    in the order of the clbits they hold (then, mid-circuit, the overwritten measurements in
    the order they happen), so that reading the script back numbers the clbits as they were.
    """
    dynamic = _is_dynamic(ir)
    writes: dict[int, int] = {}  # clbit -> the key of its last write
    for index, op in enumerate(ir.ops):
        if op.name == "measure":
            writes[op.clbits[0]] = index if dynamic else op.qubits[0]
    columns = list(dict.fromkeys(writes[c] for c in sorted(writes)))
    if dynamic:
        held = set(columns)
        columns += [i for i, op in enumerate(ir.ops) if op.name == "measure" and i not in held]
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
    mid: dict[int, MidMeasure] = {}  # measure op index -> its mid-circuit measurement
    latest: dict[int, MidMeasure] = {}  # clbit -> the mid-circuit measurement it holds
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
                    mid[index] = latest[op.clbits[0]] = mcm
        elif op.name in _TO_PL:
            params = [expressions.evaluate(p, env) for p in op.params]
            gate = _TO_PL[op.name](*params, wires=wires)
            if op.condition is None:
                ops.append(gate)
            elif (condition := _pl_condition(op.condition, latest)) is not False:
                ops.append(gate if condition is True else qml.ops.Conditional(condition, gate))
        else:
            raise CircuitError(f"op {index}: unknown gate {op.name!r} in IR")
    if measurements is None:
        if dynamic:
            values = [MeasurementValue([mid[i]]) for i in columns]
            measurements = [qml.sample(op=values)] if values else []
        else:
            measurements = [qml.sample(wires=columns)] if columns else []
    return QuantumScript(ops, list(measurements), shots=shots)


def _pl_condition(condition: Condition, latest: dict[int, MidMeasure]) -> Any:
    """A PennyLane ``MeasurementValue`` testing ``condition`` on the measurements its clbits
    hold; a clbit not yet measured reads 0 (as in Qiskit), so a condition on none of them
    is a constant True or False."""
    clbits, value = condition
    held = [(i, latest[c]) for i, c in enumerate(clbits) if c in latest]
    if value & ~sum(1 << i for i, _ in held):
        return False  # the value needs a bit that is still 0
    if not held:
        return value == 0
    total = sum((MeasurementValue([mcm]) * (1 << i) for i, mcm in held[1:]),
                MeasurementValue([held[0][1]]) * (1 << held[0][0]))  # fmt: skip
    return total == value


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
