"""Qiskit -> canonical text -> PennyLane -> IR -> text -> Qiskit keeps every unitary."""

from __future__ import annotations

import math

import numpy as np
import pennylane as qml
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from qiskit import QuantumCircuit
from qiskit.quantum_info import Operator

from circuits import qasm
from circuits.canonical import Circuit
from circuits.errors import CircuitError
from circuits.ir import GATES, NON_UNITARY, CircuitIR
from circuits.observables import PauliSum
from circuits.pennylane_convert import (
    counts_from_samples,
    from_pennylane,
    pauli_observable,
    to_pennylane,
)

UNITARY_GATES = sorted(name for name in GATES if name not in NON_UNITARY)


def qiskit_matrix(ir: CircuitIR, wire_order: list[int]) -> np.ndarray:
    """``qml.matrix`` of ``ir``'s PennyLane script in Qiskit's bit order (qubit 0 least
    significant: PennyLane's most significant wire comes first in ``wire_order``)."""
    return np.asarray(qml.matrix(to_pennylane(ir), wire_order=wire_order[::-1]))


def same_up_to_phase(a: np.ndarray, b: np.ndarray) -> bool:
    return bool(Operator(a).equiv(Operator(b), atol=1e-9))


def round_trip(qc: QuantumCircuit) -> tuple[CircuitIR, CircuitIR]:
    """Canonical IR of ``qc`` and the IR read back from its PennyLane script."""
    ir = Circuit(qasm=Circuit.from_qiskit(qc).qasm).ir
    back = from_pennylane(to_pennylane(ir), wire_order=range(ir.num_qubits))
    return ir, Circuit(qasm=Circuit.from_ir(back).qasm).ir


angles = st.floats(min_value=-2 * math.pi, max_value=2 * math.pi, allow_nan=False)


@st.composite
def circuits(draw: st.DrawFn) -> QuantumCircuit:
    """Random circuits over the whole unitary gate set: 1-4 qubits, up to 12 gates."""
    num_qubits = draw(st.integers(1, 4))
    usable = [g for g in UNITARY_GATES if (GATES[g].num_qubits or 0) <= num_qubits]
    qc = QuantumCircuit(num_qubits)
    for _ in range(draw(st.integers(0, 12))):
        name = draw(st.sampled_from(usable))
        spec = GATES[name]
        assert spec.num_qubits is not None
        qubits = draw(st.permutations(range(num_qubits)))[: spec.num_qubits]
        params = [draw(angles) for _ in range(spec.num_params)]
        getattr(qc, name)(*params, *qubits)
    return qc


@settings(max_examples=200, deadline=None)
@given(circuits())
def test_round_trip_through_pennylane_preserves_the_unitary(qc: QuantumCircuit) -> None:
    ir, back = round_trip(qc)
    wires = list(range(qc.num_qubits))
    # The PennyLane script itself has Qiskit's unitary (a mapping error would survive a
    # round trip through a symmetric converter, but not this check).
    assert same_up_to_phase(qiskit_matrix(ir, wires), Operator(qc).data)
    assert back.num_qubits == qc.num_qubits
    assert Operator(Circuit.from_ir(back).to_qiskit()).equiv(Operator(qc))


@pytest.mark.parametrize("name", UNITARY_GATES)
def test_every_gate_has_qiskits_matrix_exactly(name: str) -> None:
    spec = GATES[name]
    assert spec.num_qubits is not None
    qc = QuantumCircuit(spec.num_qubits)
    getattr(qc, name)(*[0.3 + 0.7 * i for i in range(spec.num_params)], *range(spec.num_qubits))
    ir = Circuit.from_qiskit(qc).ir
    got = qiskit_matrix(ir, list(range(spec.num_qubits)))
    np.testing.assert_allclose(got, Operator(qc).data, atol=1e-12)
    assert [op.name for op in from_pennylane(to_pennylane(ir)).ops] == [name]


PARAMETRIC = """OPENQASM 3.0;
include "stdgates.inc";
input float[64] zeta;
input float[64] alpha;
input float[64] mu;
qubit[3] q;
u(2*zeta + 0.5, -alpha/2, sin(mu)) q[0];
crx(alpha*zeta - 0.25) q[0], q[2];
rzz((mu + 1)**2) q[1], q[2];
p(zeta) q[1];
"""


def test_parameters_bind_positionally_in_canonical_order_and_round_trip() -> None:
    circuit = Circuit(qasm=PARAMETRIC)
    assert circuit.parameters == ("zeta", "alpha", "mu")
    values = [0.7, -1.3, 0.4]
    script = to_pennylane(circuit.ir, values)
    expected = Operator(circuit.bind(values)).data
    got = np.asarray(qml.matrix(script, wire_order=[2, 1, 0]))
    assert same_up_to_phase(got, expected)
    back = from_pennylane(script)
    assert back.parameters == ()
    assert Operator(Circuit.from_ir(back).to_qiskit()).equiv(Operator(expected))


def test_wrong_number_of_values_names_the_order() -> None:
    with pytest.raises(CircuitError, match="zeta, alpha, mu"):
        to_pennylane(Circuit(qasm=PARAMETRIC).ir, [1.0])
    with pytest.raises(CircuitError, match="expected 3"):
        to_pennylane(Circuit(qasm=PARAMETRIC).ir)


@pytest.mark.filterwarnings("ignore::numpy.exceptions.ComplexWarning")  # inside autograd
def test_trainable_values_stay_differentiable() -> None:
    ir = Circuit(qasm=PARAMETRIC).ir
    dev = qml.device("default.qubit")

    def energy(values: np.ndarray) -> object:
        script = to_pennylane(ir, [values[0], values[1], 0.2], measurements=[qml.expval(qml.Z(2))])
        return qml.execute([script], dev, diff_method="backprop")[0]

    grad = qml.grad(energy)(qml.numpy.array([0.7, -1.3], requires_grad=True))
    assert np.all(np.isfinite(grad)) and np.any(np.abs(grad) > 1e-6)


def test_operations_without_a_gate_are_decomposed() -> None:
    unitary = np.linalg.qr(np.random.default_rng(3).normal(size=(4, 4)) + 0j)[0]
    ops = [
        qml.Rot(0.1, 0.2, 0.3, wires=0),
        qml.U2(0.4, -0.6, wires=1),
        qml.U1(0.9, wires=2),
        qml.QubitUnitary(unitary, wires=[2, 0]),
        qml.MultiRZ(0.5, wires=[0, 1, 2]),
        qml.ISWAP(wires=[1, 2]),
        qml.adjoint(qml.RX(0.8, wires=1)),
        qml.ctrl(qml.Hadamard(wires=2), control=[0, 1]),
        qml.PauliRot(0.3, "XYZ", wires=[0, 1, 2]),
        qml.GlobalPhase(0.2),
    ]
    ir = from_pennylane(ops)
    assert {op.name for op in ir.ops} <= set(GATES)
    expected = qml.matrix(qml.tape.QuantumScript(ops), wire_order=[2, 1, 0])
    assert Operator(Circuit.from_ir(ir).to_qiskit()).equiv(Operator(np.asarray(expected)))


def test_wire_labels_are_numbered_in_order_or_by_wire_order() -> None:
    ops = [qml.Hadamard("b"), qml.CNOT(["b", "a"])]
    assert [op.qubits for op in from_pennylane(ops).ops] == [(0,), (0, 1)]
    ir = from_pennylane(ops, wire_order=["a", "b", "c"])
    assert ir.num_qubits == 3
    assert [op.qubits for op in ir.ops] == [(1,), (1, 0)]
    with pytest.raises(CircuitError, match="not in wire_order"):
        from_pennylane(ops, wire_order=["a"])


class Opaque(qml.operation.Operation):
    """A gate PennyLane cannot decompose."""

    num_wires = 1


@pytest.mark.parametrize(
    ("op", "name"),
    [(qml.DepolarizingChannel(0.1, wires=1), "DepolarizingChannel"), (Opaque(wires=0), "Opaque")],
)
def test_an_operation_that_cannot_convert_is_named_with_its_index(
    op: qml.operation.Operator, name: str
) -> None:
    ops = [qml.Hadamard(0), qml.CNOT([0, 1]), op]
    with pytest.raises(CircuitError, match=rf"'{name}' at index 2"):
        from_pennylane(qml.tape.QuantumScript(ops))


def test_classical_control_and_postselection_are_refused() -> None:
    def conditional() -> None:
        m = qml.measure(0)
        qml.cond(m, qml.X)(wires=1)

    with pytest.raises(CircuitError, match="classically controlled"):
        from_pennylane(qml.tape.make_qscript(conditional)())
    with pytest.raises(CircuitError, match="postselects"):
        from_pennylane([qml.ops.MidMeasure(0, postselect=1)])


def test_final_samples_become_measurements_and_expectations_are_left_out() -> None:
    script = qml.tape.QuantumScript([qml.X(0)], [qml.expval(qml.Z(0)), qml.counts(wires=[1, 0])])
    ir = from_pennylane(script)
    assert ir.num_clbits == 2
    assert [(op.name, op.qubits, op.clbits) for op in ir.ops] == [
        ("x", (0,), ()),
        ("measure", (1,), (0,)),
        ("measure", (0,), (1,)),
    ]
    with pytest.raises(CircuitError, match="samples an observable"):
        from_pennylane(qml.tape.QuantumScript([], [qml.sample(qml.X(0))]))


def test_final_measurements_sample_wires_and_count_in_qiskit_order() -> None:
    qc = QuantumCircuit(3, 3)
    qc.x(0)
    qc.measure(0, 2)
    qc.measure(2, 0)
    ir = Circuit.from_qiskit(qc).ir
    script = to_pennylane(ir, shots=10)
    assert [list(m.wires) for m in script.measurements] == [[2, 0]]  # clbit 0's qubit first
    samples = np.array([[0, 1], [0, 1], [1, 0]])  # columns: wires 2 and 0
    assert counts_from_samples(ir, samples) == {"100": 2, "001": 1}


@pytest.mark.parametrize(
    "measures",
    [
        "c[1] = measure q[1];\nc[0] = measure q[0];\n",
        "c[0] = measure q[1];\nc[1] = measure q[0];\n",
        "c[2] = measure q[0];\nc[0] = measure q[2];\nc[1] = measure q[1];\n",
    ],
)
def test_the_round_trip_keeps_which_qubit_each_bit_holds(measures: str) -> None:
    text = 'OPENQASM 3.0;\ninclude "stdgates.inc";\nqubit[3] q;\nbit[3] c;\nx q[0];\n' + measures
    ir = qasm.loads(text)
    back = from_pennylane(to_pennylane(ir))

    def holds(circuit: CircuitIR) -> dict[int, int]:
        return {op.clbits[0]: op.qubits[0] for op in circuit.ops if op.name == "measure"}

    assert holds(back) == holds(ir)
    counts = counts_from_samples(ir, qml.execute([to_pennylane(ir, shots=5)],
                                                 qml.device("default.qubit"))[0])  # fmt: skip
    expected = "".join("1" if holds(ir).get(c) == 0 else "0" for c in (2, 1, 0))
    assert counts == {expected: 5}


def test_mid_circuit_measure_and_reset_become_mid_circuit_measurements() -> None:
    qc = QuantumCircuit(1, 2)
    qc.x(0)
    qc.measure(0, 0)
    qc.reset(0)
    qc.measure(0, 1)
    ir = Circuit.from_qiskit(qc).ir
    script = to_pennylane(ir, shots=20)
    counts = counts_from_samples(ir, qml.execute([script], qml.device("default.qubit"))[0])
    assert counts == {"01": 20}
    back = from_pennylane(script)
    assert [op.name for op in back.ops] == ["x", "measure", "reset", "measure"]
    with pytest.raises(CircuitError, match="measures nothing"):
        counts_from_samples(Circuit.from_qiskit(QuantumCircuit(1)).ir, [])


@pytest.mark.parametrize(
    "measures",
    [
        "c[1] = measure q[1];\nh q[1];\nc[2] = measure q[2];\nc[0] = measure q[0];\n",
        "c[2] = measure q[0];\nreset q[0];\nc[0] = measure q[2];\nx q[2];\nc[1] = measure q[1];\n",
    ],
)
def test_mid_circuit_measurements_keep_their_bits_through_the_round_trip(measures: str) -> None:
    text = 'OPENQASM 3.0;\ninclude "stdgates.inc";\nqubit[3] q;\nbit[3] c;\nx q[0];\n' + measures
    circuit = Circuit.from_qasm(text)
    back = Circuit.from_ir(from_pennylane(to_pennylane(circuit.ir)))
    assert back == circuit and back.sha256 == circuit.sha256
    samples = qml.execute([to_pennylane(circuit.ir, shots=4)], qml.device("default.qubit"))[0]
    counts = counts_from_samples(circuit.ir, samples)
    bits = {op.clbits[0]: op.qubits[0] for op in circuit.ir.ops if op.name == "measure"}
    assert counts == {"".join("1" if bits[c] == 0 else "0" for c in (2, 1, 0)): 4}


def test_pauli_observable_acts_with_the_rightmost_character_on_wire_0() -> None:
    obs = PauliSum.from_text("0.5 * XZI + 0.25 * IIY - 0.2 * XZI + 1.5 * III")
    matrix = qml.matrix(pauli_observable(obs), wire_order=[2, 1, 0])
    np.testing.assert_allclose(matrix, obs.to_matrix(), atol=1e-12)


def test_a_qnodes_tape_converts() -> None:
    @qml.qnode(qml.device("default.qubit"))
    def circuit(x: float) -> object:
        qml.RX(x, wires=0)
        qml.CNOT(wires=[0, 1])
        qml.Toffoli(wires=[0, 1, 2])
        qml.Barrier(wires=[0, 2])
        return qml.expval(qml.Z(1))

    tape = qml.workflow.construct_tape(circuit)(qml.numpy.array(0.4, requires_grad=True))
    ir = from_pennylane(tape)
    assert [op.name for op in ir.ops] == ["rx", "cx", "ccx", "barrier"]
    assert ir.ops[0].params == ("0.4",)
    expected = qml.matrix(tape, wire_order=[2, 1, 0])
    assert Operator(Circuit.from_ir(ir).to_qiskit()).equiv(Operator(np.asarray(expected)))
