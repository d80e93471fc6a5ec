"""The real IonQBackend against the IonQ API stand-in, over real HTTP on localhost."""

from __future__ import annotations

import logging
import time
from typing import Any

import numpy as np
import pytest
from qiskit.quantum_info import Statevector

from backends import ionq_protocol as proto
from backends.base import BackendStatus, QuantumBatch, QuantumItem, QuantumResult
from backends.errors import BackendError, NativeJobLost
from backends.ionq import IonQBackend
from backends.states import TaskState
from circuits.canonical import Circuit
from circuits.measurement import measurement_groups
from circuits.observables import PauliSum
from tests.integration.providers.ionq_standin import IonQStandIn

pytestmark = pytest.mark.integration

HEADER = 'OPENQASM 3.0;\ninclude "stdgates.inc";\n'
BELL = HEADER + (
    "input float[64] theta;\nqubit[2] q;\nbit[2] c;\nry(theta) q[0];\ncx q[0], q[1];\n"
    "c[0] = measure q[0];\nc[1] = measure q[1];\n"
)
# q0 -> c1 and q2 -> c0; q1 is not measured: X on q0 must read "10".
CROSSED = HEADER + (
    "qubit[3] q;\nbit[2] c;\nx q[0];\nh q[1];\nc[1] = measure q[0];\nc[0] = measure q[2];\n"
)
ANSATZ = HEADER + (
    "input float[64] a;\ninput float[64] b;\nqubit[3] q;\nry(a) q[0];\ncx q[0], q[1];\n"
    "rz(b) q[1];\ncry(a - b) q[1], q[2];\nh q[2];\n"
)
H = PauliSum.from_text("0.5 * ZZI + 0.3 * IXX - 0.2 * YYZ + 0.1 * III")
M = PauliSum.from_text("1.0 * ZII + 0.7 * XXX")
SHOTS = 4000
# Circuits per batch: Bell at 2 angles, CROSSED, and one per measurement group at 2 points.
CIRCUITS = 2 + 1 + 2 * (len(measurement_groups(H)) + len(measurement_groups(M)))


def backend(server: IonQStandIn, **options: Any) -> IonQBackend:
    return IonQBackend(url=server.url, api_key=server.api_key, poll_seconds=0.02, **options)


def the_batch(seed: int | None = 11) -> QuantumBatch:
    return QuantumBatch(
        items=[
            QuantumItem(circuit=BELL, parameter_values=[[0.4], [2.0]]),
            QuantumItem(circuit=CROSSED),
            QuantumItem(
                circuit=ANSATZ, parameter_values=[[0.3, 0.9], [1.7, -0.4]], observables=[H, M]
            ),
        ],
        shots=SHOTS,
        seed=seed,
    )


def wait(ionq: IonQBackend, native_id: str, until: set[TaskState] | None = None) -> BackendStatus:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        status = ionq.status(native_id)
        if status.state in (until or TaskState.finals()):
            return status
        time.sleep(0.02)
    raise AssertionError(f"{native_id} stuck in {status}")


def check_batch_result(result: QuantumResult, native_id: str) -> None:
    assert result.backend == "ionq" and result.backend_version == "ionq-api v0.4"
    assert result.native_ids == [native_id] and result.calls == 1
    assert result.circuit_evaluations == CIRCUITS == 13
    assert result.shots_total == SHOTS * result.circuit_evaluations
    assert result.queue_seconds is not None and result.queue_seconds >= 0.09
    assert result.run_seconds == pytest.approx(0.2)
    bell, crossed, ansatz = result.items
    assert bell.counts is not None and crossed.counts is not None
    for theta, counts in zip([0.4, 2.0], bell.counts, strict=True):
        assert sum(counts.values()) == SHOTS and set(counts) <= {"00", "11"}
        p11 = np.sin(theta / 2) ** 2
        assert abs(counts.get("11", 0) / SHOTS - p11) < 5 * np.sqrt(p11 * (1 - p11) / SHOTS)
    assert crossed.counts == [{"10": SHOTS}]
    circuit = Circuit(qasm=ANSATZ)
    assert ansatz.expectation_values is not None and ansatz.std_errors is not None
    for values, evs, errs in zip(
        [[0.3, 0.9], [1.7, -0.4]], ansatz.expectation_values, ansatz.std_errors, strict=True
    ):
        state = Statevector(circuit.bind(values))
        for obs, ev, err in zip([H, M], evs, errs, strict=True):
            exact = float(np.real(state.expectation_value(obs.to_sparse_pauli_op())))
            assert 0 < err < 0.05 and abs(ev - exact) < 5 * err, (obs, ev, exact, err)


@pytest.mark.parametrize("noise_model", [None, "aria-1"])
def test_a_batch_runs_as_one_job_and_folds_back(
    ionq_server: IonQStandIn, noise_model: str | None
) -> None:
    ionq = backend(ionq_server, noise_model=noise_model)
    native_id = ionq.submit(the_batch(), task_id="task-1")
    assert ionq.status(native_id).state in (TaskState.QUEUED, TaskState.RUNNING)
    assert wait(ionq, native_id).state is TaskState.COMPLETED
    result = ionq.result(native_id)
    check_batch_result(result, native_id)
    assert result.method == result.device == "simulator"
    (body,) = ionq_server.posted
    assert body["type"] == "ionq.multi-circuit.v1" and len(body["input"]["circuits"]) == CIRCUITS
    assert body["shots"] == SHOTS and body["name"].startswith("qcb-task-1-")
    assert body.get("noise") == ({"model": "aria-1", "seed": 11} if noise_model else None)
    assert ionq_server.answered(201) == 1
    # The ideal simulator's counts are sampled with the batch's seed: fetching again agrees.
    assert ionq.result(native_id) == result


def test_a_batch_over_ionqs_job_limits_spreads_over_several_jobs(
    ionq_server: IonQStandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(proto, "MAX_CIRCUITS_PER_JOB", 4)
    ionq = backend(ionq_server)
    native_id = ionq.submit(the_batch(), task_id="task-15")
    ids = native_id.split(",")
    assert len(ids) == 4 and [b["type"] for b in ionq_server.posted][-1] == "ionq.circuit.v1"
    assert wait(backend(ionq_server), native_id).state is TaskState.COMPLETED
    result = backend(ionq_server).result(native_id)  # the batch comes from the first job
    assert result.native_ids == ids and result.calls == 4
    assert result.items[1].counts == [{"10": SHOTS}]
    ionq.cancel(native_id)  # all finished: nothing to do


def test_a_new_worker_follows_and_folds_a_job_by_id(ionq_server: IonQStandIn) -> None:
    native_id = backend(ionq_server).submit(the_batch(seed=None), task_id="task-2")
    other = backend(ionq_server)  # as a worker in another process: knows only the id
    assert wait(other, native_id).state is TaskState.COMPLETED
    result = other.result(native_id)
    check_batch_result(result, native_id)
    assert result == backend(ionq_server).result(native_id)


def test_cancel_reaches_ionq_and_is_idempotent(ionq_server: IonQStandIn) -> None:
    ionq_server.run_s = 30
    ionq = backend(ionq_server)
    native_id = ionq.submit(the_batch(), task_id="task-3")
    assert wait(ionq, native_id, {TaskState.RUNNING}).native_state == "started"
    ionq.cancel(native_id)
    assert ionq_server.status_of(ionq_server.jobs[native_id]) == "canceled"
    status = ionq.status(native_id)
    assert status.state is TaskState.CANCELLED and native_id in status.message
    ionq.cancel(native_id)  # again: not an error
    assert ionq_server.answered(200) >= 1 and not ionq_server.answered(400)
    empty = ionq.result(native_id)
    assert empty.items == [] and empty.metadata["ionq_status"] == "canceled"


def test_cancelling_a_finished_job_is_not_an_error(ionq_server: IonQStandIn) -> None:
    ionq = backend(ionq_server)
    native_id = ionq.submit(the_batch(), task_id="task-4")
    wait(ionq, native_id)
    ionq.cancel(native_id)
    assert ionq.status(native_id).state is TaskState.COMPLETED


def test_a_failed_job_reports_ionqs_reason(ionq_server: IonQStandIn) -> None:
    ionq_server.fail_next_job("QuantumComputerError", "trap lost its ions")
    ionq = backend(ionq_server)
    native_id = ionq.submit(the_batch(), task_id="task-5")
    status = wait(ionq, native_id)
    assert status.state is TaskState.FAILED and "trap lost its ions" in status.message
    result = ionq.result(native_id)  # does not raise for the failure itself
    assert result.items == [] and "trap lost its ions" in result.metadata["message"]


def test_a_refused_key_is_named_but_never_shown(ionq_server: IonQStandIn) -> None:
    wrong = "wrong-secret-key-987"
    ionq = IonQBackend(url=ionq_server.url, api_key=wrong)
    with pytest.raises(BackendError) as info:
        ionq.submit(the_batch(), task_id="task-6")
    error = info.value
    assert not error.transient and "API key" in str(error) and "api_key" in str(error.hint)
    assert wrong not in str(error) and wrong not in repr(error.args)
    assert ionq_server.answered(401) == 1  # not retried


def test_429_is_retried_after_retry_after(ionq_server: IonQStandIn) -> None:
    ionq_server.inject(429, count=2, retry_after=0.6)
    ionq = backend(ionq_server, backoff_seconds=0.01)
    started = time.monotonic()
    native_id = ionq.submit(the_batch(), task_id="task-7")
    assert time.monotonic() - started >= 1.2
    assert ionq_server.answered(429) == 2 and ionq_server.answered(201) == 1
    assert ionq_server.jobs[native_id]


def test_rate_limits_that_never_end_are_transient(ionq_server: IonQStandIn) -> None:
    ionq_server.inject(429, count=10, retry_after=0.01)
    with pytest.raises(BackendError, match="429") as info:
        backend(ionq_server, max_retries=2).submit(the_batch(), task_id="task-8")
    assert info.value.transient and ionq_server.answered(429) == 3


def test_persistent_5xx_gives_a_transient_error_after_max_retries(
    ionq_server: IonQStandIn,
) -> None:
    ionq_server.inject(503, count=100)
    ionq = backend(ionq_server, max_retries=3, backoff_seconds=0.01)
    with pytest.raises(BackendError, match="503") as info:
        ionq.submit(the_batch(), task_id="task-9")
    assert info.value.transient and ionq_server.answered(503) == 4
    assert not ionq_server.jobs


def test_a_passing_5xx_is_retried(ionq_server: IonQStandIn) -> None:
    ionq = backend(ionq_server, backoff_seconds=0.01)
    native_id = ionq.submit(the_batch(), task_id="task-10")
    ionq_server.inject(500, count=2)
    assert ionq.status(native_id).state in (TaskState.QUEUED, TaskState.RUNNING)
    assert ionq_server.answered(500) == 2
    with pytest.raises(BackendError, match="not finished"):
        ionq.result(native_id)


def test_a_created_job_whose_answer_was_lost_is_adopted_not_duplicated(
    ionq_server: IonQStandIn,
) -> None:
    ionq_server.drop_answers = 1
    ionq = backend(ionq_server)
    native_id = ionq.submit(the_batch(), task_id="task-14")
    assert native_id in ionq_server.jobs and ("GET", "/v0.4/jobs", 200) in ionq_server.requests
    assert len(ionq_server.posted) == 1 and ionq_server.posted[0]["name"].startswith("qcb-task-14-")
    assert wait(ionq, native_id).state is TaskState.COMPLETED


def test_unreachable_ionq_is_transient() -> None:
    ionq = IonQBackend(url="http://127.0.0.1:9/v0.4", api_key="k", max_retries=1, backoff_seconds=0)
    with pytest.raises(BackendError, match="cannot reach IonQ") as info:
        ionq.status("some-job")
    assert info.value.transient


def test_an_unknown_job_is_lost(ionq_server: IonQStandIn) -> None:
    with pytest.raises(NativeJobLost):
        backend(ionq_server).status("00000000-0000-0000-0000-000000000000")


def test_exact_mode_and_unknown_options_are_refused(ionq_server: IonQStandIn) -> None:
    exact = QuantumBatch(
        items=[QuantumItem(circuit=ANSATZ, parameter_values=[[0, 0]], observables=[H])]
    )
    with pytest.raises(BackendError, match="shots"):
        backend(ionq_server).submit(exact, task_id="task-11")
    with pytest.raises(BackendError, match="valid options: url"):
        IonQBackend(api_key="k", shots=5)
    with pytest.raises(BackendError, match="simulator only"):
        IonQBackend(api_key="k", target="qpu.aria-1", noise_model="aria-1")
    wide = QuantumBatch(items=[QuantumItem(circuit=CROSSED)], shots=10)
    with pytest.raises(BackendError, match="3 qubits"):
        backend(ionq_server, max_qubits=2).submit(wide, task_id="task-12")
    assert not ionq_server.posted


def test_the_key_stays_out_of_logs_results_and_reprs(
    ionq_server: IonQStandIn, caplog: pytest.LogCaptureFixture, tmp_path: Any
) -> None:
    key_file = tmp_path / "ionq.key"
    key_file.write_text(ionq_server.api_key + "\n")
    caplog.set_level(logging.DEBUG)
    ionq = IonQBackend(url=ionq_server.url, api_key_file=str(key_file), poll_seconds=0.02)
    ionq_server.inject(429, count=1, retry_after=0.01)
    native_id = ionq.submit(the_batch(), task_id="task-13")
    wait(ionq, native_id)
    result = ionq.result(native_id)
    keyed = backend(ionq_server)
    secret = ionq_server.api_key
    assert caplog.records and secret not in caplog.text
    assert secret not in result.model_dump_json()
    assert secret not in repr(keyed) and secret not in str(dict(keyed.options))
    assert secret not in keyed.capabilities().model_dump_json()


def test_a_rotated_key_file_is_read_again(ionq_server: IonQStandIn, tmp_path: Any) -> None:
    key_file = tmp_path / "ionq.key"
    key_file.write_text("old-key")
    ionq = IonQBackend(url=ionq_server.url, api_key_file=str(key_file))
    ionq.capabilities()
    with pytest.raises(BackendError, match="API key"):
        ionq.status("x")
    key_file.write_text(ionq_server.api_key)
    with pytest.raises(NativeJobLost):  # the new key is accepted; the job is unknown
        ionq.status("x")
