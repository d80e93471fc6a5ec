"""Real OpenQASM files that nobody here wrote (QASMBench, Qiskit's test files, the OpenQASM
specification's examples, MQT Bench as exported by Qiskit; ``tests/data/qasm_corpus``):
qcbroker reads what Qiskit reads, means the same circuit, and writes it back portably.

Each file Qiskit reads is compared with Qiskit's own reading of it: whole unitaries up to 8
qubits, beyond that the state made from a random product state (to 20 qubits), through our
canonical text to Qiskit, through ``qiskit.qasm3.loads`` of that text, and through Cirq and
PennyLane and back. Files with mid-circuit measurements, resets or ``if`` are run instead:
Qiskit Aer on Qiskit's reading, and our aer, cirq and pennylane backends on the canonical
text, must agree within a 5-sigma bound on every outcome (the two 18-qubit ones: Aer only,
a few shots).
"""

from __future__ import annotations

import re

import openqasm3
import pytest
import qiskit_qasm3_import
from qiskit import QuantumCircuit

from backends import registry
from backends.base import QuantumBatch, QuantumItem
from circuits import Circuit
from circuits.cirq_convert import to_cirq
from circuits.cirq_import import from_cirq
from circuits.errors import CircuitError
from circuits.pennylane_convert import to_pennylane
from circuits.pennylane_import import from_pennylane
from circuits.qasm import loads
from tests.integration.backends.quantum_contract import run
from tests.integration.circuits.corpus import (
    CORPUS,
    MANIFEST,
    ROOT,
    aer_counts,
    agree,
    fingerprint,
    is_static,
    qiskit_reads,
    same_up_to_phase,
    unitary_part,
)

pytestmark = pytest.mark.integration

SHOTS = 1000
DYNAMIC_BACKENDS: dict[str, tuple[int, dict[str, str]]] = {
    "aer": (SHOTS, {}),
    "cirq": (200, {}),
    "pennylane": (SHOTS, {"mcm_method": "tree-traversal"}),
}
"""The backends that run the dynamic files: shots and batch options. Cirq simulates such a
circuit one shot at a time, and PennyLane's default ``deferred`` method adds a wire per
measurement (2**24 amplitudes for a 12-qubit file)."""
WIDE, WIDE_SHOTS = 12, 8
"""Dynamic files wider than this (QASMBench's square_root_n18, with 2,800 gates between
resets) cost minutes per thousand shots on every simulator: they run a few shots on Aer
only, which tells apart outcomes that differ outright."""


def _text(path: str) -> str:
    return (CORPUS / path).read_text("utf-8")


def _outcome(path: str) -> str | None:
    """Our refusal of a file (its message), or None when we read it."""
    try:
        Circuit.from_qasm(_text(path))
    except CircuitError as exc:
        return str(exc)
    return None


def _check_portable(circuit: Circuit) -> QuantumCircuit:
    """The canonical text is read by the reference parser, whose tree Qiskit's importer
    converts (what ``qiskit.qasm3.loads`` does) and whose reprint we read back as the same
    circuit; Qiskit's circuit is returned."""
    tree = openqasm3.parse(circuit.qasm)
    assert Circuit.from_ir(loads(openqasm3.dumps(tree))) == circuit
    read = qiskit_qasm3_import.convert(tree)
    assert read.num_qubits == circuit.num_qubits
    return read


def _check_static(circuit: Circuit, reference: QuantumCircuit, read: QuantumCircuit) -> None:
    want = fingerprint(reference)
    bare = unitary_part(circuit.ir)
    cirq_circuit, qubits = to_cirq(bare)
    readings = {
        "ours": circuit.to_qiskit(),
        "qasm3.loads": read,
        "cirq": Circuit.from_ir(from_cirq(cirq_circuit, qubits=qubits)).to_qiskit(),
        "pennylane": Circuit.from_ir(
            from_pennylane(to_pennylane(bare), wire_order=range(bare.num_qubits))
        ).to_qiskit(),
    }
    wrong = [name for name, qc in readings.items() if not same_up_to_phase(fingerprint(qc), want)]
    assert not wrong, f"not Qiskit's circuit through: {wrong}"


def _check_dynamic(circuit: Circuit, reference: QuantumCircuit, read: QuantumCircuit) -> None:
    wide = circuit.num_qubits > WIDE
    backends = {"aer": (WIDE_SHOTS, {})} if wide else DYNAMIC_BACKENDS
    want = aer_counts(reference, WIDE_SHOTS if wide else SHOTS, seed=1)
    got = {"qasm3.loads": aer_counts(read, WIDE_SHOTS if wide else SHOTS, seed=2)}
    for name, (shots, options) in backends.items():
        item = QuantumItem(circuit=circuit.qasm)
        work = QuantumBatch(items=[item], shots=shots, seed=3, options=options)
        counts = run(registry.quantum(name), work).items[0].counts
        assert counts is not None
        got[name] = counts[0]
    wrong = {name: agree(counts, want) for name, counts in got.items()}
    assert not any(wrong.values()), f"outcomes differ from Qiskit's reading: {wrong}"


@pytest.mark.parametrize("path", [entry["path"] for entry in MANIFEST])
def test_a_real_file_reads_as_qiskit_reads_it(path: str) -> None:
    text = _text(path)
    reference = qiskit_reads(path, text)
    try:
        circuit = Circuit.from_qasm(text)
    except CircuitError as exc:
        assert exc.line is not None, f"a refusal without its line: {exc}"
        assert reference is None, f"Qiskit reads {path}, qcbroker refuses it: {exc}"
        return
    read = _check_portable(circuit)
    if reference is None:
        return
    assert reference.num_qubits == circuit.num_qubits
    if is_static(circuit.ir):
        _check_static(circuit, reference, read)
    else:
        _check_dynamic(circuit, reference, read)


def _readme_table() -> dict[str, str]:
    """The refusal table of circuits/README.md: file -> the start of our message."""
    text = (ROOT / "circuits" / "README.md").read_text("utf-8")
    section = text.split("## Real files", 1)[1].split("\n## ", 1)[0]
    return {
        m.group(1): m.group(2)
        for m in re.finditer(r"^\| `([^`]+)` \| [^|]* \| (.+?) \|$", section, flags=re.MULTILINE)
    }


def test_at_least_98_percent_of_what_qiskit_reads_is_read_and_refusals_are_listed() -> None:
    outcomes = {entry["path"]: _outcome(entry["path"]) for entry in MANIFEST}
    accepted_by_qiskit = [e["path"] for e in MANIFEST if e["qiskit_accepts"]]
    read = [path for path in accepted_by_qiskit if outcomes[path] is None]
    assert len(accepted_by_qiskit) >= 200 and len(read) >= 0.98 * len(accepted_by_qiskit)
    refused = {path: message for path, message in outcomes.items() if message is not None}
    table = _readme_table()
    assert set(table) == set(refused), "circuits/README.md's table of refusals is out of date"
    for path, reason in table.items():
        assert reason.strip("`").rstrip(".…") in refused[path], (path, reason, refused[path])
