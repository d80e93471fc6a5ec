"""Qiskit <-> IR <-> text round trips preserve unitaries and positional parameter binding."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pytest
from qiskit import QuantumCircuit
from qiskit.circuit import Gate, Parameter, ParameterExpression, ParameterVector
from qiskit.circuit.library import MCXGate, QFTGate
from qiskit.quantum_info import Operator

from circuits.errors import CircuitError
from circuits.ir import GATES, NON_UNITARY
from circuits.qasm import dumps, loads
from circuits.qiskit_convert import (
    bind,
    from_qiskit,
    parameters_in_order,
    sanitize_names,
    to_qiskit,
)

UNITARY_GATES = sorted(name for name in GATES if name not in NON_UNITARY)


def random_circuit(seed: int) -> tuple[QuantumCircuit, list[Parameter]]:
    """A random circuit over every supported gate, some angles symbolic in 3 parameters."""
    rng = np.random.default_rng(seed)
    num_qubits = int(rng.integers(3, 5))
    params = [Parameter(name) for name in ("zeta", "alpha", "mu")]
    qc = QuantumCircuit(num_qubits)

    def angle() -> float | ParameterExpression:
        a, b, c = params
        choice = int(rng.integers(0, 6))
        if choice == 0:
            return float(rng.uniform(-math.pi, math.pi))
        return [2 * a + 0.5, -b / 2, c.sin(), a * b - 0.25, (c + 1) ** 2][choice - 1]

    for _ in range(int(rng.integers(10, 25))):
        name = UNITARY_GATES[int(rng.integers(0, len(UNITARY_GATES)))]
        spec = GATES[name]
        assert spec.num_qubits is not None
        qubits = [int(q) for q in rng.choice(num_qubits, size=spec.num_qubits, replace=False)]
        getattr(qc, name)(*[angle() for _ in range(spec.num_params)], *qubits)
    # Every gate of the set appears in at least some circuits; make sure ccx/u appear often.
    qc.u(angle(), angle(), angle(), 0)
    qc.ccx(0, 1, 2)
    return qc, params


def bind_original(qc: QuantumCircuit, values: dict[str, float]) -> QuantumCircuit:
    return qc.assign_parameters({p: values[p.name] for p in qc.parameters})


@pytest.mark.parametrize("seed", range(50))
def test_random_round_trip_preserves_the_unitary(seed: int) -> None:
    qc, _ = random_circuit(seed)
    ir = from_qiskit(qc)
    text = dumps(ir)
    ir2 = loads(text)
    assert dumps(ir2) == text
    back = to_qiskit(ir2)
    # IR order is qc.parameters order (sorted by name) for circuits from Qiskit.
    assert ir2.parameters == tuple(p.name for p in qc.parameters)
    values = {"alpha": 0.31, "mu": -1.7, "zeta": 2.2}
    positional = [values[name] for name in ir2.parameters]
    assert Operator(bind(back, ir2, positional)).equiv(Operator(bind_original(qc, values)))


def test_all_supported_gates_are_used_by_the_generator() -> None:
    used = {
        instruction.operation.name for seed in range(50) for instruction in random_circuit(seed)[0]
    }
    assert used == set(UNITARY_GATES)


def test_binding_is_positional_in_ir_order_not_qiskit_order() -> None:
    text = (
        "input float[64] zeta;\ninput float[64] alpha;\nqubit[1] q;\n"
        "rx(zeta) q[0];\nrz(2*alpha + 0.5) q[0];\n"
    )
    ir = loads(text)
    qc = to_qiskit(ir)
    assert [p.name for p in qc.parameters] == ["alpha", "zeta"]  # Qiskit sorts by name
    assert [p.name for p in parameters_in_order(ir)] == ["zeta", "alpha"]
    assert list(parameters_in_order(ir)) == [qc.parameters[1], qc.parameters[0]]
    expected = QuantumCircuit(1)
    expected.rx(0.3, 0)
    expected.rz(2 * 1.1 + 0.5, 0)
    assert Operator(bind(qc, ir, [0.3, 1.1])).equiv(Operator(expected))
    with pytest.raises(CircuitError, match="expected 2 parameter values"):
        bind(qc, ir, [0.3])


def test_unused_parameters_still_bind_positionally() -> None:
    ir = loads("input float[64] unused;\ninput float[64] t;\nqubit[1] q;\nry(t) q[0];\n")
    expected = QuantumCircuit(1)
    expected.ry(0.4, 0)
    assert Operator(bind(to_qiskit(ir), ir, [9.0, 0.4])).equiv(Operator(expected))


@pytest.mark.parametrize(
    ("expr_factory", "text"),
    [
        (lambda t: 2 * t + 0.5, "0.5 + 2*theta"),
        (lambda t: -t / 2, "-theta/2"),
        (lambda t: t.sin(), "sin(theta)"),
    ],
)
def test_expressions_convert_to_our_syntax(
    expr_factory: Callable[[Parameter], ParameterExpression], text: str
) -> None:
    theta = Parameter("theta")
    qc = QuantumCircuit(1)
    qc.rz(expr_factory(theta), 0)
    ir = from_qiskit(qc)
    assert ir.ops[0].params == (text,)
    back = to_qiskit(loads(dumps(ir)))
    assert Operator(bind(back, ir, [0.7])).equiv(Operator(qc.assign_parameters([0.7])))


def test_parameter_names_are_sanitized_in_qiskit_order() -> None:
    vector = ParameterVector("θ", 3)
    pi_param = Parameter("pi")
    qc = QuantumCircuit(2)
    qc.rx(vector[0] + pi_param, 0)
    qc.ry(vector[1] * vector[2], 1)
    ir = from_qiskit(qc)
    assert ir.parameters == ("pi_", "θ_0", "θ_1", "θ_2")
    assert ir.ops[0].params == ("pi_ + θ_0",)
    values = [0.1, 0.2, 0.3, 0.4]
    original = qc.assign_parameters(dict(zip(qc.parameters, values, strict=True)))
    assert Operator(bind(to_qiskit(ir), ir, values)).equiv(Operator(original))


def test_sanitize_names_unique_and_valid() -> None:
    names = sanitize_names(["θ[0]", "θ_0", "pi", "2x", "", "q", "for", "a b"])
    assert names == ["θ_0", "θ_0_2", "pi_", "p_2x", "p_", "q_", "for_", "a_b"]


@pytest.mark.parametrize(
    ("gate", "width"),
    [(QFTGate(3), 3), (MCXGate(4), 5)],
)
def test_unsupported_gates_are_decomposed(gate: Gate, width: int) -> None:
    qc = QuantumCircuit(width)
    qc.h(0)
    qc.append(gate, list(range(width)))
    ir = from_qiskit(qc)
    assert {op.name for op in ir.ops} <= set(GATES)
    assert Operator(to_qiskit(loads(dumps(ir)))).equiv(Operator(qc))


def test_multiple_registers_are_flattened() -> None:
    from qiskit.circuit import ClassicalRegister, QuantumRegister

    a, b, m = QuantumRegister(1, "a"), QuantumRegister(2, "b"), ClassicalRegister(2, "m")
    qc = QuantumCircuit(a, b, m)
    qc.cx(a[0], b[1])
    qc.measure(b[1], m[1])
    ir = from_qiskit(qc)
    assert [(op.name, op.qubits, op.clbits) for op in ir.ops] == [
        ("cx", (0, 2), ()),
        ("measure", (2,), (1,)),
    ]
    assert (ir.num_qubits, ir.num_clbits) == (3, 2)


def test_loops_are_refused_with_a_hint() -> None:
    qc = QuantumCircuit(1, 1)
    with qc.for_loop(range(2)):
        qc.x(0)
    with pytest.raises(CircuitError, match="'for_loop' is not supported") as info:
        from_qiskit(qc)
    assert info.value.hint is not None and "loops" in info.value.hint


def test_complex_parameters_are_refused() -> None:
    theta = Parameter("theta")
    qc = QuantumCircuit(1)
    qc.rz(theta * 1j, 0)
    with pytest.raises(CircuitError, match="supported expression syntax"):
        from_qiskit(qc)
