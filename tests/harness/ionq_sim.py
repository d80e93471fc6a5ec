"""IonQ's ``qis`` gate lists simulated with numpy: the unitaries the tests check every
translation against, and the probabilities the stand-in IonQ server answers with."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

Matrix = np.ndarray[Any, np.dtype[np.complex128]]


def _m(rows: Any) -> Matrix:
    return np.asarray(rows, dtype=np.complex128)


_X, _Y, _Z = _m([[0, 1], [1, 0]]), _m([[0, -1j], [1j, 0]]), _m([[1, 0], [0, -1]])
_V = _m([[1 + 1j, 1 - 1j], [1 - 1j, 1 + 1j]]) / 2
_FIXED: dict[str, Matrix] = {"x": _X, "not": _X, "cnot": _X, "y": _Y, "z": _Z, "v": _V}
_FIXED |= {"h": _m([[1, 1], [1, -1]]) / math.sqrt(2), "vi": _V.conj().T}
_FIXED |= {"s": _m(np.diag([1, 1j])), "si": _m(np.diag([1, -1j]))}
_FIXED["t"] = _m(np.diag([1, np.exp(1j * math.pi / 4)]))
_FIXED |= {"ti": _FIXED["t"].conj(), "swap": _m(np.eye(4)[[0, 2, 1, 3]])}
_AXES = {"rx": _X, "ry": _Y, "rz": _Z, "xx": np.kron(_X, _X), "yy": np.kron(_Y, _Y)}
_AXES["zz"] = np.kron(_Z, _Z)
QIS_GATES: frozenset[str] = frozenset(_FIXED) | frozenset(_AXES)
"""The ``qis`` gate names :func:`statevector` and :func:`unitary` understand."""


def gate_matrix(gate: Mapping[str, Any]) -> tuple[Matrix, list[int], list[int]]:
    """A ``qis`` gate's matrix (first target least significant), targets and controls.

    Raises:
        ValueError: unknown gate, or wrong targets or rotation.
    """
    name = gate.get("gate")
    targets = [int(t) for t in gate["targets"]] if "targets" in gate else [int(gate["target"])]
    controls = [int(c) for c in gate.get("controls", [])]
    if "control" in gate:
        controls.append(int(gate["control"]))
    if name in _FIXED:
        matrix = _FIXED[str(name)]
    elif name in _AXES:
        axis = _AXES[str(name)]
        half = float(gate["rotation"]) / 2
        matrix = math.cos(half) * np.eye(len(axis), dtype=complex) - 1j * math.sin(half) * axis
    else:
        raise ValueError(f"unknown qis gate {name!r}")
    if 2 ** len(targets) != len(matrix) or len(set(targets + controls)) != len(targets + controls):
        raise ValueError(f"gate {dict(gate)} has wrong or repeated targets and controls")
    return matrix, targets, controls


def _apply(state: Matrix, gate: Mapping[str, Any], n: int) -> Matrix:
    matrix, targets, controls = gate_matrix(gate)
    if any(not 0 <= q < n for q in targets + controls):
        raise ValueError(f"gate {dict(gate)} is outside {n} qubits")
    m = len(targets)
    # Qubit q is tensor axis n-1-q; the reshaped matrix lists its last target first.
    axes = [n - 1 - q for q in reversed(targets)]
    tensor = matrix.reshape((2,) * (2 * m))
    moved = np.tensordot(tensor, state, axes=(list(range(m, 2 * m)), axes))
    new = np.moveaxis(moved, list(range(m)), axes)
    if not controls:
        return new
    where: list[Any] = [slice(None)] * state.ndim
    for c in controls:
        where[n - 1 - c] = 1
    out = state.copy()
    out[tuple(where)] = new[tuple(where)]
    return out


def statevector(qubits: int, gates: Iterable[Mapping[str, Any]]) -> Matrix:
    """The state a ``qis`` gate list prepares from ``|0...0>`` (index bit q = qubit q)."""
    state = np.zeros((2,) * qubits, dtype=complex)
    state[(0,) * qubits] = 1
    for gate in gates:
        state = _apply(state, gate, qubits)
    return state.reshape(2**qubits)


def unitary(qubits: int, gates: Iterable[Mapping[str, Any]]) -> Matrix:
    """The unitary of a ``qis`` gate list, in Qiskit's order (qubit 0 least significant)."""
    dim = 2**qubits
    ops = np.eye(dim, dtype=complex).reshape((2,) * qubits + (dim,))
    for gate in gates:
        ops = _apply(ops, gate, qubits)
    return ops.reshape(dim, dim)


def probabilities(qubits: int, gates: Iterable[Mapping[str, Any]]) -> dict[str, float]:
    """What IonQ's ideal simulator returns: probability by decimal state (zeros left out)."""
    probs = np.abs(statevector(qubits, gates)) ** 2
    return {str(i): float(p) for i, p in enumerate(probs) if p > 1e-12}
