"""Qiskit -> canonical text -> Cirq -> IR -> text -> Qiskit keeps every unitary (up to phase).

Cirq's unitaries put the first qubit of ``qubit_order`` in the most significant bit, Qiskit's
in the least: the Cirq side is always read with ``qubit_order=qubits[::-1]``.
"""

from __future__ import annotations

import math
from dataclasses import replace

import cirq
import numpy as np
import pytest
import sympy
from hypothesis import given, settings
from hypothesis import strategies as st
from qiskit import QuantumCircuit
from qiskit.circuit import Parameter
from qiskit.quantum_info import Operator

from circuits.canonical import Circuit
from circuits.cirq_convert import clbit_key, resolver, sweep, to_cirq, to_sympy
from circuits.cirq_import import from_cirq
from circuits.errors import CircuitError
from circuits.ir import GATES, NON_UNITARY, CircuitIR, Op

UNITARY_GATES = sorted(name for name in GATES if name not in NON_UNITARY)


def cirq_operator(circuit: cirq.Circuit, qubits: list[cirq.LineQubit]) -> Operator:
    """The circuit's unitary in Qiskit's qubit order."""
    order = qubits[::-1]
    return Operator(circuit.unitary(qubit_order=order, qubits_that_should_be_present=order))


def through_cirq(ir: CircuitIR) -> CircuitIR:
    """IR -> Cirq -> IR, keeping width and parameter order."""
    circuit, qubits = to_cirq(ir)
    return from_cirq(circuit, qubits=qubits, parameters=ir.parameters)


def wire_sequences(ir: CircuitIR) -> dict[str, list[Op]]:
    """The ops on each qubit and clbit wire, in order (barriers left out)."""
    wires: dict[str, list[Op]] = {}
    for op in ir.ops:
        if op.name != "barrier":
            for wire in [f"q{q}" for q in op.qubits] + [f"c{c}" for c in op.clbits]:
                wires.setdefault(wire, []).append(op)
    return wires


@st.composite
def random_circuits(draw: st.DrawFn) -> QuantumCircuit:
    num_qubits = draw(st.integers(1, 4))
    names = [n for n in UNITARY_GATES if (GATES[n].num_qubits or 0) <= num_qubits]
    qc = QuantumCircuit(num_qubits)
    angles = st.floats(-2 * math.pi, 2 * math.pi, allow_nan=False, allow_infinity=False)
    for _ in range(draw(st.integers(0, 12))):
        name = draw(st.sampled_from(names))
        spec = GATES[name]
        assert spec.num_qubits is not None
        qubits = draw(st.permutations(range(num_qubits)))[: spec.num_qubits]
        params = [draw(angles) for _ in range(spec.num_params)]
        getattr(qc, name)(*params, *qubits)
    return qc


@settings(max_examples=200, deadline=None)
@given(random_circuits())
def test_random_circuits_keep_their_unitary_through_cirq(qc: QuantumCircuit) -> None:
    text = Circuit.from_qiskit(qc).qasm
    circuit, qubits = to_cirq(Circuit(qasm=text).ir)
    assert cirq_operator(circuit, qubits).equiv(Operator(qc))
    back = Circuit.from_ir(from_cirq(circuit, qubits=qubits)).qasm
    assert Operator(Circuit(qasm=back).to_qiskit()).equiv(Operator(qc))


@pytest.mark.parametrize("name", UNITARY_GATES)
def test_every_gate_has_the_same_unitary_in_cirq(name: str) -> None:
    spec = GATES[name]
    assert spec.num_qubits is not None
    qc = QuantumCircuit(3)
    # Qubits in descending order catch any endianness slip.
    getattr(qc, name)(
        *[0.3 + 0.7 * i for i in range(spec.num_params)], *[2, 0, 1][: spec.num_qubits]
    )
    ir = Circuit.from_qiskit(qc).ir
    circuit, qubits = to_cirq(ir)
    assert cirq_operator(circuit, qubits).equiv(Operator(qc))
    # Exactly equal, not only up to phase, where the Cirq gate is the same matrix.
    if name != "u":
        assert np.allclose(cirq_operator(circuit, qubits).data, Operator(qc).data, atol=1e-12)
    again = through_cirq(ir)
    if name != "u":  # u comes back as p, ry, p
        assert again == ir


def test_parameterized_circuits_round_trip_and_bind_in_ir_order() -> None:
    b, a = Parameter("b"), Parameter("a")
    qc = QuantumCircuit(2)
    qc.ry(2 * b + 0.5, 0)
    qc.crz(a.sin(), 0, 1)
    qc.rzz(a * b - 0.25, 0, 1)
    qc.u(b, (a + 1) ** 2, -a / 2, 1)
    qc.cp(a.exp(), 1, 0)
    # Qiskit sorts its parameters (a, b); the IR binds in its own order (b, a).
    ir = replace(Circuit.from_qiskit(qc).ir, parameters=("b", "a"))
    circuit, qubits = to_cirq(ir)
    assert cirq.parameter_names(circuit) == {"a", "b"}
    values = [0.7, -1.3]  # b, a: the IR's order, not sorted
    expected = Operator(qc.assign_parameters({b: 0.7, a: -1.3}))
    bound = cirq.resolve_parameters(circuit, resolver(ir, values))
    assert cirq_operator(bound, qubits).equiv(expected)
    again = through_cirq(ir)
    assert again.parameters == ir.parameters
    assert Operator(Circuit.from_ir(again).bind(values)).equiv(expected)
    points = list(sweep(ir, [values, [0.1, 0.2]]))
    assert [dict(p.param_dict) for p in points] == [{"b": 0.7, "a": -1.3}, {"b": 0.1, "a": 0.2}]
    with pytest.raises(CircuitError, match="expected 2 parameter values"):
        resolver(ir, [1.0])


def test_expressions_become_sympy_with_the_same_value() -> None:
    expr = to_sympy("2*theta + sin(phi)/tau - sqrt(theta)**2 + arctan(pi)")
    assert isinstance(expr, sympy.Expr)
    value = float(expr.subs({sympy.Symbol("theta"): 0.4, sympy.Symbol("phi"): 1.1}))
    want = 2 * 0.4 + math.sin(1.1) / math.tau - 0.4 + math.atan(math.pi)
    assert value == pytest.approx(want, abs=1e-14)
    assert to_sympy("pi/2") == math.pi / 2


def test_cirq_native_gates_are_mapped_or_decomposed() -> None:
    q = cirq.LineQubit.range(3)
    t = sympy.Symbol("t")
    circuit = cirq.Circuit(
        cirq.H(q[0]) ** 0.3,
        cirq.CNOT(q[0], q[1]) ** 0.37,
        cirq.ISWAP(q[1], q[2]) ** 0.5,
        cirq.FSimGate(0.3, 0.7).on(q[0], q[2]),
        cirq.PhasedXZGate(x_exponent=0.3, z_exponent=0.1, axis_phase_exponent=0.7).on(q[1]),
        cirq.CCZ(*q),
        cirq.X(q[1]).controlled_by(q[0], control_values=[0]),
        cirq.S(q[2]).controlled_by(q[1]),
        cirq.MatrixGate(cirq.testing.random_unitary(4, random_state=3)).on(q[2], q[0]),
        cirq.global_phase_operation(1j),
        cirq.XPowGate(exponent=t, global_shift=0.2).on(q[1]).controlled_by(q[0]),
    )
    ir = from_cirq(circuit)
    assert ir.num_qubits == 3 and ir.parameters == ("t_",)  # "t" is a gate: renamed
    bound = cirq.resolve_parameters(circuit, {"t": 0.45})
    assert Operator(Circuit.from_ir(ir).bind([0.45])).equiv(cirq_operator(bound, q))


@pytest.mark.parametrize(
    ("op", "moment", "what"),
    [
        (cirq.depolarize(0.1).on(cirq.LineQubit(1)), 1, "depolarize"),
        (cirq.X(cirq.LineQubit(1)).with_classical_controls("m"), 2, "ClassicallyControlled"),
    ],
)
def test_a_gate_that_does_not_convert_names_itself_and_its_moment(
    op: cirq.Operation, moment: int, what: str
) -> None:
    q0 = cirq.LineQubit(0)
    ops = [cirq.H(q0), cirq.measure(q0, key="m")] if moment == 2 else [cirq.H(q0)]
    circuit = cirq.Circuit(*ops, cirq.Moment(op))
    with pytest.raises(CircuitError, match=rf"moment {moment}: .*{what}") as info:
        from_cirq(circuit)
    assert "supported gates" in str(info.value)


def test_measurements_round_trip_with_their_clbits() -> None:
    text = (
        "qubit[3] q;\nbit[4] c;\nh q[0];\nc[2] = measure q[0];\nreset q[0];\n"
        "cx q[1], q[2];\nc[0] = measure q[2];\nc[3] = measure q[1];\nc[0] = measure q[0];\n"
    )
    ir = Circuit.from_qasm(text).ir
    circuit, qubits = to_cirq(ir)
    keys = [str(k) for k in cirq.measurement_key_objs(circuit)]
    assert sorted(keys) == [clbit_key(0), clbit_key(2), clbit_key(3)]
    again = from_cirq(circuit, qubits=qubits)
    assert again.num_clbits == ir.num_clbits
    # Cirq may move independent ops between moments; each wire keeps its sequence.
    assert wire_sequences(again) == wire_sequences(ir)


def test_other_measurement_keys_take_clbits_in_order_of_first_measurement() -> None:
    a, b, c = cirq.LineQubit.range(3)
    circuit = cirq.Circuit(
        cirq.Moment(cirq.X(a)),
        cirq.Moment(cirq.measure(c, a, key="z")),
        cirq.Moment(cirq.measure(b, key="a")),
    )
    ir = from_cirq(circuit)
    measures = [(op.qubits[0], op.clbits[0]) for op in ir.ops if op.name == "measure"]
    assert ir.num_clbits == 3
    assert measures == [(2, 0), (0, 1), (1, 2)]
    with pytest.raises(CircuitError, match="inverts"):
        from_cirq(cirq.Circuit(cirq.measure(a, key="m", invert_mask=(True,))))
    with pytest.raises(CircuitError, match="varying qubits"):
        from_cirq(cirq.Circuit(cirq.measure(a, b, key="m"), cirq.measure(c, key="m")))


def test_an_angle_outside_the_expression_syntax_names_its_moment() -> None:
    q0 = cirq.LineQubit(0)
    t = sympy.Symbol("t")
    circuit = cirq.Circuit(cirq.H(q0), cirq.rx(sympy.Abs(t)).on(q0))
    with pytest.raises(CircuitError, match=r"moment 1: .*Abs"):
        from_cirq(circuit)
