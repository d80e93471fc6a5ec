"""Circuits and observables for qcbroker.

A circuit is stored as canonical OpenQASM 3 text in a small, strict subset (see
``circuits/README.md``); the sha256 of that text is the circuit's identity. A gate-list IR
(:mod:`circuits.ir`) sits between the text and the SDK converters (:mod:`circuits.qiskit_convert`).
Observables are Pauli sums (:mod:`circuits.observables`), estimated from shots with
:mod:`circuits.measurement`.

This package does not depend on ``broker``, ``backends`` or ``policies``.
"""

from circuits.canonical import Circuit
from circuits.coerce import coerce_circuit, coerce_observable
from circuits.errors import CircuitError, ObservableError
from circuits.observables import PauliSum, PauliTerm

__all__ = [
    "Circuit",
    "CircuitError",
    "ObservableError",
    "PauliSum",
    "PauliTerm",
    "coerce_circuit",
    "coerce_observable",
]
