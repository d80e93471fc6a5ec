"""Gate definitions in OpenQASM text and the standard gates beyond the IR's own (issue 22):
inlined, each keeping the unitary that Qiskit gives the same text or gate."""

from __future__ import annotations

import math

import pytest
from qiskit import QuantumCircuit, qasm2, qasm3
from qiskit.quantum_info import Operator

from circuits import qasm
from circuits.errors import CircuitError
from circuits.qasm_library import _standard
from circuits.qiskit_convert import to_qiskit

QASM2 = 'OPENQASM 2.0;\ninclude "qelib1.inc";\n'
QASM3 = 'OPENQASM 3.0;\ninclude "stdgates.inc";\n'


def same_unitary(text: str, reference: QuantumCircuit) -> bool:
    mine = to_qiskit(qasm.loads(text))
    return bool(Operator(mine).equiv(Operator(reference)))


def test_a_qiskit_exported_file_that_defines_its_gates_reads_as_qiskit_reads_it() -> None:
    text = QASM2 + (
        "gate rzz(param0) q0,q1 { cx q0,q1; u1(param0) q1; cx q0,q1; }\n"
        "gate mygate(theta, lambda) a, b\n{\n  u3(theta, 0, lambda) a;\n"
        "  rzz(theta/2) a, b;\n}\n"
        "qreg q[5];\nmygate(pi/3, 0.2) q[0], q[1];\ncu3(0.1, 0.2, 0.3) q[1], q[2];\n"
        "csx q[0], q[2];\nc3x q[0], q[1], q[2], q[3];\nc4x q[4], q[0], q[1], q[2], q[3];\n"
        "rc3x q[3], q[2], q[1], q[0];\nc3sqrtx q[0], q[1], q[2], q[4];\nrccx q[2], q[3], q[4];\n"
    )
    reference = qasm2.loads(text, custom_instructions=qasm2.LEGACY_CUSTOM_INSTRUCTIONS)
    assert same_unitary(text, reference)
    ops = [op.name for op in qasm.loads(text).ops]
    assert "rzz" not in ops[:4]  # the file's own rzz, as the file defines it


def test_a_qasm3_definition_may_call_earlier_ones_and_broadcast() -> None:
    text = QASM3 + (
        "gate twist(a) x { rz(a) x; sx x; }\n"
        "gate pair(θ, φ) p, q {\n  twist(θ) p;\n  twist(-φ) q;\n  cx p, q;\n}\n"
        "input float[64] w;\nqubit[4] r;\npair(w, 2*w) r[0], r[1];\ntwist(pi) r;\n"
    )
    ir = qasm.loads(text)
    assert ir.parameters == ("w",)
    reference = qasm3.loads(text).assign_parameters([0.7])
    assert Operator(to_qiskit(ir).assign_parameters([0.7])).equiv(Operator(reference))
    assert [op.name for op in ir.ops].count("sx") == 2 + 4  # pair's two, twist on each qubit


@pytest.mark.parametrize("name", sorted(_standard()))
def test_every_standard_gate_beyond_the_irs_keeps_qiskits_unitary(name: str) -> None:
    definition = _standard()[name]
    angles = [0.3 + 0.4 * k for k in range(len(definition.params))]
    qubits = list(reversed(range(definition.num_qubits)))
    call = f"{name}({', '.join(map(repr, angles))})" if angles else name
    text = (
        QASM3
        + f"qubit[{definition.num_qubits}] q;\n{call} "
        + ", ".join(f"q[{q}]" for q in qubits)
        + ";\n"
    )
    from qiskit.circuit.library import (
        C3SXGate,
        C3XGate,
        C4XGate,
        RC3XGate,
        get_standard_gate_name_mapping,
    )

    extra = {"c3x": C3XGate(), "c4x": C4XGate(), "c3sx": C3SXGate(), "c3sqrtx": C3SXGate(),
             "rcccx": RC3XGate(), "rc3x": RC3XGate()}  # fmt: skip
    gate = {**get_standard_gate_name_mapping(), **extra}[name]
    gate = gate.__class__(*angles) if angles else gate
    reference = QuantumCircuit(definition.num_qubits)
    reference.append(gate, qubits)
    assert same_unitary(text, reference)


@pytest.mark.parametrize(
    ("body", "line", "says"),
    [
        ("gate g a { measure a; }\n", 3, "cannot be in a gate definition"),
        ("gate g a {\n  h a;\n  nope a;\n}\n", 5, "unknown gate 'nope'"),
        ("gate g(t) a { rx(s) a; }\n", 3, "undeclared parameter 's'"),
        ("gate g(a) a { h a; }\n", 3, "for a parameter and a qubit"),
        ("gate g a { h a; \n", 3, "missing '}'"),
        ("gate g a { h a; }\nqubit[2] q;\ng q[0], q[1];\n", 5, "acts on 1 qubit(s), got 2"),
        ("gate g(t) a { rx(t) a; }\nqubit[1] q;\ng q[0];\n", 5, "takes 1 parameter(s), got 0"),
    ],
)
def test_a_bad_definition_or_call_names_its_line(body: str, line: int, says: str) -> None:
    with pytest.raises(CircuitError) as caught:
        qasm.loads(QASM3 + body)
    assert caught.value.line == line and says in caught.value.message, caught.value


def test_definitions_that_double_at_each_level_are_refused_before_they_are_built() -> None:
    levels = ["gate g0 a { h a; h a; }"] + [
        f"gate g{k} a {{ g{k - 1} a; g{k - 1} a; }}" for k in range(1, 40)
    ]
    with pytest.raises(CircuitError, match="qubit operands") as caught:
        qasm.loads(QASM3 + "\n".join(levels) + "\nqubit[1] q;\ng39 q[0];\n")
    assert caught.value.line is not None and caught.value.line < 3 + 40
    assert math.log2(100_000) < caught.value.line - 2  # refused near 2**17 ops, not later


def test_several_registers_become_one_in_declaration_order() -> None:
    text = QASM2 + (
        "qreg a[2];\nqreg phase[3];\ncreg c0[2];\ncreg c1[3];\n"
        "h a;\ncx a[1], phase[0];\nccx a[0], a[1], phase[2];\nmeasure phase -> c1;\n"
        "measure a[0] -> c0[1];\n"
    )
    ir = qasm.loads(text)
    assert (ir.num_qubits, ir.num_clbits) == (5, 5)
    measured = {op.clbits[0]: op.qubits[0] for op in ir.ops if op.name == "measure"}
    assert measured == {2: 2, 3: 3, 4: 4, 1: 0}
    reference = qasm2.loads(text)
    reference.remove_final_measurements()
    mine = to_qiskit(ir)
    mine.remove_final_measurements()
    assert Operator(mine).equiv(Operator(reference))
    with pytest.raises(CircuitError, match="unknown qubit register 'b'; qubit registers: 'a'"):
        qasm.loads(QASM2 + "qreg a[1];\ncreg b[1];\nh b[0];\n")


def test_physical_qubits_are_one_register_as_large_as_the_highest_used() -> None:
    text = QASM3 + "h $0;\ncx $0, $3;\nrz(0.5) $2;\n"
    ir = qasm.loads(text)
    assert ir.num_qubits == 4
    assert Operator(to_qiskit(ir)).equiv(Operator(qasm3.loads(text)))
    with pytest.raises(
        CircuitError, match="cannot be used with declared qubit registers"
    ) as caught:
        qasm.loads(QASM3 + "qubit[2] q;\nh $0;\n")
    assert caught.value.line == 4
