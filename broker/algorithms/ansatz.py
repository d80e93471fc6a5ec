"""The VQE's ansatz: a library circuit or OpenQASM 3, built once per process.

A job's inputs are parsed again at every step; building the ansatz (Qiskit's library, the
canonical form) is the dear part, so it is cached by its description. A
:class:`~circuits.canonical.Circuit` is frozen, so sharing one is safe.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field
from qiskit.circuit.library import efficient_su2, real_amplitudes

from circuits.canonical import Circuit


class LibraryAnsatz(BaseModel):
    """A hardware-efficient ansatz from Qiskit's circuit library."""

    model_config = ConfigDict(extra="forbid")

    library: Literal["real_amplitudes", "efficient_su2"] = Field(
        description="A circuit library ansatz: real_amplitudes..."
    )
    reps: int = Field(default=2, ge=1, le=50, description="Repetitions of its layers.")
    entanglement: Literal["linear", "full", "circular", "reverse_linear"] = Field(
        default="linear", description="linear, full, circular, ... (Qiskit's)."
    )
    num_qubits: int | None = Field(default=None, ge=1, description="Default: the Hamiltonian's.")


class QasmAnsatz(BaseModel):
    """An ansatz given as OpenQASM 3 with ``input float[64]`` parameters."""

    model_config = ConfigDict(extra="forbid")

    qasm: str = Field(description="OpenQASM 3 text; its inputs are the parameters.")


def ansatz_circuit(ansatz: LibraryAnsatz | QasmAnsatz, default_qubits: int | None) -> Circuit:
    """The ansatz in canonical form (a library ansatz of ``default_qubits`` qubits unless it
    says how many)."""
    if isinstance(ansatz, QasmAnsatz):
        return _qasm_circuit(ansatz.qasm)
    n = ansatz.num_qubits or default_qubits
    assert n is not None, "checked by VQE.check"
    return _library_circuit(ansatz.library, n, ansatz.reps, ansatz.entanglement)


@lru_cache(maxsize=16)
def _qasm_circuit(text: str) -> Circuit:
    return Circuit.from_qasm(text)


@lru_cache(maxsize=64)
def _library_circuit(library: str, n: int, reps: int, entanglement: str) -> Circuit:
    build = real_amplitudes if library == "real_amplitudes" else efficient_su2
    return Circuit.from_qiskit(build(n, reps=reps, entanglement=entanglement))
