"""The QuantumBackend contract on ``braket`` (Braket's local simulators), and the gate
translation checked against Qiskit's matrices. The AWS path needs an account and is only
checked up to the point where it would reach the network."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from braket.circuits import Circuit as BraketCircuit
from braket.devices import LocalSimulator
from qiskit.quantum_info import Operator, SparsePauliOp, Statevector

from backends import registry
from backends.base import BackendStatus, QuantumBatch, QuantumItem
from backends.braket import BraketBackend
from backends.braket_convert import GATE_MAP, template
from backends.errors import BackendError, NativeJobLost
from backends.states import TaskState
from circuits.canonical import Circuit
from circuits.ir import GATES, NON_UNITARY, CircuitIR, Op
from circuits.observables import PauliSum

QPU = "arn:aws:braket:us-east-1::device/qpu/ionq/Aria-1"
UNITARY = sorted(name for name in GATES if name not in NON_UNITARY)

ANSATZ = """OPENQASM 3.0;
include "stdgates.inc";
input float[64] theta;
input float[64] phi;
qubit[3] q;
ry(2*theta + 0.5) q[0];
rx(sin(phi)) q[1];
h q[2];
cx q[0], q[1];
crz(theta - phi) q[1], q[2];
rzz(phi/2) q[0], q[2];
u(theta, phi, 0.3) q[1];
"""
POINTS = [[0.1, 0.2], [1.0, -0.5], [2.5, 0.7]]
H3 = PauliSum.from_list([("ZZI", 0.5), ("XIX", -0.3), ("IYZ", 0.2), ("III", 0.1)])
Z0 = PauliSum.from_list([("IIZ", 1.0), ("ZZI", 0.25)])


def statevector_value(circuit: Circuit, values: list[float], obs: PauliSum) -> float:
    state = Statevector(circuit.bind(values))
    op = SparsePauliOp.from_list([(t.pauli, t.coeff) for t in obs.terms])
    return float(np.real(state.expectation_value(op)))


def phase_free(a: np.ndarray, b: np.ndarray) -> float:
    """Distance between two unitaries up to a global phase."""
    index = np.unravel_index(np.argmax(np.abs(b)), b.shape)
    phase = a[index] / b[index]
    return float(np.max(np.abs(a - phase * b)))


def test_every_canonical_gate_has_a_translation() -> None:
    assert set(GATE_MAP) == set(UNITARY)


@pytest.mark.parametrize("name", UNITARY)
def test_gate_matches_qiskit_unitary_up_to_global_phase(name: str) -> None:
    spec = GATES[name]
    assert spec.num_qubits is not None
    # Qubits in a scrambled order on a wider register: checks the qubit mapping too.
    qubits = (2, 0, 3)[: spec.num_qubits]
    angles = tuple(repr(a) for a in (0.731, -1.234, 2.468)[: spec.num_params])
    ir = CircuitIR(4, 0, (), (Op(name, qubits, angles),))
    circuit = Circuit.from_ir(ir)
    braket = BraketCircuit().i(0).i(1).i(2).i(3)
    braket.add_circuit(template(circuit).bind([]))
    # Braket's matrices are big-endian (qubit 0 most significant), Qiskit's little-endian.
    expected = Operator(circuit.to_qiskit()).reverse_qargs().data
    assert phase_free(braket.to_unitary(), expected) < 1e-12


def test_exact_expectations_match_statevector_for_every_parameter_set() -> None:
    circ = Circuit(qasm=ANSATZ)
    batch = QuantumBatch(
        items=[QuantumItem(circuit=circ.qasm, parameter_values=POINTS, observables=[H3, Z0])]
    )
    backend = BraketBackend()
    nid = backend.submit(batch, task_id="t")
    assert backend.status(nid).state is TaskState.COMPLETED
    res = backend.result(nid)
    got = res.items[0].expectation_values
    assert got is not None and res.items[0].std_errors == [[0.0, 0.0]] * 3
    for row, p in zip(got, POINTS, strict=True):
        assert row[0] == pytest.approx(statevector_value(circ, p, H3), abs=1e-8)
        assert row[1] == pytest.approx(statevector_value(circ, p, Z0), abs=1e-8)
    assert res.circuit_evaluations == 3 and res.shots_total == 0
    assert res.calls == 1 and res.metadata["mechanism"] == "run_batch"
    assert len(res.native_ids) == 3 and nid == res.native_ids[0]
    assert res.backend == "braket" and res.backend_version.startswith("amazon-braket-sdk ")
    assert res.method == "braket_sv" and res.device == "StateVectorSimulator"


def test_exact_on_the_density_matrix_simulator_and_all_gates_run() -> None:
    # Every canonical gate in one circuit, through the simulator itself (not to_unitary).
    ops = [Op("h", (q,)) for q in range(3)]
    for name in UNITARY:
        spec = GATES[name]
        assert spec.num_qubits is not None
        params = tuple(f"{0.3 + k}*theta" for k in range(spec.num_params))
        ops.append(Op(name, (1, 2, 0)[: spec.num_qubits], params))
    circ = Circuit.from_ir(CircuitIR(3, 0, ("theta",), tuple(ops)))
    obs = PauliSum.from_list([("XYZ", 1.0), ("ZIX", 0.5), ("IYI", -0.7)])
    batch = QuantumBatch(
        items=[QuantumItem(circuit=circ.qasm, parameter_values=[[0.4], [1.3]], observables=[obs])]
    )
    backend = BraketBackend(device="braket_dm")
    res = backend.result(backend.submit(batch, task_id="t"))
    assert res.items[0].expectation_values is not None
    for row, p in zip(res.items[0].expectation_values, [[0.4], [1.3]], strict=True):
        assert row[0] == pytest.approx(statevector_value(circ, p, obs), abs=1e-8)
    assert res.method == "braket_dm" and res.device == "DensityMatrixSimulator"


def test_sampled_expectations_agree_within_five_sigma() -> None:
    circ = Circuit(qasm=ANSATZ)
    batch = QuantumBatch(
        items=[QuantumItem(circuit=circ.qasm, parameter_values=POINTS[:2], observables=[H3])],
        shots=4000,
        seed=11,
    )
    backend = BraketBackend()
    res = backend.result(backend.submit(batch, task_id="t"))
    item = res.items[0]
    assert item.expectation_values is not None and item.std_errors is not None
    for p, row, err in zip(POINTS[:2], item.expectation_values, item.std_errors, strict=True):
        assert err[0] > 0
        assert abs(row[0] - statevector_value(circ, p, H3)) < 5 * err[0]
    assert res.shots_total == 4000 * res.circuit_evaluations
    assert res.metadata["mechanism"] == "program_set" and res.calls == 1


def bell_batch(seed: int | None) -> QuantumBatch:
    text = (
        'OPENQASM 3.0;\ninclude "stdgates.inc";\ninput float[64] a;\nqubit[2] q;\nbit[2] c;\n'
        "ry(a) q[0];\ncx q[0], q[1];\nh q[1];\nc[0] = measure q[0];\nc[1] = measure q[1];\n"
    )
    return QuantumBatch(
        items=[QuantumItem(circuit=text, parameter_values=[[0.3], [1.9]])], shots=500, seed=seed
    )


def test_the_same_seed_gives_the_same_counts() -> None:
    backend = BraketBackend()
    first = backend.result(backend.submit(bell_batch(7), task_id="a")).items[0].counts
    again = backend.result(backend.submit(bell_batch(7), task_id="b")).items[0].counts
    other = backend.result(backend.submit(bell_batch(8), task_id="c")).items[0].counts
    assert first == again
    assert first != other
    # A fresh backend (a restarted worker) draws the same samples too.
    fresh = BraketBackend()
    assert fresh.result(fresh.submit(bell_batch(7), task_id="d")).items[0].counts == first


def counts_of(text: str, shots: int = 50) -> dict[str, int]:
    batch = QuantumBatch(items=[QuantumItem(circuit=text)], shots=shots, seed=1)
    backend = BraketBackend()
    counts = backend.result(backend.submit(batch, task_id="t")).items[0].counts
    assert counts is not None
    return counts[0]


def test_counts_are_keyed_in_qiskit_bit_order() -> None:
    head = 'OPENQASM 3.0;\ninclude "stdgates.inc";\n'
    both = "c[0] = measure q[0];\nc[1] = measure q[1];\n"
    assert counts_of(head + "qubit[2] q;\nbit[2] c;\nx q[0];\n" + both) == {"01": 50}
    # Clbits need not follow qubits: qubit 0 into clbit 1.
    swapped = "qubit[2] q;\nbit[2] c;\nx q[0];\nc[1] = measure q[0];\nc[0] = measure q[1];\n"
    assert counts_of(head + swapped) == {"10": 50}
    # An idle measured qubit, and a clbit nothing writes (it reads 0).
    sparse = "qubit[3] q;\nbit[4] c;\nx q[2];\nc[3] = measure q[2];\nc[1] = measure q[0];\n"
    assert counts_of(head + sparse) == {"1000": 50}
    # No gates at all (Braket refuses such circuits unless given an identity).
    assert counts_of(head + "qubit[2] q;\nbit[1] c;\nc[0] = measure q[1];\n") == {"0": 50}


def test_a_big_batch_takes_one_program_set_per_hundred_executables() -> None:
    plain = bell_batch(3).items[0].circuit
    items = [
        QuantumItem(circuit=plain, parameter_values=[[0.01 * k] for k in range(50)])
        for _ in range(3)
    ]
    batch = QuantumBatch(items=items, shots=10, seed=3)
    backend = BraketBackend()
    nid = backend.submit(batch, task_id="t")
    res = backend.result(nid)
    assert res.circuit_evaluations == 150 and res.calls == 2
    assert len(res.native_ids) == 2 and res.native_ids[0] == nid
    assert all(sum(row.values()) == 10 for item in res.items for row in item.counts or [])


def test_shots_above_the_program_set_limit_run_one_task_per_executable() -> None:
    batch = bell_batch(5).model_copy(update={"shots": 200_001})
    backend = BraketBackend()
    res = backend.result(backend.submit(batch, task_id="t"))
    assert res.calls == 2 and res.metadata["mechanism"] == "run"
    assert [sum(c.values()) for c in res.items[0].counts or []] == [200_001] * 2


def test_contract_points_on_the_local_simulator() -> None:
    backend = BraketBackend()
    caps = backend.capabilities()
    assert caps.kind == "quantum" and caps.max_qubits == 26 and caps.exact
    assert caps.reattach is False and caps.poll_seconds == 0 and caps.basis_gates is None
    assert BraketBackend(device="braket_dm").capabilities().max_qubits == 13
    assert BraketBackend(max_qubits=5).capabilities().max_qubits == 5
    with pytest.raises(NativeJobLost):
        backend.status("no-such-task")
    with pytest.raises(NativeJobLost):
        backend.result("no-such-task")
    nid = backend.submit(bell_batch(1), task_id="t")
    backend.cancel(nid)
    backend.cancel(nid)
    assert backend.status(nid).state is TaskState.COMPLETED
    assert backend.result(nid).items[0].counts is not None
    assert isinstance(registry.quantum("braket"), BraketBackend)


def test_unknown_options_and_devices_are_refused() -> None:
    with pytest.raises(BackendError, match=r"unknown option\(s\) for braket: shotz; valid"):
        BraketBackend(shotz=3)
    with pytest.raises(BackendError, match="s3_bucket"):
        BraketBackend(bucket="x")
    with pytest.raises(BackendError, match="unknown Braket device 'sv2'"):
        BraketBackend(device="sv2")


def test_too_wide_and_mid_circuit_measurements_are_refused() -> None:
    backend = BraketBackend(max_qubits=2)
    wide = 'OPENQASM 3.0;\ninclude "stdgates.inc";\nqubit[3] q;\nh q[2];\n'
    batch = QuantumBatch(items=[QuantumItem(circuit=wide, observables=[Z0])])
    with pytest.raises(BackendError, match="3 qubits"):
        backend.submit(batch, task_id="t")
    mid = (
        'OPENQASM 3.0;\ninclude "stdgates.inc";\nqubit[1] q;\nbit[1] c;\n'
        "c[0] = measure q[0];\nh q[0];\nc[0] = measure q[0];\n"
    )
    batch = QuantumBatch(items=[QuantumItem(circuit=mid)], shots=10)
    with pytest.raises(BackendError, match="only at the end"):
        BraketBackend().submit(batch, task_id="t")


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any attempt to build an AWS session fails the test."""
    import boto3  # type: ignore[import-untyped]

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("no AWS call may happen here")

    monkeypatch.setattr(boto3, "Session", refuse)
    monkeypatch.setattr(boto3, "client", refuse)


@pytest.mark.usefixtures("no_network")
def test_exact_is_refused_on_a_qpu_before_any_aws_call() -> None:
    backend = BraketBackend(device=QPU, max_qubits=25)
    batch = QuantumBatch(items=[QuantumItem(circuit=Circuit(qasm=ANSATZ).qasm, observables=[H3])])
    with pytest.raises(BackendError, match="set shots"):
        backend.submit(batch, task_id="t")
    caps = backend.capabilities()
    assert caps.exact is False and caps.reattach is True and caps.poll_seconds == 2.0
    assert BraketBackend(device="arn:aws:braket:::device/quantum-simulator/amazon/sv1").exact
    with pytest.raises(NativeJobLost):
        backend.status("not-an-arn")


@pytest.mark.usefixtures("no_network")
def test_local_runs_never_touch_aws() -> None:
    backend = BraketBackend()
    assert backend.result(backend.submit(bell_batch(2), task_id="t")).items[0].counts


def test_identity_only_observables_need_no_simulation() -> None:
    circ = Circuit(qasm=ANSATZ)
    obs = PauliSum.from_list([("III", 0.75)])
    batch = QuantumBatch(
        items=[QuantumItem(circuit=circ.qasm, parameter_values=POINTS, observables=[obs])]
    )
    backend = BraketBackend()
    res = backend.result(backend.submit(batch, task_id="t"))
    assert res.items[0].expectation_values == [[0.75]] * 3 and res.calls == 0
    assert res.metadata["mechanism"] == "none" and res.native_ids == []
    idle = 'OPENQASM 3.0;\ninclude "stdgates.inc";\nqubit[3] q;\n'
    obs = PauliSum.from_list([("ZII", 1.0), ("IXI", 0.5)])
    batch = QuantumBatch(items=[QuantumItem(circuit=idle, observables=[obs])])
    values = backend.result(backend.submit(batch, task_id="u")).items[0].expectation_values
    assert values is not None and values[0][0] == pytest.approx(1.0, abs=1e-12)


class FakeAws:
    """AWS as far as the backend sees it: S3 objects in a dict, and tasks that the local
    simulator runs at creation (their results are the SDK's own result objects)."""

    def __init__(self) -> None:
        self.objects: dict[tuple[str, str], bytes] = {}
        self.tasks: dict[str, FakeTask] = {}
        self.simulator = LocalSimulator()
        self.properties = self.simulator.properties

    # session
    s3_client = property(lambda self: self)

    def default_bucket(self) -> str:
        return "amazon-braket-test"

    def put_object(self, Bucket: str, Key: str, Body: bytes) -> None:
        self.objects[(Bucket, Key)] = Body

    def retrieve_s3_object_body(self, bucket: str, key: str) -> str:
        return self.objects[(bucket, key)].decode()

    # device
    def run(self, spec: Any, folder: tuple[str, str], shots: int) -> FakeTask:
        arn = f"arn:aws:braket:us-east-1:123456789012:quantum-task/{len(self.tasks)}"
        self.tasks[arn] = FakeTask(arn, self.simulator.run(spec, shots=shots).result())
        return self.tasks[arn]

    def run_batch(self, specs: list[Any], folder: tuple[str, str], shots: int) -> Any:
        return type("Batch", (), {"tasks": [self.run(s, folder, shots) for s in specs]})()


class FakeTask:
    def __init__(self, arn: str, result: Any) -> None:
        self.id, self._result, self.word, self.cancelled = arn, result, "COMPLETED", 0

    def state(self) -> str:
        return self.word

    def cancel(self) -> None:
        self.cancelled += 1

    def result(self) -> Any:
        return self._result

    def metadata(self) -> dict[str, Any]:
        failed = {"failureReason": "device offline"} if self.word == "FAILED" else {}
        return {"status": self.word, **failed}


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> FakeAws:
    fake = FakeAws()
    monkeypatch.setattr(BraketBackend, "_session", lambda self, region: fake)
    monkeypatch.setattr(BraketBackend, "_device_handle", lambda self: fake)
    monkeypatch.setattr(BraketBackend, "_task", lambda self, arn: fake.tasks[arn])
    return fake


def test_aws_bookkeeping_reattaches_from_a_new_process(aws: FakeAws) -> None:
    circ = Circuit(qasm=ANSATZ)
    points = [[0.01 * k, 0.3] for k in range(40)]
    items = [QuantumItem(circuit=circ.qasm, parameter_values=points, observables=[H3])]
    batch = QuantumBatch(items=[*items, *bell_batch(0).items], shots=100)
    nid = BraketBackend(device=QPU, max_qubits=25).submit(batch, task_id="t9")
    arns, manifest = nid.split("|")[:-1], nid.split("|")[-1]
    assert len(arns) == 2 and manifest.startswith("s3://amazon-braket-test/qcbroker/batches/t9-")
    later = BraketBackend(device=QPU, max_qubits=25)  # a restarted worker knows only the id
    assert later.status(nid).state is TaskState.COMPLETED
    res = later.result(nid)
    # H3 takes 3 measurement groups: 3 x 40 + 2 executables, 100 to a program set.
    assert res.native_ids == arns and res.calls == 2 and res.circuit_evaluations == 122
    assert res.method == "Aria-1" and res.metadata["mechanism"] == "program_set"
    values = res.items[0].expectation_values
    assert values is not None and len(values) == 40
    assert res.items[1].counts is not None and len(res.items[1].counts) == 2
    aws.tasks[arns[1]].word = "QUEUED"
    assert later.status(nid).state is TaskState.RUNNING
    later.cancel(nid)
    assert [aws.tasks[a].cancelled for a in arns] == [0, 1]
    aws.tasks[arns[0]].word = "QUEUED"
    assert later.status(nid).state is TaskState.QUEUED
    aws.tasks[arns[1]].word = "FAILED"
    assert later.status(nid) == BackendStatus(state=TaskState.FAILED, native_state="FAILED")
    failed = later.result(nid)
    assert failed.metadata["failures"] == ["QUEUED", "device offline"]
    assert all(item.counts is None for item in failed.items)
