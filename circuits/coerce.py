"""Turn the loose inputs users give (SDK objects, text, lists) into our canonical types."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError
from qiskit import QuantumCircuit
from qiskit.quantum_info import SparsePauliOp

from circuits.canonical import Circuit
from circuits.errors import CircuitError, ObservableError
from circuits.observables import PauliSum, PauliTerm, validation_message

__all__ = ["coerce_circuit", "coerce_observable"]


def coerce_circuit(obj: object) -> Circuit:
    """A :class:`Circuit` from a ``Circuit``, a Qiskit ``QuantumCircuit`` or OpenQASM 2/3 text."""
    if isinstance(obj, Circuit):
        return obj
    if isinstance(obj, QuantumCircuit):
        return Circuit.from_qiskit(obj)
    if isinstance(obj, str):
        return Circuit.from_qasm(obj)
    raise CircuitError(
        f"cannot use a {type(obj).__name__} as a circuit",
        hint="pass a qiskit QuantumCircuit, OpenQASM 3 (or 2) text, or a circuits.Circuit",
    )


def coerce_observable(obj: object) -> PauliSum:
    """A :class:`PauliSum` from a ``PauliSum``, ``SparsePauliOp``, text or list of terms.

    Lists may hold ``(pauli, coeff)`` pairs or ``{"pauli": ..., "coeff": ...}`` maps.
    """
    if isinstance(obj, PauliSum):
        return obj
    if isinstance(obj, SparsePauliOp):
        return PauliSum.from_sparse_pauli_op(obj)
    if isinstance(obj, str):
        return PauliSum.from_text(obj)
    if isinstance(obj, list | tuple):
        terms = [_term(index, item) for index, item in enumerate(obj)]
        try:
            return PauliSum(terms=terms)
        except ValidationError as exc:
            raise ObservableError(f"invalid observable: {validation_message(exc)}") from exc
    raise ObservableError(
        f"cannot use a {type(obj).__name__} as an observable",
        hint="pass a PauliSum, a qiskit SparsePauliOp, text like '0.5 * ZZ - 0.2 * XI', "
        "or a list of {pauli, coeff} maps or (pauli, coeff) pairs",
    )


def _term(index: int, item: Any) -> PauliTerm:
    try:
        if isinstance(item, PauliTerm):
            return item
        if isinstance(item, Mapping):
            return PauliTerm.model_validate(dict(item))
        if isinstance(item, list | tuple) and len(item) == 2:
            pauli, coeff = item
            return PauliTerm(pauli=pauli, coeff=coeff)
    except ValidationError as exc:
        raise ObservableError(f"term {index}: {validation_message(exc)}") from exc
    raise ObservableError(
        f"term {index}: {item!r} is not a (pauli, coeff) pair or a {{pauli, coeff}} map"
    )
