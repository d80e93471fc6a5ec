"""Final analysis of a VQE result: a classical task run once the optimizer has finished.

It compares the state the optimized circuit prepares with the Hamiltonian's exact spectrum:
energies, ground-state fidelity, spectral gap and the energy of each Pauli term. Like every
classical entry point (``module:function``) it takes and returns JSON only.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from qiskit.quantum_info import Pauli, Statevector

from circuits.canonical import Circuit
from circuits.observables import PauliSum

__all__ = ["DEGENERACY_TOLERANCE", "vqe_analysis"]

DEGENERACY_TOLERANCE = 1e-9
"""Eigenvalues closer than this (Ha) to the lowest one span the ground space."""


def _statevector(circuit: Circuit, parameters: list[float]) -> Statevector:
    """The state the circuit prepares from |0...0> with ``parameters`` bound (measurements off)."""
    bound = circuit.bind(parameters).remove_final_measurements(inplace=False)
    return Statevector(bound)


def _spectrum(hamiltonian: PauliSum) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    """Eigenvalues (ascending) and eigenvectors (columns) of the dense Hamiltonian."""
    values, vectors = np.linalg.eigh(hamiltonian.to_matrix())
    return values, vectors


def vqe_analysis(payload: dict[str, Any]) -> dict[str, Any]:
    """Analyse the state of an optimized VQE circuit against the exact spectrum.

    ``payload``: ``hamiltonian`` (a :class:`PauliSum` dump), ``circuit`` (OpenQASM 3 text),
    ``parameters`` (values in :attr:`Circuit.parameters` order) and ``energy_offset``
    (default 0, added to every energy). Returns ``exact_energy``, ``state_energy``, ``error``
    (state minus exact), ``ground_state_fidelity`` (weight of the state in the ground space,
    degenerate eigenvalues included), ``spectral_gap`` (0 when the spectrum is one level) and
    ``term_energies`` (each Pauli term's coefficient and expectation value).
    """
    hamiltonian = PauliSum.model_validate(payload["hamiltonian"])
    circuit = Circuit.from_qasm(payload["circuit"])
    parameters = [float(v) for v in payload.get("parameters", [])]
    offset = float(payload.get("energy_offset", 0.0))
    if circuit.num_qubits != hamiltonian.num_qubits:
        raise ValueError(
            f"the circuit has {circuit.num_qubits} qubits but the Hamiltonian acts on "
            f"{hamiltonian.num_qubits}"
        )
    state = _statevector(circuit, parameters)
    values, vectors = _spectrum(hamiltonian)
    ground = values <= values[0] + DEGENERACY_TOLERANCE
    overlaps = vectors[:, ground].conj().T @ np.asarray(state.data)
    excited = values[~ground]
    terms = [
        {
            "pauli": term.pauli,
            "coefficient": term.coeff,
            "expectation": float(np.real(state.expectation_value(Pauli(term.pauli)))),
        }
        for term in hamiltonian.terms
    ]
    exact = float(values[0]) + offset
    energy = hamiltonian.expectation(np.asarray(state.data)) + offset
    return {
        "exact_energy": exact,
        "state_energy": energy,
        "error": energy - exact,
        "ground_state_fidelity": float(np.sum(np.abs(overlaps) ** 2)),
        "spectral_gap": float(excited[0] - values[0]) if excited.size else 0.0,
        "term_energies": terms,
    }
