"""The Circuit model: canonical text, identity by hash, properties and coercion."""

from __future__ import annotations

import pytest
from pydantic import ValidationError
from qiskit import QuantumCircuit
from qiskit.circuit import Parameter
from qiskit.quantum_info import Operator

from circuits import Circuit, CircuitError, coerce_circuit

TEXT = """\
OPENQASM 3.0;
include "stdgates.inc";
input float[64] theta;
qubit[2] q;
h q[0];
rz(2*theta + 0.5) q[1];
cx q[0], q[1];
"""


def test_circuit_text_is_canonical_and_hash_identifies_it() -> None:
    messy = "// bell-ish\nOPENQASM 3;\ninput float theta;\nqubit[2] r;\n\nh r[0];\n"
    messy += "rz(2 * theta + .5) r[1];  // angle\ncnot r[0], r[1];\n"
    a = Circuit(qasm=TEXT)
    b = Circuit(qasm=messy)
    assert b.qasm == TEXT
    assert a == b
    assert a.sha256 == b.sha256 == Circuit.from_qasm(messy).sha256
    assert hash(a) == hash(b)
    assert a.sha256 != Circuit(qasm=TEXT.replace("0.5", "0.25")).sha256


def test_circuit_properties() -> None:
    circuit = Circuit(qasm=TEXT)
    assert circuit.num_qubits == 2
    assert circuit.num_clbits == 0
    assert circuit.parameters == ("theta",)
    assert circuit.depth == 2
    assert circuit.two_qubit_gates == 1
    assert not circuit.has_measurements
    assert circuit.ir.ops[1].params == ("2*theta + 0.5",)


def test_circuit_is_frozen_and_strict() -> None:
    circuit = Circuit(qasm=TEXT)
    with pytest.raises(ValidationError):
        circuit.qasm = "x"  # type: ignore[misc]
    with pytest.raises(ValidationError):
        Circuit.model_validate({"qasm": TEXT, "name": "extra"})
    with pytest.raises(ValidationError, match="line 1: unknown gate 'hadamard'"):
        Circuit(qasm="hadamard q[0];")


def test_json_round_trip() -> None:
    circuit = Circuit(qasm=TEXT)
    again = Circuit.model_validate_json(circuit.model_dump_json())
    assert again == circuit
    assert again.ir == circuit.ir


def test_qiskit_round_trip_and_bind() -> None:
    theta = Parameter("theta")
    qc = QuantumCircuit(2)
    qc.h(0)
    qc.rz(2 * theta + 0.5, 1)
    qc.cx(0, 1)
    circuit = Circuit.from_qiskit(qc)
    assert circuit.parameters == ("theta",)
    assert Operator(circuit.bind([0.3])).equiv(Operator(qc.assign_parameters([0.3])))
    assert Operator(Circuit(qasm=TEXT).bind([0.3])).equiv(Operator(qc.assign_parameters([0.3])))
    assert circuit.to_qiskit().num_parameters == 1


def test_coerce_circuit() -> None:
    circuit = Circuit(qasm=TEXT)
    assert coerce_circuit(circuit) is circuit
    assert coerce_circuit(TEXT) == circuit
    qasm2 = 'OPENQASM 2.0;\ninclude "qelib1.inc";\nqreg q[2];\ncreg c[2];\nh q[0];\n'
    qasm2 += "cx q[0],q[1];\nmeasure q[0] -> c[0];\nmeasure q[1] -> c[1];\n"
    bell = coerce_circuit(qasm2)
    assert bell.num_clbits == 2
    qc = QuantumCircuit(2, 2)
    qc.h(0)
    qc.cx(0, 1)
    qc.measure([0, 1], [0, 1])
    assert coerce_circuit(qc) == bell
    with pytest.raises(CircuitError, match="cannot use a dict as a circuit") as info:
        coerce_circuit({"qasm": TEXT})
    assert info.value.hint is not None and "QuantumCircuit" in info.value.hint
    with pytest.raises(CircuitError) as parse_error:
        coerce_circuit("qubit[1] q;\nfoo q[0];\n")
    assert parse_error.value.line == 2


def test_package_does_not_import_other_layers() -> None:
    import ast
    import pathlib

    import circuits

    root = pathlib.Path(circuits.__file__).parent
    for path in root.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            modules: list[str] = []
            if isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                modules = [node.module]
            for module in modules:
                assert module.split(".")[0] not in {"broker", "backends", "policies"}, path
