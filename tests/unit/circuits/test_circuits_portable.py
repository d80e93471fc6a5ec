"""The canonical text is portable OpenQASM 3: Qiskit's importer and the ``openqasm3``
reference parser read it, with the same unitary, and it never clashes with a gate name."""

from __future__ import annotations

import math

import numpy as np
import openqasm3
import pytest
from qiskit import QuantumCircuit, qasm3
from qiskit.circuit import Parameter, ParameterExpression
from qiskit.quantum_info import Operator

from circuits import Circuit
from circuits.expressions import GATE_NAMES
from circuits.ir import GATES, NON_UNITARY
from circuits.qasm import loads
from circuits.qasm_library import PORTABLE

UNITARY_GATES = sorted(name for name in GATES if name not in NON_UNITARY)
# Names Qiskit users give parameters that are also gate names in stdgates.inc.
CLASHING = ("t", "x", "p", "h", "theta", "s")


def random_circuit(seed: int, *, measured: bool) -> QuantumCircuit:
    """A random circuit over every IR gate; some angles use parameters named like gates."""
    rng = np.random.default_rng(seed)
    num_qubits = int(rng.integers(3, 5))
    params = [Parameter(name) for name in rng.choice(CLASHING, size=2, replace=False)]
    qc = QuantumCircuit(num_qubits, num_qubits if measured else 0)

    def angle() -> float | ParameterExpression:
        a, b = params
        choice = int(rng.integers(0, 4))
        options = [float(rng.uniform(-math.pi, math.pi)), 2 * a + 0.5, -b / 3, a * b]
        return options[choice]

    for _ in range(int(rng.integers(4, 14))):
        name = UNITARY_GATES[int(rng.integers(0, len(UNITARY_GATES)))]
        spec = GATES[name]
        assert spec.num_qubits is not None
        qubits = [int(q) for q in rng.choice(num_qubits, size=spec.num_qubits, replace=False)]
        getattr(qc, name)(*[angle() for _ in range(spec.num_params)], *qubits)
    qc.ryy(angle(), 0, 1)  # and so sxdg's definition, which ryy's uses
    if measured:
        qc.barrier()
        qc.reset(2)
        qc.measure(range(num_qubits), range(num_qubits))
    return qc


def bound(qc: QuantumCircuit, values: dict[str, float]) -> QuantumCircuit:
    return qc.assign_parameters({p: values[p.name] for p in qc.parameters})


@pytest.mark.parametrize("seed", range(200))
def test_qiskit_and_the_reference_parser_read_the_canonical_text(seed: int) -> None:
    circuit = Circuit.from_qiskit(random_circuit(seed, measured=False))
    assert not set(circuit.parameters) & GATE_NAMES
    values = {name: 0.3 + 0.7 * i for i, name in enumerate(circuit.parameters)}
    mine = circuit.bind([values[name] for name in circuit.parameters])
    theirs = bound(qasm3.loads(circuit.qasm), values)
    assert Operator(theirs).equiv(Operator(mine))
    # The reference parser's own printing of its tree reads back as the same circuit.
    reprinted = openqasm3.dumps(openqasm3.parse(circuit.qasm))
    assert Circuit.from_ir(loads(reprinted)) == circuit


@pytest.mark.parametrize("seed", range(20))
def test_measured_circuits_are_read_too(seed: int) -> None:
    circuit = Circuit.from_qiskit(random_circuit(seed, measured=True))
    theirs = qasm3.loads(circuit.qasm)
    assert theirs.num_qubits == circuit.num_qubits and theirs.num_clbits == circuit.num_clbits
    assert theirs.count_ops()["measure"] == circuit.num_qubits
    assert Circuit.from_ir(loads(openqasm3.dumps(openqasm3.parse(circuit.qasm)))) == circuit


def test_the_gates_outside_stdgates_are_defined_once_and_kept() -> None:
    text = (
        'OPENQASM 3.0;\ninclude "stdgates.inc";\ninput float[64] t;\nqubit[2] q;\n'
        "u(1, 2, 3) q[0];\nryy(t) q[0], q[1];\nrzz(t/2) q[1], q[0];\nrxx(0.1) q[0], q[1];\n"
    )
    canonical = Circuit.from_qasm(text).qasm
    defined = [
        line.split()[1].split("(")[0] for line in canonical.splitlines() if line.startswith("gate ")
    ]
    assert defined == ["sxdg", "rxx", "ryy", "rzz"]
    assert "U(1, 2, 3) q[0];" in canonical and "input float[64] t_;" in canonical
    assert "ryy(t_) q[0], q[1];" in canonical  # the gate stays itself, not its body
    assert Circuit(qasm=canonical).qasm == canonical


@pytest.mark.parametrize("name", list(PORTABLE))
def test_each_definition_keeps_qiskits_unitary(name: str) -> None:
    definition = PORTABLE[name]
    expected = QuantumCircuit(definition.num_qubits)
    args = [0.37] if definition.params else []
    getattr(expected, name)(*args, *range(definition.num_qubits))
    text = Circuit.from_qiskit(expected).qasm
    assert f"gate {name}" in text
    assert Operator(qasm3.loads(text)).equiv(Operator(expected))


def test_a_changed_definition_of_a_known_gate_is_inlined() -> None:
    text = (
        'OPENQASM 3.0;\ninclude "stdgates.inc";\n'
        "gate rzz(a) x, y { cx y, x; rz(a) x; cx y, x; }\nqubit[2] q;\nrzz(0.5) q[0], q[1];\n"
    )
    canonical = Circuit.from_qasm(text).qasm
    assert "gate " not in canonical and "cx q[1], q[0];" in canonical
