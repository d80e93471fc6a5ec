"""Coercion of PUBs (circuit, values, shots, observables) and of SDK circuits."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from pydantic import ValidationError
from qiskit import QuantumCircuit
from qiskit.circuit import Parameter
from qiskit.quantum_info import SparsePauliOp

from circuits import Circuit, CircuitError, ObservableError, PauliSum, coerce_circuit
from circuits.coerce import CircuitPub, coerce_pub

TEXT = """\
OPENQASM 3.0;
input float[64] theta;
input float[64] beta;
qubit[2] q;
rx(theta) q[0];
ry(beta) q[1];
cx q[0], q[1];
"""
CIRCUIT = Circuit.from_qasm(TEXT)
MEASURED = Circuit.from_qasm(TEXT + "bit[2] c;\nc[0] = measure q[0];\nc[1] = measure q[1];\n")
BOUND = Circuit.from_qasm("qubit[2] q;\nh q[0];\ncx q[0], q[1];\n")
ZZ = PauliSum.from_text("1*ZZ")
XX = PauliSum.from_text("0.5*XX")


def _pub(
    circuit: Circuit, values: Any = ((),), shots: int | None = None, obs: Any = ()
) -> CircuitPub:
    return CircuitPub(
        circuit=circuit,
        parameter_values=[list(v) for v in values],
        shots=shots,
        observables=list(obs),
    )


@pytest.mark.parametrize(
    ("pub", "expected"),
    [
        (BOUND, _pub(BOUND, shots=7)),
        (BOUND.qasm, _pub(BOUND, shots=7)),
        ((BOUND,), _pub(BOUND, shots=7)),
        ((MEASURED, [0.1, 0.2]), _pub(MEASURED, [[0.1, 0.2]], 7)),
        ((MEASURED, [[0.1, 0.2], [0.3, 0.4]], 100), _pub(MEASURED, [[0.1, 0.2], [0.3, 0.4]], 100)),
        ((MEASURED, np.array([0.1, 0.2]), None), _pub(MEASURED, [[0.1, 0.2]], 7)),
        ((MEASURED, {"beta": 0.2, "theta": 0.1}), _pub(MEASURED, [[0.1, 0.2]], 7)),
        ((BOUND, "ZZ"), _pub(BOUND, shots=7, obs=[ZZ])),
        ((CIRCUIT, ZZ, [0.1, 0.2]), _pub(CIRCUIT, [[0.1, 0.2]], 7, [ZZ])),
        (
            (CIRCUIT, ["1*ZZ", SparsePauliOp("XX", 0.5)], [0.1, 0.2]),
            _pub(CIRCUIT, [[0.1, 0.2]], 7, [ZZ, XX]),
        ),
        (
            (CIRCUIT, [("ZZ", 1.0), ("XX", 0.5)], [[0.1, 0.2]], 0.01),
            _pub(CIRCUIT, [[0.1, 0.2]], 10_000, [PauliSum.from_text("1*ZZ + 0.5*XX")]),
        ),
        (
            (CIRCUIT, [[("ZZ", 1.0)], [{"pauli": "XX", "coeff": 0.5}]], [0.1, 0.2], 0),
            _pub(CIRCUIT, [[0.1, 0.2]], None, [ZZ, XX]),
        ),
        (
            {"circuit": TEXT, "parameter_values": [[1, 2]], "observables": "1*ZZ", "shots": 9},
            _pub(CIRCUIT, [[1.0, 2.0]], 9, [ZZ]),
        ),
        ({"circuit": BOUND, "shots": None}, _pub(BOUND, shots=7)),
    ],
)
def test_pub_shapes(pub: object, expected: CircuitPub) -> None:
    assert coerce_pub(pub, shots=7) == expected


def test_pub_defaults_and_identity() -> None:
    pub = coerce_pub(BOUND)
    assert pub.shots is None and pub.parameter_values == [[]] and pub.observables == []
    assert coerce_pub(pub, shots=5) is pub
    assert CircuitPub.model_validate_json(pub.model_dump_json()) == pub


def test_qiskit_pub_keeps_qiskit_parameter_order() -> None:
    b, a = Parameter("b"), Parameter("a")
    qc = QuantumCircuit(1)
    qc.rx(b, 0)
    qc.ry(a, 0)
    pub = coerce_pub((qc, [1.0, 2.0]))
    assert pub.circuit.parameters == ("a", "b")  # qc.parameters order
    assert pub.parameter_values == [[1.0, 2.0]]


@pytest.mark.parametrize(
    ("pub", "error", "message"),
    [
        (42, CircuitError, "cannot use a int as a circuit"),
        ((), CircuitError, "a PUB has 1 to 4 items, not 0"),
        ((CIRCUIT, 1, 2, 3), CircuitError, "item 1 (a int) is not an observable"),
        ({"circuit": CIRCUIT, "values": [1, 2]}, CircuitError, "unknown PUB keys 'values'"),
        ({"observables": "ZZ"}, CircuitError, "the PUB has no 'circuit'"),
        ((MEASURED, [0.1, 0.2], 0), CircuitError, "shots must be a positive integer, not 0"),
        ((MEASURED, [0.1, 0.2], 1.5), CircuitError, "shots must be a positive integer"),
        ((CIRCUIT, "ZZ", [0.1, 0.2], -1.0), CircuitError, "precision must be a finite number"),
        ({"circuit": BOUND, "shots": 5, "precision": 0.1}, CircuitError, "not both"),
        ((MEASURED, [0.1]), CircuitError, "parameter 'beta' has no value"),
        ((CIRCUIT, "ZZ", {"theta": 1, "phi": 2}), CircuitError, "no parameter named 'phi'"),
        (
            (CIRCUIT, "ZZ", [0.1, math.nan]),
            CircuitError,
            "parameter 'beta' has the non-finite value nan in set 0",
        ),
        ((BOUND, "ZZZ"), ObservableError, "observable 0 acts on 3 qubits but the circuit has 2"),
        ((BOUND, ["ZZ", "QQ"]), ObservableError, "observable 1: term 0: 'QQ' is not a Pauli"),
    ],
)
def test_pub_errors(pub: object, error: type[CircuitError], message: str) -> None:
    with pytest.raises(error) as info:
        coerce_pub(pub)
    assert message in str(info.value)


def test_pub_errors_say_what_is_accepted() -> None:
    with pytest.raises(CircuitError) as info:
        coerce_pub(object())
    assert "(circuit, observables, values, precision)" in str(info.value)
    assert "QuantumCircuit" in str(info.value) and "cirq.Circuit" in str(info.value)


def test_circuit_pub_checks_itself() -> None:
    with pytest.raises(ValidationError, match="parameter 'theta' has no value"):
        CircuitPub(circuit=CIRCUIT)
    with pytest.raises(ValidationError, match="acts on 1 qubits"):
        CircuitPub(circuit=BOUND, observables=[PauliSum.from_text("1*Z")])
    with pytest.raises(ValidationError):
        CircuitPub(circuit=BOUND, shots=0)


def test_unknown_objects_do_not_import_sdks() -> None:
    class Fake:
        pass

    Fake.__module__ = "mylib.circuits"
    with pytest.raises(CircuitError, match="cannot use a Fake as a circuit"):
        coerce_circuit(Fake())


def test_cirq_circuits() -> None:
    pytest.importorskip("circuits.cirq_convert")
    import cirq
    import sympy

    a, b = cirq.LineQubit.range(2)
    circuit = cirq.Circuit(cirq.H(a), cirq.CNOT(a, b), cirq.rz(sympy.Symbol("t")).on(b))
    converted = coerce_circuit(circuit)
    assert converted.num_qubits == 2 and converted.parameters == ("t_",)
    pub = coerce_pub((circuit, "1*ZZ", [0.5]), shots=3)
    assert pub.circuit == converted and pub.parameter_values == [[0.5]] and pub.shots == 3


def test_pennylane_scripts() -> None:
    pytest.importorskip("circuits.pennylane_convert")
    import pennylane as qml

    script = qml.tape.QuantumScript([qml.Hadamard(0), qml.CNOT([0, 1])], [qml.sample(wires=[0, 1])])
    converted = coerce_circuit(script)
    assert converted.num_qubits == 2 and converted.num_clbits == 2
    assert coerce_pub((script, [], 10)).shots == 10
