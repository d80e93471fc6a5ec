"""PennyLane quantum scripts (or lists of operations) to the IR: :func:`from_pennylane`.

The other way, and the conventions both share, are in :mod:`circuits.pennylane_convert`.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Sequence
from typing import Any

import numpy as np
import pennylane as qml
from pennylane.measurements import CountsMP, MeasurementProcess, ProbabilityMP, SampleMP
from pennylane.operation import Operator
from pennylane.ops import MidMeasure
from pennylane.tape import QuantumScript

from circuits.errors import CircuitError
from circuits.ir import CircuitIR, Op, validate

__all__ = ["from_pennylane"]

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

_MAX_DECOMPOSITION_DEPTH = 32


def from_pennylane(
    circuit: QuantumScript | Sequence[Operator | MeasurementProcess],
    *,
    wire_order: Sequence[Hashable] | None = None,
) -> CircuitIR:
    """Convert a quantum script (e.g. a QNode's tape) or a list of operations to the IR.

    Qubit ``i`` is ``wire_order[i]``; by default integer wires keep their number and other
    labels are numbered in order of appearance. Operations without an IR gate are decomposed
    with PennyLane's decompositions until they have one; ``GlobalPhase`` is dropped.

    Clbits are numbered in order: the mid-circuit measurements that the first sample (or
    counts) of measurement values lists, in its order; the other mid-circuit measurements;
    then every wire of a final ``sample``/``counts``/``probs``. A mid-circuit measurement
    with ``reset`` whose value no measurement of the script reads is a plain ``reset``.
    Expectation-type measurements (``expval``, ``var``, ``state``, ...) are not part of a
    circuit and are left out.

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
    builder = _Builder(qubit, _referenced(measurements), _listed(measurements))
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


def _listed(measurements: list[MeasurementProcess]) -> dict[Hashable, int]:
    """Keys of the mid-circuit measurements that the first sample or counts of measurement
    values lists, each with its place in the list (the clbit it reads back as)."""
    for mp in measurements:
        if isinstance(mp, SampleMP | CountsMP) and isinstance(mp.mv, list):
            places: dict[Hashable, int] = {}
            for place, value in enumerate(mp.mv):
                if len(value.measurements) == 1:
                    for key in _mcm_keys(value.measurements[0]):
                        places.setdefault(key, place)
            return places
    return {}


def _mcm_keys(mcm: Operator) -> set[Hashable]:
    keys: set[Hashable] = {id(mcm)}
    if getattr(mcm, "meas_uid", None) is not None:
        keys.add(mcm.hash)
    return keys


class _Builder:
    """Accumulates IR ops while walking PennyLane operations."""

    def __init__(
        self,
        qubit: dict[Hashable, int],
        referenced: set[Hashable] | None,
        listed: dict[Hashable, int],
    ) -> None:
        self.qubit = qubit
        self.referenced = referenced
        self.listed = listed
        self.ops: list[Op] = []
        self.clbits = max(listed.values(), default=-1) + 1  # the next clbit not listed

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
                places = [self.listed[k] for k in _mcm_keys(op) if k in self.listed]
                clbit = places[0] if places else self.clbits
                self.ops.append(Op("measure", qubits, (), (clbit,)))
                self.clbits += 0 if places else 1
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
