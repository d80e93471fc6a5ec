"""The vendored OpenQASM corpus (``tests/data/qasm_corpus``) and what the corpus test compares
with: Qiskit's own reading of each file, states and unitaries from Qiskit Aer, and counts."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
from qiskit import QuantumCircuit, qasm2, qasm3, transpile
from qiskit_aer import AerSimulator

from circuits.ir import CircuitIR

ROOT = Path(__file__).resolve().parents[3]
CORPUS = ROOT / "tests" / "data" / "qasm_corpus"
MANIFEST: list[dict[str, Any]] = json.loads((CORPUS / "MANIFEST.json").read_text("utf-8"))
UNITARY_QUBITS = 8
"""Up to this many qubits whole unitaries are compared; beyond, states (to 20 qubits)."""

_SIM = AerSimulator(method="statevector")
_UNITARY = AerSimulator(method="unitary")
_BASIS = ["u", "cx"]


def qiskit_reads(path: str, text: str) -> QuantumCircuit | None:
    """Qiskit's circuit for the file (None where its readers refuse it): QASM 2 with the
    strict reader, then the legacy instructions; QASM 3 with ``qasm3.loads``. A reading that
    leaves free parameters (a file's gate named like a legacy one) is not taken."""
    code = re.sub(r"//[^\n]*|/\*.*?\*/", "", text, flags=re.DOTALL).lstrip()
    include = [str((CORPUS / path).parent)]
    readers: list[Any] = [lambda: qasm3.loads(text)]
    if code.startswith("OPENQASM 2") or (not code.startswith("OPENQASM") and "qreg" in code):
        readers = [
            lambda: qasm2.loads(text, include_path=include),
            lambda: qasm2.loads(
                text, include_path=include, custom_instructions=qasm2.LEGACY_CUSTOM_INSTRUCTIONS
            ),
        ]
    for read in readers:
        try:
            circuit = read()
        except Exception:  # each reader raises its own error types
            continue
        if not circuit.parameters:
            return circuit
    return None


def is_static(ir: CircuitIR) -> bool:
    """No reset, no classical control, and measurements only at the end of their qubit."""
    measured: set[int] = set()
    for op in ir.ops:
        if op.name == "reset" or op.condition is not None:
            return False
        if op.name == "measure":
            measured.update(op.qubits)
        elif op.name != "barrier" and measured.intersection(op.qubits):
            return False
    return True


def unitary_part(ir: CircuitIR) -> CircuitIR:
    """``ir`` without its (final) measurements and barriers."""
    ops = tuple(op for op in ir.ops if op.name not in ("measure", "barrier"))
    return CircuitIR(ir.num_qubits, 0, ir.parameters, ops)


def _gates(qc: QuantumCircuit) -> QuantumCircuit:
    bare = qc.remove_final_measurements(inplace=False)
    # A file's own gates are expanded by their own definitions first: the transpiler would
    # take a file's 'cu' (no parameters) for the standard four-parameter CUGate.
    for _ in range(10):
        if all(inst.operation.name in (*_BASIS, "barrier") for inst in bare.data):
            break
        bare = bare.decompose()
    return transpile(bare, basis_gates=_BASIS, optimization_level=0)


def fingerprint(qc: QuantumCircuit) -> np.ndarray:
    """The unitary of ``qc``'s gates (final measurements dropped) up to 8 qubits; beyond,
    the state they make from a fixed random product state (which tells almost any two
    unitaries apart)."""
    gates = _gates(qc)
    if gates.num_qubits <= UNITARY_QUBITS:
        gates.save_unitary()
        return np.asarray(_UNITARY.run(gates).result().get_unitary())
    rng = np.random.default_rng(22)
    start = QuantumCircuit(gates.num_qubits)
    for qubit in range(gates.num_qubits):
        start.u(*rng.uniform(0, math.pi, 3), qubit)
    full = transpile(start, basis_gates=_BASIS).compose(gates)
    full.save_statevector()
    return np.asarray(_SIM.run(full).result().get_statevector())


def same_up_to_phase(a: np.ndarray, b: np.ndarray) -> bool:
    """Whether two unitaries (or states) are equal up to a global phase."""
    if a.shape != b.shape:
        return False
    overlap = abs(np.vdot(a.ravel(), b.ravel())) / (np.linalg.norm(a) * np.linalg.norm(b))
    return bool(overlap > 1 - 1e-9)


def aer_counts(qc: QuantumCircuit, shots: int, seed: int) -> dict[str, int]:
    """Counts keyed by the flat clbit string (clbit 0 rightmost), registers run together."""
    compiled = transpile(qc, basis_gates=[*_BASIS, "measure", "reset", "if_else"])
    counts = AerSimulator().run(compiled, shots=shots, seed_simulator=seed).result().get_counts()
    flat: dict[str, int] = {}
    for key, n in counts.items():
        flat[key.replace(" ", "")] = flat.get(key.replace(" ", ""), 0) + n
    return flat


def agree(first: Mapping[str, int], second: Mapping[str, int]) -> list[str]:
    """Outcomes whose frequencies in two samples differ beyond a 5-sigma bound."""
    n1, n2 = sum(first.values()), sum(second.values())
    wrong = []
    for key in set(first) | set(second):
        p1, p2 = first.get(key, 0) / n1, second.get(key, 0) / n2
        p = (first.get(key, 0) + second.get(key, 0)) / (n1 + n2)
        bound = 5 * math.sqrt(p * (1 - p) * (1 / n1 + 1 / n2)) + 2 / min(n1, n2)
        if abs(p1 - p2) > bound:
            wrong.append(f"{key}: {p1:.3f} vs {p2:.3f}")
    return wrong
