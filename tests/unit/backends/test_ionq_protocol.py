"""IonQ protocol: canonical gates to ``qis`` JSON (checked against Qiskit's unitaries), job
bodies, statuses and results back to Qiskit-order counts. No network."""

from __future__ import annotations

import math
import zlib

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from qiskit.quantum_info import Operator

from backends import ionq_protocol as proto
from backends.errors import BackendError
from backends.states import TaskState
from circuits.canonical import Circuit
from circuits.ir import GATES, NON_UNITARY, CircuitIR, Op
from tests.harness import ionq_sim

UNITARY_GATES = sorted(name for name in GATES if name not in NON_UNITARY)


def same_up_to_phase(a: np.ndarray, b: np.ndarray) -> bool:
    """Whether ``a`` equals ``b`` times one unit complex number."""
    index = np.unravel_index(np.argmax(np.abs(b)), b.shape)
    phase = a[index] / b[index]
    return bool(abs(abs(phase) - 1) < 1e-9 and np.allclose(a, phase * b, atol=1e-9))


def qiskit_unitary(ir: CircuitIR, values: list[float]) -> np.ndarray:
    return np.asarray(Operator(Circuit.from_ir(ir).bind(values)).data)


def one_gate(name: str, qubits: tuple[int, ...], n: int) -> CircuitIR:
    """``name`` on ``qubits`` of ``n``, its angles the parameters a0, a1, ..."""
    params = tuple(f"a{i}" for i in range(GATES[name].num_params))
    return CircuitIR(n, 0, params, (Op(name, qubits, params),))


@pytest.mark.parametrize("name", UNITARY_GATES)
def test_every_canonical_gate_has_qiskits_unitary(name: str) -> None:
    rng = np.random.default_rng(zlib.crc32(name.encode()))
    spec = GATES[name]
    for _ in range(6):
        n = 3
        qubits = tuple(int(q) for q in rng.permutation(n)[: spec.num_qubits])
        values = [float(v) for v in rng.uniform(-2 * math.pi, 2 * math.pi, spec.num_params)]
        ir = one_gate(name, qubits, n)
        qis = proto.translate(ir, values)
        assert {g["gate"] for g in qis.gates} <= ionq_sim.QIS_GATES
        assert same_up_to_phase(ionq_sim.unitary(n, qis.gates), qiskit_unitary(ir, values)), (
            name,
            qubits,
            values,
        )


_OPS = st.sampled_from(UNITARY_GATES).flatmap(
    lambda name: st.tuples(
        st.just(name),
        st.permutations(range(4)).map(lambda p: tuple(p[: GATES[name].num_qubits])),
        st.lists(
            st.floats(-7, 7, allow_nan=False),
            min_size=GATES[name].num_params,
            max_size=GATES[name].num_params,
        ),
    )
)


@settings(max_examples=40, deadline=None)
@given(st.lists(_OPS, min_size=1, max_size=8))
def test_random_circuits_have_qiskits_unitary(
    ops: list[tuple[str, tuple[int, ...], list[float]]],
) -> None:
    ir = CircuitIR(
        4, 0, (), tuple(Op(n, q, tuple(repr(a) for a in angles)) for n, q, angles in ops)
    )
    qis = proto.translate(ir, [])
    assert same_up_to_phase(ionq_sim.unitary(4, qis.gates), qiskit_unitary(ir, []))


def test_expressions_are_bound_in_parameter_order() -> None:
    circuit = Circuit.from_qasm(
        'OPENQASM 3.0;\ninclude "stdgates.inc";\ninput float[64] b;\ninput float[64] a;\n'
        "qubit[1] q;\nrx(2*a + b) q[0];\n"
    )
    qis = proto.translate(circuit.ir, [0.5, 0.25])  # b, a
    assert qis.gates == ({"gate": "rx", "target": 0, "rotation": 1.0},)


def test_qis_gate_shapes_follow_the_api() -> None:
    ir = CircuitIR(
        3,
        0,
        (),
        (
            Op("cx", (2, 0)),
            Op("ccx", (0, 1, 2)),
            Op("rxx", (0, 2), ("0.5",)),
            Op("swap", (1, 2)),
        ),
    )
    gates = proto.translate(ir, []).gates
    assert gates[0] == {"gate": "cnot", "target": 0, "control": 2}
    assert gates[1] == {"gate": "cnot", "controls": [0, 1], "target": 2}
    assert gates[2] == {"gate": "xx", "targets": [0, 2], "rotation": 0.5}
    assert gates[3] == {"gate": "swap", "targets": [1, 2]}


def test_measurements_map_qubits_to_clbits_and_barriers_vanish() -> None:
    ir = CircuitIR(
        3,
        2,
        (),
        (
            Op("x", (0,)),
            Op("measure", (0,), clbits=(1,)),
            Op("barrier", (0, 1, 2)),
            Op("h", (2,)),
            Op("measure", (2,), clbits=(0,)),
        ),
    )
    qis = proto.translate(ir, [])
    assert qis.measured == ((0, 1), (2, 0))
    assert [g["gate"] for g in qis.gates] == ["x", "h"]


@pytest.mark.parametrize(
    "ops, words",
    [
        ((Op("measure", (0,), clbits=(0,)), Op("x", (0,))), "measured qubit"),
        ((Op("reset", (0,)),), "reset"),
        ((Op("rx", (0,), ("1/0.0",)),), "bad expression"),
    ],
)
def test_what_ionq_cannot_run_is_refused(ops: tuple[Op, ...], words: str) -> None:
    with pytest.raises(BackendError, match=words):
        proto.translate(CircuitIR(1, 1, (), ops), [])


def test_probabilities_use_qubit_0_as_least_significant_bit() -> None:
    assert ionq_sim.probabilities(3, [{"gate": "x", "target": 0}]) == {"1": 1.0}
    assert ionq_sim.probabilities(3, [{"gate": "x", "target": 2}]) == {"4": 1.0}
    bell = [{"gate": "h", "target": 0}, {"gate": "cnot", "control": 0, "target": 1}]
    assert ionq_sim.probabilities(2, bell) == pytest.approx({"0": 0.5, "3": 0.5})


def test_results_become_qiskit_order_bitstrings_of_the_clbits() -> None:
    # 3 qubits; q0 -> c2, q2 -> c0, c1 never measured. State 1 = q0 set, 4 = q2 set.
    circuit = proto.QisCircuit(3, (), ((0, 2), (2, 0)), 3)
    dist = proto.clbit_distribution({"1": 0.25, "4": 0.5, "5": 0.25}, circuit)
    assert dist == {"100": 0.25, "001": 0.5, "101": 0.25}
    # Qubits not measured are marginalised away.
    circuit = proto.QisCircuit(2, (), ((1, 0),), 1)
    assert proto.clbit_distribution({"0": 0.5, "1": 0.25, "3": 0.25}, circuit) == {
        "0": 0.75,
        "1": 0.25,
    }


def test_frequencies_round_back_to_exact_counts() -> None:
    counts = proto.to_counts({"00": 1 / 3, "01": 1 / 3, "11": 1 / 3}, 100)
    assert sum(counts.values()) == 100 and sorted(counts.values()) == [33, 33, 34]
    assert proto.to_counts({"0": 0.498, "1": 0.502}, 1000) == {"0": 498, "1": 502}


def test_exact_probabilities_are_sampled_reproducibly() -> None:
    dist = {"0": 0.5, "1": 0.5}
    first = proto.to_counts(dist, 1000, np.random.default_rng(3))
    assert first == proto.to_counts(dist, 1000, np.random.default_rng(3))
    assert sum(first.values()) == 1000 and 400 < first["0"] < 600


@pytest.mark.parametrize("bad", [{"x": 0.5}, {"1": -0.1}, {"1": "nan"}, {}])
def test_malformed_results_are_refused(bad: dict[str, float]) -> None:
    circuit = proto.QisCircuit(1, (), ((0, 0),), 1)
    with pytest.raises(BackendError):
        proto.to_counts(proto.clbit_distribution(bad, circuit), 10)


def test_multi_circuit_results_follow_child_order() -> None:
    job = {"id": "p", "child_job_ids": ["b", "a"]}
    data = {"a": {"0": 1.0}, "b": {"1": 1.0}}
    assert proto.split_probabilities(data, job) == [{"1": 1.0}, {"0": 1.0}]
    assert proto.split_probabilities({"3": 1}, {"id": "s"}) == [{"3": 1}]
    with pytest.raises(BackendError, match="children"):
        proto.split_probabilities(data, {"id": "p", "child_job_ids": ["a", "c"]})


def _circuit(gates: int) -> proto.QisCircuit:
    return proto.QisCircuit(2, ({"gate": "h", "target": 0},) * gates, ((0, 0),), 1)


def test_a_batch_goes_in_as_few_jobs_as_the_limits_allow(monkeypatch: pytest.MonkeyPatch) -> None:
    one = proto.job_payloads([_circuit(2)], backend="simulator", shots=10, name="n")
    assert one[0]["type"] == "ionq.circuit.v1" and one[0]["input"]["gateset"] == "qis"
    many = proto.job_payloads(
        [_circuit(2)] * 3,
        backend="qpu.aria-1",
        shots=10,
        name="n",
        metadata={"k": "v"},
        noise=None,
    )
    assert len(many) == 1 and many[0]["type"] == "ionq.multi-circuit.v1"
    assert [c["name"] for c in many[0]["input"]["circuits"]] == ["c0", "c1", "c2"]
    monkeypatch.setattr(proto, "MAX_CIRCUITS_PER_JOB", 2)
    monkeypatch.setattr(proto, "MAX_GATES_PER_JOB", 5)
    split = proto.job_payloads(
        [_circuit(2)] * 3 + [_circuit(4)], backend="s", shots=1, name="n", metadata={"k": "v"}
    )
    assert [p["name"] for p in split] == ["n-0", "n-1", "n-2"]
    assert "metadata" in split[0] and "metadata" not in split[1]
    with pytest.raises(BackendError, match="gates"):
        proto.job_payloads([_circuit(6)], backend="s", shots=1, name="n")


def test_batch_record_round_trips_through_metadata() -> None:
    text = '{"items": []}' * 1000
    metadata = proto.encode_record(text)
    assert all(len(v) <= proto.METADATA_VALUE_CHARS for v in metadata.values())
    assert len(metadata) <= 9 and proto.decode_record(metadata) == text
    assert proto.decode_record({"other": "x"}) is None
    with pytest.raises(BackendError, match="split the batch"):
        proto.encode_record(np.random.default_rng(0).bytes(400_000).hex())


@pytest.mark.parametrize(
    "word, state",
    [
        ("submitted", TaskState.QUEUED),
        ("ready", TaskState.QUEUED),
        ("started", TaskState.RUNNING),
        ("running", TaskState.RUNNING),
        ("completed", TaskState.COMPLETED),
        ("failed", TaskState.FAILED),
        ("canceled", TaskState.CANCELLED),
    ],
)
def test_ionq_statuses_map_to_task_states(word: str, state: TaskState) -> None:
    assert proto.job_status({"id": "j", "status": word}).state is state


def test_failures_carry_ionq_words_and_win_over_other_jobs() -> None:
    failed = {"id": "j", "status": "failed", "failure": {"code": "TooManyGates", "message": "big"}}
    status = proto.combined_status([{"status": "completed"}, failed])
    assert status.state is TaskState.FAILED and "TooManyGates: big" in status.message
    mixed = proto.combined_status([{"status": "completed"}, {"status": "ready"}])
    assert mixed.state is TaskState.RUNNING
    assert proto.combined_status([{"status": "ready"}]).state is TaskState.QUEUED


def test_timings_come_from_the_job_record() -> None:
    job = {
        "submitted_at": "2026-06-11T20:47:05.000Z",
        "started_at": "2026-06-11T20:47:10.000Z",
        "completed_at": "2026-06-11T20:47:15.000Z",
        "execution_duration_ms": 4200,
    }
    assert proto.queue_seconds([job]) == pytest.approx(5.0)
    assert proto.run_seconds([job]) == pytest.approx(4.2)
    assert proto.run_seconds([{**job, "execution_duration_ms": None}]) == pytest.approx(5.0)
    assert proto.queue_seconds([{"submitted_at": "2026-06-11T20:47:05Z"}]) is None
