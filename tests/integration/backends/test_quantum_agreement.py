"""Every simulator gives the same answers for the same batch.

Exact expectation values agree with Qiskit's ``Statevector`` to 1e-8 on every exact
simulator; sampled results agree with the exact ones within a 5-sigma bound; the same seed
gives the same counts twice. Each backend is driven only through the QuantumBackend
contract, by its registered name.
"""

from __future__ import annotations

import math
import time

import numpy as np
import pytest
from qiskit import QuantumCircuit
from qiskit.circuit import Parameter
from qiskit.quantum_info import SparsePauliOp, Statevector

from backends import registry
from backends.base import QuantumBackend, QuantumBatch, QuantumItem
from backends.errors import BackendError
from backends.states import TaskState
from circuits.canonical import Circuit
from circuits.observables import PauliSum
from tests.integration.backends.quantum_contract import check_quantum_contract, run

pytestmark = pytest.mark.integration

EXACT = ["aer", "aer-mps", "aer-density", "pennylane", "lightning", "cirq", "cirq-density"]
EXACT += ["braket"]
SEEDED = EXACT

H3 = PauliSum.from_list(
    [("ZZI", 0.5), ("IZZ", -0.4), ("XII", 0.3), ("IYY", 0.25), ("XZX", -0.2), ("III", 0.1)]
)
M3 = PauliSum.from_list([("IIZ", 1.0), ("YII", 0.7)])


def ansatz() -> Circuit:
    """Three qubits, parameters in an order that differs from Qiskit's sorted order."""
    c, a, b = Parameter("c"), Parameter("a"), Parameter("b")
    qc = QuantumCircuit(3)
    qc.ry(c, 0)
    qc.rx(a, 1)
    qc.h(2)
    qc.cx(0, 1)
    qc.crz(b, 1, 2)
    qc.rzz(0.3 * a + b, 0, 2)
    qc.u(0.2, c, 0.4, 1)
    qc.cswap(2, 0, 1)
    qc.sx(0)
    return Circuit.from_qiskit(qc)


def entangler() -> Circuit:
    qc = QuantumCircuit(3)
    qc.h(0)
    qc.cx(0, 1)
    qc.ry(0.8, 2)
    qc.cp(0.6, 1, 2)
    qc.tdg(1)
    return Circuit.from_qiskit(qc)


POINTS = [[0.1, 0.2, 0.3], [1.0, -0.5, 2.0], [-2.2, 0.7, 0.05]]


def batch(shots: int | None = None, seed: int | None = 11) -> QuantumBatch:
    return QuantumBatch(
        items=[
            QuantumItem(circuit=ansatz().qasm, parameter_values=POINTS, observables=[H3, M3]),
            QuantumItem(circuit=entangler().qasm, observables=[H3]),
        ],
        shots=shots,
        seed=seed,
    )


def reference(circuit: Circuit, values: list[float], obs: PauliSum) -> float:
    op = SparsePauliOp.from_list([(t.pauli, t.coeff) for t in obs.terms])
    return float(np.real(Statevector(circuit.bind(values)).expectation_value(op)))


def expected() -> list[list[list[float]]]:
    first = [[reference(ansatz(), p, o) for o in (H3, M3)] for p in POINTS]
    return [first, [[reference(entangler(), [], H3)]]]


@pytest.fixture(scope="module", params=EXACT)
def exact_backend(request: pytest.FixtureRequest) -> QuantumBackend:
    return registry.quantum(request.param)


@pytest.mark.parametrize("shots", [None, 500])
def test_every_simulator_honours_the_contract(
    exact_backend: QuantumBackend, shots: int | None
) -> None:
    check_quantum_contract(exact_backend, batch(shots=shots))
    check_quantum_contract(exact_backend, bell_counts_batch(seed=3))


def test_exact_values_agree_to_1e_8(exact_backend: QuantumBackend) -> None:
    assert exact_backend.capabilities().exact
    result = run(exact_backend, batch())
    want = expected()
    assert len(result.items) == 2
    for item, rows in zip(result.items, want, strict=True):
        assert item.expectation_values is not None
        assert np.allclose(item.expectation_values, rows, atol=1e-8, rtol=0)
    assert result.circuit_evaluations == len(POINTS) + 1
    assert result.backend == exact_backend.name
    assert result.native_ids and result.calls >= 1
    assert result.shots is None and result.shots_total == 0


def test_sampled_values_agree_within_5_sigma(exact_backend: QuantumBackend) -> None:
    result = run(exact_backend, batch(shots=4000))
    for item, rows in zip(result.items, expected(), strict=True):
        assert item.expectation_values is not None and item.std_errors is not None
        for got_row, err_row, want_row in zip(
            item.expectation_values, item.std_errors, rows, strict=True
        ):
            for got, err, want in zip(got_row, err_row, want_row, strict=True):
                assert err > 0
                assert abs(got - want) <= 5 * err + 1e-12, (got, want, err)
    assert result.shots == 4000 and result.shots_total > 0


def bell_counts_batch(seed: int | None) -> QuantumBatch:
    qc = QuantumCircuit(3, 3)
    qc.h(0)
    qc.cx(0, 1)
    qc.x(2)
    qc.ry(Parameter("t"), 0)
    qc.measure([0, 1, 2], [0, 1, 2])
    item = QuantumItem(circuit=Circuit.from_qiskit(qc).qasm, parameter_values=[[0.0], [0.9]])
    return QuantumBatch(items=[item], shots=3000, seed=seed)


@pytest.mark.parametrize("name", SEEDED)
def test_counts_follow_the_binomial_bound_and_seeds_repeat(name: str) -> None:
    backend = registry.quantum(name)
    first = run(backend, bell_counts_batch(seed=5)).items[0]
    again = run(backend, bell_counts_batch(seed=5)).items[0]
    other = run(backend, bell_counts_batch(seed=6)).items[0]
    assert first.counts is not None and again.counts is not None and other.counts is not None
    assert first.counts == again.counts
    assert first.counts != other.counts
    qc = Circuit(qasm=bell_counts_batch(None).items[0].circuit)
    for values, counts in zip([[0.0], [0.9]], first.counts, strict=True):
        bare = qc.bind(values).remove_final_measurements(inplace=False)
        probs = Statevector(bare).probabilities_dict()
        shots = sum(counts.values())
        assert shots == 3000
        assert all(len(key) == 3 for key in counts)
        for key in set(probs) | set(counts):
            p = probs.get(key, 0.0)
            bound = 5 * math.sqrt(p * (1 - p) / shots) + 1 / shots
            assert abs(counts.get(key, 0) / shots - p) <= bound, (key, counts, probs)
    assert first.quasi_probabilities is not None
    assert sum(first.quasi_probabilities[0].values()) == pytest.approx(1.0)


TELEPORT = """OPENQASM 2.0;
include "qelib1.inc";
qreg q[3];
creg m0[1];
creg m1[1];
creg out[1];
ry(1.1) q[0];
h q[1];
cx q[1], q[2];
cx q[0], q[1];
h q[0];
measure q[0] -> m0[0];
measure q[1] -> m1[0];
if(m1==1) x q[2];
if(m0==1) z q[2];
measure q[2] -> out[0];
"""
"""Teleportation with its corrections under classical control: ``out`` is 1 with
probability sin(0.55)**2 whatever the two measurements gave."""


@pytest.mark.parametrize("name", [n for n in SEEDED if n != "braket"])
def test_classical_control_teleports_a_state(name: str) -> None:
    backend = registry.quantum(name)
    work = QuantumBatch(items=[QuantumItem(circuit=TELEPORT)], shots=3000, seed=7)
    counts = run(backend, work).items[0].counts
    assert counts is not None and sum(counts[0].values()) == 3000
    ones = sum(n for key, n in counts[0].items() if key[0] == "1")
    assert len({key[1:] for key in counts[0]}) == 4  # the measurements themselves are random
    p = math.sin(0.55) ** 2
    assert abs(ones / 3000 - p) <= 5 * math.sqrt(p * (1 - p) / 3000)


def test_braket_refuses_classical_control_by_name() -> None:
    backend = registry.quantum("braket")
    work = QuantumBatch(items=[QuantumItem(circuit=TELEPORT)], shots=10, seed=7)
    try:
        native_id = backend.submit(work, task_id="controlled")
    except BackendError as exc:
        message = str(exc)
    else:
        while not (status := backend.status(native_id)).state.final:
            time.sleep(0.05)
        assert status.state is TaskState.FAILED
        message = status.message or ""
    assert "classically controlled" in message and "aer, cirq or pennylane" in message
