"""Classical control (``if``): read from QASM 2 and 3, written as OpenQASM 3 that Qiskit
reads, kept through Qiskit, and run alike by Qiskit Aer, Cirq and PennyLane."""

from __future__ import annotations

import cirq
import openqasm3
import pennylane as qml
import pytest
from qiskit import ClassicalRegister, QuantumCircuit, QuantumRegister, qasm3
from qiskit.circuit.classical import expr
from qiskit_aer import AerSimulator

from circuits import Circuit
from circuits.cirq_convert import clbit_key, to_cirq
from circuits.errors import CircuitError
from circuits.ir import CircuitIR, Op, validate
from circuits.pennylane_convert import counts_from_samples, to_pennylane
from circuits.transpile import DeviceConstraints, transpile_for

HEAD3 = 'OPENQASM 3.0;\ninclude "stdgates.inc";\nqubit[3] q;\nbit[3] c;\n'

QASM2 = """OPENQASM 2.0;
include "qelib1.inc";
qreg q[3];
creg a[1];
creg b[2];
x q[0];
measure q[0] -> a[0];
if(a==1) x q[1];
measure q[1] -> b[0];
if(b==1) cx q[0],q[2];
if (b==3) u1(pi/2) q;
"""


def test_qasm2_conditions_on_registers_become_conditions_on_their_bits() -> None:
    circuit = Circuit.from_qasm(QASM2)
    conditioned = [(op.name, op.qubits, op.condition) for op in circuit.ir.ops if op.condition]
    assert conditioned == [
        ("x", (1,), ((0,), 1)),
        ("cx", (0, 2), ((1, 2), 1)),
        *[("p", (q,), ((1, 2), 3)) for q in range(3)],  # broadcast: one gate per qubit
    ]
    assert "if (c[0]) x q[1];" in circuit.qasm and "if (c[1:2] == 1) cx q[0], q[2];" in circuit.qasm


@pytest.mark.parametrize(
    ("statement", "line"),
    [
        ("if (c[1]) x q[0];", "if (c[1]) x q[0];"),
        ("if (c[1] == true) x q[0];", "if (c[1]) x q[0];"),
        ("if (c[1] == false) x q[0];", "if (!c[1]) x q[0];"),
        ("if (!c[1]) x q[0];", "if (!c[1]) x q[0];"),
        ("if (c[1] != 1) x q[0];", "if (!c[1]) x q[0];"),
        ("if (c == 5) x q[0];", "if (c == 5) x q[0];"),
        ("if (c[0:1] == 2) x q[0];", "if (c[0:1] == 2) x q[0];"),
        ("if (c[2])\n{\n  h q[0];\n}", "if (c[2]) h q[0];"),
    ],
)
def test_each_form_of_condition_is_read(statement: str, line: str) -> None:
    canonical = Circuit.from_qasm(HEAD3 + statement + "\n").qasm
    assert canonical.splitlines()[-1] == line
    assert Circuit(qasm=canonical).qasm == canonical


def test_a_block_and_its_else_give_each_gate_its_condition() -> None:
    text = HEAD3 + "if (c[0]) { x q[1]; h q[2]; } else { z q[1]; }\nx q[0];\n"
    lines = Circuit.from_qasm(text).qasm.splitlines()[-4:]
    assert lines == ["if (c[0]) x q[1];", "if (c[0]) h q[2];", "if (!c[0]) z q[1];", "x q[0];"]


@pytest.mark.parametrize(
    ("statement", "message", "line"),
    [
        ("if (c == 8) x q[0];", "does not fit in 3 bit", 5),
        ("if (q == 1) x q[0];", "'q' is not one", 5),
        ("if (c[0] && c[1]) x q[0];", "unsupported condition", 5),
        ("if (c != 1) x q[0];", "'!=' on several bits", 5),
        ("if (c[3]) x q[0];", "out of range", 5),
        ("x q[0];\nelse x q[1];", "'else' without an 'if'", 6),
        ("if (c[0]) x q[0];\nelse x q[1];\nelse x q[1];", "'else' without an 'if'", 7),
        ("if (c == 1) x q[0];\nelse x q[1];", "'else' after a condition on several bits", 6),
        ("if (c[0]) {\n  x q[0];\n  c[1] = measure q[1];\n}", "only gates can", 7),
        ("if (c[0]) {\n  x q[0];\n  reset q[1];\n}", "only gates can", 7),
        ("if (c[0]) { x q[0];", "missing '}'", 5),
    ],
)
def test_bad_conditions_name_their_line(statement: str, message: str, line: int) -> None:
    with pytest.raises(CircuitError, match=message) as info:
        Circuit.from_qasm(HEAD3 + statement + "\n")
    assert info.value.line == line


def test_only_gates_on_consecutive_bits_can_be_conditioned_in_the_ir() -> None:
    for op in (
        Op("measure", (0,), (), (0,), ((1,), 1)),
        Op("x", (0,), condition=((0, 2), 1)),
        Op("x", (0,), condition=((0,), 2)),
    ):
        with pytest.raises(CircuitError):
            validate(CircuitIR(2, 3, (), (op,)))


def test_qiskit_reads_the_conditions_and_they_survive_the_round_trip() -> None:
    circuit = Circuit.from_qasm(QASM2 + "if(a==0) h q[2];\n")
    read = qasm3.loads(circuit.qasm)
    assert read.count_ops()["if_else"] == 6
    openqasm3.parse(circuit.qasm)
    back = Circuit.from_qiskit(circuit.to_qiskit())  # angles come back as numbers

    def shape(c: Circuit) -> list[tuple[object, ...]]:
        return [(op.name, op.qubits, op.clbits, op.condition) for op in c.ir.ops]

    assert shape(back) == shape(circuit) and back.num_clbits == circuit.num_clbits


def test_qiskit_conditions_with_else_and_gates_to_decompose_convert() -> None:
    q, a, b = QuantumRegister(2, "q"), ClassicalRegister(1, "a"), ClassicalRegister(2, "b")
    qc = QuantumCircuit(q, a, b)
    qc.measure(0, 0)
    with qc.if_test((a[0], 1)) as otherwise:
        qc.iswap(0, 1)
    with otherwise:
        qc.h(1)
    with qc.if_test((b, 3)):
        qc.x(0)
    lines = Circuit.from_qiskit(qc).qasm.splitlines()
    assert "if (!c[0]) h q[1];" in lines and "if (c[1:2] == 3) x q[0];" in lines
    assert sum(line.startswith("if (c[0]) ") for line in lines) >= 3  # iswap, decomposed
    with qc.if_test(expr.logic_or(a[0], b[0])):
        qc.x(1)
    with pytest.raises(CircuitError, match="classical expression"):
        Circuit.from_qiskit(qc)


# Deterministic: clbit 0 reads 1, so q1 flips, so clbit 1 reads 1; c == 3 flips q2; clbit 2
# is not measured yet when 'if (c[2])' is tested, so it reads 0 and q0 stays.
DETERMINISTIC = HEAD3 + (
    "x q[0];\nc[0] = measure q[0];\nif (c[0]) x q[1];\nc[1] = measure q[1];\n"
    "if (c == 3) x q[2];\nif (c[2]) x q[0];\nif (c[1:2] == 1) x q[0];\n"
    "c[2] = measure q[2];\nc[0] = measure q[0];\n"
)


def test_aer_cirq_and_pennylane_run_the_conditions_alike() -> None:
    circuit = Circuit.from_qasm(DETERMINISTIC)
    expected = {"110": 8}  # c2=1, c1=1, c0=0 (q0 flipped back by the last condition)
    aer = AerSimulator().run(circuit.to_qiskit(), shots=8, seed_simulator=1).result()
    assert aer.get_counts() == expected
    cirq_circuit, _ = to_cirq(circuit.ir)
    run = cirq.Simulator(seed=1).run(cirq_circuit, repetitions=8)
    bits = {c: int(run.records[clbit_key(c)][0, -1, 0]) for c in range(3)}
    assert "".join(str(bits[c]) for c in (2, 1, 0)) == "110"
    samples = qml.execute([to_pennylane(circuit.ir, shots=8)], qml.device("default.qubit"))[0]
    assert counts_from_samples(circuit.ir, samples) == expected


def test_transpiling_for_a_device_keeps_the_conditions() -> None:
    circuit = Circuit.from_qasm(HEAD3 + "h q[0];\nc[0] = measure q[0];\nif (c[0]) cx q[0], q[2];\n")
    device = DeviceConstraints(
        name="line",
        num_qubits=3,
        basis_gates=["rz", "sx", "x", "cx"],
        coupling_map=[(0, 1), (1, 2)],
    )
    result = transpile_for(circuit, device, seed=1)
    conditioned = [op for op in result.circuit.ir.ops if op.condition is not None]
    assert conditioned and all(op.condition == ((0,), 1) for op in conditioned)
    assert all(op.name in {"rz", "sx", "x", "cx"} for op in conditioned)
