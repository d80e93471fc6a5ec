"""The QuantumBackend contract on ``pennylane`` and ``lightning``, checked against Qiskit's
Statevector."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest
from qiskit import QuantumCircuit
from qiskit.quantum_info import Statevector

from backends import registry
from backends.base import QuantumBatch, QuantumItem
from backends.errors import BackendError, BackendUnavailable, NativeJobLost
from backends.pennylane import LightningBackend, LightningGPUBackend, PennyLaneBackend
from backends.states import TaskState
from circuits.canonical import Circuit
from circuits.observables import PauliSum

BACKENDS = [PennyLaneBackend, LightningBackend]

# Inputs declared in a different order from the sorted one Qiskit would use.
ANSATZ3 = """OPENQASM 3.0;
include "stdgates.inc";
input float[64] zeta;
input float[64] alpha;
input float[64] mu;
qubit[3] q;
ry(zeta) q[0];
u(alpha, 0.3, -mu) q[1];
h q[2];
cx q[0], q[1];
crx(2*alpha - zeta) q[1], q[2];
rzz(sin(mu)) q[0], q[2];
sxdg q[1];
cp(mu) q[2], q[0];
"""

ANSATZ2 = """OPENQASM 3.0;
include "stdgates.inc";
input float[64] b;
input float[64] a;
qubit[2] q;
ry(b) q[0];
rx(a) q[1];
cx q[0], q[1];
ryy(a*b) q[0], q[1];
"""

H3 = PauliSum.from_list([("ZZI", 0.5), ("XIY", -0.3), ("IYI", 0.2), ("III", 0.1), ("ZZI", 0.25)])
X3 = PauliSum.from_list([("XXX", 1.0)])
H2 = PauliSum.from_list([("ZZ", 0.5), ("XI", -0.3), ("IY", 0.2), ("II", 0.1)])


def exact(circuit: Circuit, values: list[float], obs: PauliSum) -> float:
    state = Statevector(circuit.bind(values))
    return float(np.real(state.expectation_value(obs.to_sparse_pauli_op())))


def counts_batch(qc: QuantumCircuit, shots: int = 50, seed: int | None = 1) -> QuantumBatch:
    return QuantumBatch(
        items=[QuantumItem(circuit=Circuit.from_qiskit(qc).qasm)], shots=shots, seed=seed
    )


@pytest.mark.parametrize("cls", BACKENDS)
def test_exact_values_match_statevector_in_one_native_call(cls: type[PennyLaneBackend]) -> None:
    c3, c2 = Circuit(qasm=ANSATZ3), Circuit(qasm=ANSATZ2)
    assert c3.parameters == ("zeta", "alpha", "mu")
    p3 = [[0.1, 0.2, 0.3], [1.0, -0.5, 2.0], [2.5, 0.7, -1.1], [-0.4, 3.0, 0.05]]
    p2 = [[0.4, -1.2], [2.2, 0.9]]
    batch = QuantumBatch(
        items=[
            QuantumItem(circuit=c3.qasm, parameter_values=p3, observables=[H3, X3]),
            QuantumItem(circuit=c2.qasm, parameter_values=p2, observables=[H2]),
            QuantumItem(circuit=c3.qasm, parameter_values=p3[:1], observables=[X3]),
        ]
    )
    backend = cls()
    nid = backend.submit(batch, task_id="t")
    assert backend.status(nid).state is TaskState.COMPLETED
    res = backend.result(nid)
    for item, circ, points, observables in zip(
        res.items, [c3, c2, c3], [p3, p2, p3[:1]], [[H3, X3], [H2], [X3]], strict=True
    ):
        assert item.expectation_values is not None and item.std_errors is not None
        assert len(item.expectation_values) == len(points)
        for row, errors, p in zip(item.expectation_values, item.std_errors, points, strict=True):
            assert errors == [0.0] * len(observables)
            for got, obs in zip(row, observables, strict=True):
                assert got == pytest.approx(exact(circ, p, obs), abs=1e-10)
    assert res.calls == 1 and res.native_ids == [nid]
    assert res.circuit_evaluations == 7 and res.shots_total == 0
    assert res.backend == cls.name and res.method == cls.device_name
    assert res.backend_version.startswith("pennylane 0.") and " / lightning " in res.backend_version
    assert res.shots is None and res.run_seconds > 0


@pytest.mark.parametrize("cls", BACKENDS)
def test_sampled_values_agree_within_five_standard_errors(cls: type[PennyLaneBackend]) -> None:
    circ = Circuit(qasm=ANSATZ3)
    points = [[0.4, 1.1, -0.3], [-0.7, 0.2, 1.9]]
    batch = QuantumBatch(
        items=[QuantumItem(circuit=circ.qasm, parameter_values=points, observables=[H3, X3])],
        shots=4000,
        seed=11,
    )
    backend = cls()
    res = backend.result(backend.submit(batch, task_id="t"))
    item = res.items[0]
    assert item.expectation_values is not None and item.std_errors is not None
    for p, row, errors in zip(points, item.expectation_values, item.std_errors, strict=True):
        for got, err, obs in zip(row, errors, [H3, X3], strict=True):
            assert err > 0
            assert abs(got - exact(circ, p, obs)) < 5 * err
    # H3 needs 2 qubit-wise commuting groups, X3 one: 3 runs at 2 parameter sets each.
    assert res.circuit_evaluations == 6
    assert res.shots_total == 6 * 4000 and res.shots == 4000 and res.seed == 11
    assert res.calls == 1


@pytest.mark.parametrize("cls", BACKENDS)
def test_same_seed_gives_identical_counts(cls: type[PennyLaneBackend]) -> None:
    qc = QuantumCircuit(3, 3)
    qc.h(0)
    qc.rx(0.9, 1)
    qc.cx(0, 2)
    qc.measure(range(3), range(3))
    fresh = cls()
    first = fresh.result(fresh.submit(counts_batch(qc, shots=500, seed=7), task_id="a"))
    backend = cls()
    again = [backend.result(backend.submit(counts_batch(qc, 500, 7), task_id=t)) for t in "bc"]
    assert first.items[0].counts == again[0].items[0].counts == again[1].items[0].counts
    other = backend.result(backend.submit(counts_batch(qc, 500, 8), task_id="d"))
    assert other.items[0].counts != first.items[0].counts


@pytest.mark.parametrize("cls", BACKENDS)
def test_counts_are_keyed_in_qiskit_bit_order(cls: type[PennyLaneBackend]) -> None:
    x0 = QuantumCircuit(2, 2)
    x0.x(0)
    x0.barrier()
    x0.measure([0, 1], [0, 1])
    crossed = QuantumCircuit(3, 3)  # qubit 0 into clbit 1, qubit 2 (|1>) into clbit 0
    crossed.x(2)
    crossed.measure([0, 2], [1, 0])
    mid = QuantumCircuit(1, 2)  # measure |1>, reset, measure again
    mid.x(0)
    mid.measure(0, 0)
    mid.reset(0)
    mid.measure(0, 1)
    batch = QuantumBatch(
        items=[QuantumItem(circuit=Circuit.from_qiskit(qc).qasm) for qc in (x0, crossed, mid)],
        shots=30,
        seed=3,
    )
    backend = cls()
    res = backend.result(backend.submit(batch, task_id="t"))
    assert [item.counts for item in res.items] == [[{"01": 30}], [{"001": 30}], [{"01": 30}]]
    assert res.items[0].quasi_probabilities == [{"01": 1.0}]
    assert res.calls == 1 and res.circuit_evaluations == 3 and res.shots_total == 90


@pytest.mark.parametrize("cls", BACKENDS)
def test_contract_points(cls: type[PennyLaneBackend]) -> None:
    backend = cls()
    caps = backend.capabilities()
    assert caps.kind == "quantum" and caps.exact and not caps.reattach
    assert caps.max_qubits is not None and 20 <= caps.max_qubits <= 30
    assert cls(max_qubits=2).capabilities().max_qubits == 2
    with pytest.raises(NativeJobLost):
        backend.status("nobody-knows-this")
    with pytest.raises(NativeJobLost):
        backend.result("nobody-knows-this")
    qc = QuantumCircuit(1, 1)
    qc.measure(0, 0)
    nid = backend.submit(counts_batch(qc), task_id="t")
    backend.cancel(nid)
    backend.cancel(nid)
    backend.cancel("nobody-knows-this")
    assert backend.status(nid).state is TaskState.COMPLETED
    assert backend.result(nid).items[0].counts == [{"0": 50}]


@pytest.mark.parametrize("cls", BACKENDS)
def test_bad_options_and_batches_are_refused(cls: type[PennyLaneBackend]) -> None:
    with pytest.raises(BackendError, match="valid options: max_qubits, mcm_method"):
        cls(shots=10)
    with pytest.raises(BackendError, match="mcm_method"):
        cls(mcm_method="magic")
    qc = QuantumCircuit(3, 3)
    qc.measure(range(3), range(3))
    batch = counts_batch(qc)
    with pytest.raises(BackendError, match="at most 2"):
        cls(max_qubits=2).submit(batch, task_id="t")
    with pytest.raises(BackendError, match="valid options: mcm_method"):
        cls().submit(batch.model_copy(update={"options": {"precision": 1}}), task_id="t")
    with pytest.raises(BackendError, match="observables"):
        cls().submit(batch.model_copy(update={"shots": None}), task_id="t")


def test_registry_finds_both_backends() -> None:
    assert isinstance(registry.quantum("pennylane"), PennyLaneBackend)
    assert isinstance(registry.quantum("lightning", max_qubits=12), LightningBackend)


@pytest.mark.skipif(
    registry.gpu_present() and importlib.util.find_spec("pennylane_lightning_gpu") is not None,
    reason="lightning.gpu can be created here",
)
def test_lightning_gpu_without_its_plugin_or_gpu_is_unavailable_with_a_hint() -> None:
    with pytest.raises(BackendUnavailable) as info:
        LightningGPUBackend()
    assert info.value.hint is not None
    assert "pip install pennylane-lightning-gpu" in info.value.hint
