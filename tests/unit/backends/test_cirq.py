"""The QuantumBackend contract on ``cirq`` and ``cirq-density``, checked against Qiskit's
``Statevector``."""

from __future__ import annotations

import numpy as np
import pytest
from qiskit import QuantumCircuit
from qiskit.circuit import Parameter
from qiskit.quantum_info import Statevector

from backends.base import QuantumBatch, QuantumItem
from backends.cirq import CirqBackend, CirqDensityMatrixBackend
from backends.errors import BackendError, NativeJobLost
from backends.states import TaskState
from circuits.canonical import Circuit
from circuits.observables import PauliSum

BACKENDS = [CirqBackend, CirqDensityMatrixBackend]
H = PauliSum.from_list([("ZZI", 0.5), ("IXY", -0.3), ("YIZ", 0.2), ("III", 0.1)])
M = PauliSum.from_list([("IIZ", 1.0), ("XII", 0.7)])
POINTS = [[0.1, 0.2, 0.3], [1.0, -0.5, 2.0], [-2.2, 0.7, 0.05]]


def ansatz() -> Circuit:
    """Three qubits; "c" before "a" before "b", unlike Qiskit's sorted order."""
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


def exact(circuit: Circuit, values: list[float], obs: PauliSum) -> float:
    state = Statevector(circuit.bind(values))
    return float(np.real(state.expectation_value(obs.to_sparse_pauli_op())))


def batch(shots: int | None = None, seed: int | None = 11) -> QuantumBatch:
    item = QuantumItem(circuit=ansatz().qasm, parameter_values=POINTS, observables=[H, M])
    return QuantumBatch(items=[item], shots=shots, seed=seed)


@pytest.mark.parametrize("cls", BACKENDS)
def test_exact_expectations_match_statevector_to_1e_10(cls: type[CirqBackend]) -> None:
    backend = cls()
    native_id = backend.submit(batch(), task_id="t")
    assert backend.status(native_id).state is TaskState.COMPLETED
    result = backend.result(native_id)
    item = result.items[0]
    assert item.expectation_values is not None and item.std_errors is not None
    want = [[exact(ansatz(), p, obs) for obs in (H, M)] for p in POINTS]
    assert np.allclose(item.expectation_values, want, atol=1e-10, rtol=0)
    assert item.std_errors == [[0.0, 0.0]] * len(POINTS)
    assert result.backend == cls.name and result.method == cls.method
    assert result.backend_version.startswith("cirq-core 1.")
    assert result.circuit_evaluations == len(POINTS) and result.shots_total == 0
    assert result.shots is None and result.seed == 11 and result.device is None
    assert result.native_ids == [native_id] and result.calls == 1
    assert result.run_seconds > 0


@pytest.mark.parametrize("cls", BACKENDS)
def test_sampled_expectations_agree_within_five_sigma(cls: type[CirqBackend]) -> None:
    backend = cls()
    result = backend.result(backend.submit(batch(shots=4000), task_id="t"))
    item = result.items[0]
    assert item.expectation_values is not None and item.std_errors is not None
    for p, row, errors in zip(POINTS, item.expectation_values, item.std_errors, strict=True):
        for got, err, obs in zip(row, errors, (H, M), strict=True):
            assert err > 0
            assert abs(got - exact(ansatz(), p, obs)) < 5 * err
    # One run_sweep per measurement group, each over every parameter set.
    assert result.calls == result.circuit_evaluations // len(POINTS) > 1
    assert result.shots == 4000 and result.shots_total == 4000 * result.circuit_evaluations


def counts_batch(seed: int | None) -> QuantumBatch:
    qc = QuantumCircuit(3, 3)
    qc.h(0)
    qc.cx(0, 1)
    qc.ry(Parameter("t"), 2)
    qc.measure([0, 1, 2], [0, 1, 2])
    item = QuantumItem(circuit=Circuit.from_qiskit(qc).qasm, parameter_values=[[0.4], [2.0]])
    return QuantumBatch(items=[item], shots=500, seed=seed)


@pytest.mark.parametrize("cls", BACKENDS)
def test_the_same_seed_gives_the_same_counts(cls: type[CirqBackend]) -> None:
    backend = cls()
    first = backend.result(backend.submit(counts_batch(5), task_id="t")).items[0].counts
    again = backend.result(backend.submit(counts_batch(5), task_id="t")).items[0].counts
    other = backend.result(backend.submit(counts_batch(6), task_id="t")).items[0].counts
    assert first is not None and first == again and first != other
    for row in first:
        assert sum(row.values()) == 500
        assert set(row) <= {"000", "011", "100", "111"}  # qubits 0 and 1 agree


@pytest.mark.parametrize("cls", BACKENDS)
def test_counts_are_keyed_in_qiskit_bit_order(cls: type[CirqBackend]) -> None:
    qc = QuantumCircuit(2, 2)
    qc.x(0)
    qc.measure([0, 1], [0, 1])
    swapped = QuantumCircuit(3, 4)
    swapped.x(2)
    swapped.measure(2, 0)  # clbits 1 and 3 are never written: they read 0
    swapped.measure(0, 2)
    items = [
        QuantumItem(circuit=Circuit.from_qiskit(qc).qasm),
        QuantumItem(circuit=Circuit.from_qiskit(swapped).qasm),
    ]
    backend = cls()
    result = backend.result(backend.submit(QuantumBatch(items=items, shots=64), task_id="t"))
    assert result.items[0].counts == [{"01": 64}]
    assert result.items[0].quasi_probabilities == [{"01": 1.0}]
    assert result.items[1].counts == [{"0001": 64}]
    assert result.calls == 2 and result.circuit_evaluations == 2


def test_a_mid_circuit_measurement_keeps_its_last_value() -> None:
    text = "qubit[1] q;\nbit[1] c;\nx q[0];\nc[0] = measure q[0];\nx q[0];\nc[0] = measure q[0];\n"
    work = QuantumBatch(items=[QuantumItem(circuit=Circuit.from_qasm(text).qasm)], shots=20)
    backend = CirqBackend()
    assert backend.result(backend.submit(work, task_id="t")).items[0].counts == [{"0": 20}]


def test_contract_points() -> None:
    backend = CirqBackend()
    caps = backend.capabilities()
    assert caps.kind == "quantum" and caps.exact and not caps.reattach
    assert caps.max_qubits == 24 and caps.basis_gates is None
    assert caps.version.startswith("cirq-core ")
    assert CirqDensityMatrixBackend().capabilities().max_qubits == 12
    assert CirqBackend(max_qubits=2).capabilities().max_qubits == 2
    native_id = backend.submit(batch(), task_id="t")
    backend.cancel(native_id)
    backend.cancel(native_id)
    assert backend.status(native_id).state is TaskState.COMPLETED
    assert backend.result(native_id).items == backend.result(native_id).items
    with pytest.raises(NativeJobLost):
        backend.status("cirq-unknown")
    with pytest.raises(NativeJobLost):
        backend.result("cirq-unknown")
    backend.cancel("cirq-unknown")


def test_refusals() -> None:
    with pytest.raises(BackendError, match="valid options: max_qubits"):
        CirqBackend(method="mps")
    with pytest.raises(BackendError, match="positive integer"):
        CirqDensityMatrixBackend(max_qubits=0)
    with pytest.raises(BackendError, match="at most 2"):
        CirqBackend(max_qubits=2).submit(batch(), task_id="t")
    with pytest.raises(BackendError, match="observables"):
        CirqBackend().submit(counts_batch(None).model_copy(update={"shots": None}), task_id="t")
    with pytest.raises(BackendError, match="batch option"):
        CirqBackend().submit(batch().model_copy(update={"options": {"x": 1}}), task_id="t")
