"""The ``ibm`` backend on qiskit-ibm-runtime's local mode (FakeManilaV2: 5 noisy qubits), and
its real-service path with the service replaced by a stand-in that serves the same fake device
(so jobs run locally but are followed, fetched and folded as on the real service)."""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import qiskit_ibm_runtime as runtime
from qiskit import QuantumCircuit
from qiskit.circuit import Parameter
from qiskit.quantum_info import Statevector
from qiskit_ibm_runtime.fake_provider import FakeManilaV2

from backends import registry
from backends.base import QuantumBatch, QuantumItem
from backends.errors import BackendError, NativeJobLost
from backends.ibm import MODES, Handle, IBMBackend
from backends.states import TaskState
from circuits.canonical import Circuit
from circuits.observables import PauliSum

H = PauliSum.from_list([("ZZ", 0.5), ("XI", -0.3), ("IY", 0.2)])
POINTS = [[0.1, 0.2], [1.0, -0.5], [2.5, 0.7]]
NOISE = 0.15  # FakeManilaV2's noise biases expectation values; 5 sigma covers the sampling
SECRET = "tok-SECRET-9f8e7d6c5b4a"


def ansatz() -> Circuit:
    # "b" before "a" in gate order: the canonical order differs from Qiskit's sorted order.
    b, a = Parameter("b"), Parameter("a")
    qc = QuantumCircuit(2)
    qc.ry(b, 0)
    qc.rx(a, 1)
    qc.cx(0, 1)
    return Circuit.from_qiskit(qc)


def x_on_qubit0() -> Circuit:
    qc = QuantumCircuit(2, 2)
    qc.x(0)
    qc.measure([0, 1], [0, 1])
    return Circuit.from_qiskit(qc)


def ry_on_qubit0() -> Circuit:
    theta = Parameter("theta")
    qc = QuantumCircuit(2, 2)
    qc.ry(theta, 0)
    qc.measure([0, 1], [0, 1])
    return Circuit.from_qiskit(qc)


def exact(circuit: Circuit, values: list[float], obs: PauliSum) -> float:
    return obs.expectation(Statevector(circuit.bind(values)).data)


def estimator_batch(seed: int | None = 7) -> QuantumBatch:
    item = QuantumItem(circuit=ansatz().qasm, parameter_values=POINTS, observables=[H])
    return QuantumBatch(items=[item], shots=4000, seed=seed)


def sampler_batch(seed: int | None, shots: int = 1000) -> QuantumBatch:
    return QuantumBatch(items=[QuantumItem(circuit=x_on_qubit0().qasm)], shots=shots, seed=seed)


def mixed_batch(seed: int | None = 5) -> QuantumBatch:
    return QuantumBatch(
        items=[
            QuantumItem(circuit=ry_on_qubit0().qasm, parameter_values=[[0.0], [np.pi]]),
            QuantumItem(circuit=ansatz().qasm, parameter_values=POINTS[:2], observables=[H]),
            QuantumItem(circuit=x_on_qubit0().qasm),
        ],
        shots=2000,
        seed=seed,
    )


def dominant(counts: dict[str, int]) -> str:
    return max(counts, key=lambda key: counts[key])


def check_mixed(res: Any) -> None:
    """Items of :func:`mixed_batch` in order: counts, expectation values, counts."""
    ry, est, x = res.items
    assert [dominant(c) for c in ry.counts] == ["00", "01"]
    assert dominant(x.counts[0]) == "01"
    assert all(sum(c.values()) == 2000 for c in ry.counts + x.counts)
    for p, row, err in zip(POINTS[:2], est.expectation_values, est.std_errors, strict=True):
        assert abs(row[0] - exact(ansatz(), p, H)) < 5 * err[0] + NOISE
    assert res.calls == 2 and len(res.native_ids) == 2
    assert res.method == "estimator+sampler"
    assert res.circuit_evaluations == 5 and res.shots_total == 5 * 2000


@pytest.mark.parametrize("mode", MODES)
def test_estimator_batch_agrees_with_statevector_within_noise(mode: str) -> None:
    backend = IBMBackend(device="FakeManilaV2", mode=mode)
    nid = backend.submit(estimator_batch(), task_id="t")
    assert backend.status(nid).state is TaskState.COMPLETED
    res = backend.result(nid)
    item = res.items[0]
    assert item.expectation_values is not None and item.std_errors is not None
    for p, row, err in zip(POINTS, item.expectation_values, item.std_errors, strict=True):
        assert err[0] > 0
        assert abs(row[0] - exact(ansatz(), p, H)) < 5 * err[0] + NOISE
    assert res.calls == 1 and res.native_ids == [nid.split("|")[0]]
    assert res.method == "estimator" and res.device == "fake_manila"
    assert res.backend == "ibm" and res.backend_version.startswith("qiskit-ibm-runtime ")
    assert res.calibration_time is not None and res.calibration_time.startswith("20")
    assert res.metadata == {"mode": mode, "optimization_level": 1}
    assert res.circuit_evaluations == 3 and res.run_seconds > 0
    assert (backend._session is not None) == (mode == "session")  # kept for the next batch
    backend.close()


@pytest.mark.parametrize("mode", MODES)
def test_sampler_counts_in_qiskit_order_and_repeatable_with_a_seed(mode: str) -> None:
    backend = IBMBackend(device="fake_manila", mode=mode)
    first = backend.result(backend.submit(sampler_batch(seed=11), task_id="a"))
    again = backend.result(backend.submit(sampler_batch(seed=11), task_id="b"))
    counts = first.items[0].counts
    assert counts is not None and sum(counts[0].values()) == 1000
    assert dominant(counts[0]) == "01" and all(len(key) == 2 for key in counts[0])
    assert again.items[0].counts == counts
    assert again.native_ids != first.native_ids
    other = backend.result(backend.submit(sampler_batch(seed=12), task_id="c"))
    assert other.items[0].counts != counts
    assert first.calls == 1 and first.method == "sampler" and first.shots_total == 1000
    quasi = first.items[0].quasi_probabilities
    assert quasi is not None and sum(quasi[0].values()) == pytest.approx(1.0)
    backend.close()


def test_seed_zero_is_repeatable_too() -> None:
    # qiskit-ibm-runtime's local mode ignores a falsy simulator seed.
    backend = IBMBackend(device="fake_manila")
    runs = [backend.result(backend.submit(sampler_batch(seed=0), task_id=t)) for t in "ab"]
    assert runs[0].items[0].counts == runs[1].items[0].counts and runs[0].seed == 0


def test_a_mixed_batch_takes_two_calls_and_keeps_item_order() -> None:
    backend = IBMBackend(device="fake_manila")
    nid = backend.submit(mixed_batch(), task_id="t")
    res = backend.result(nid)
    check_mixed(res)
    assert nid.startswith(",".join(res.native_ids) + "|")


@pytest.mark.parametrize("gate", ["cp", "crz", "cry"])
def test_parameterized_controlled_rotations_survive_transpilation(gate: str) -> None:
    # qiskit-aer binds these wrongly itself; here they reach the simulator as ISA gates.
    theta = Parameter("theta")
    qc = QuantumCircuit(3)
    qc.h([0, 1, 2])
    qc.ry(0.3, 1)
    getattr(qc, gate)(theta, 1, 2)
    qc.s(1)
    qc.h(2)
    circ = Circuit.from_qiskit(qc)
    obs = PauliSum.from_list([("IIZ", 1.0), ("YII", 0.7), ("XXX", 0.3), ("ZXY", 0.2)])
    points = [[1.3], [-0.4]]
    item = QuantumItem(circuit=circ.qasm, parameter_values=points, observables=[obs])
    backend = IBMBackend(device="fake_manila")
    res = backend.result(
        backend.submit(QuantumBatch(items=[item], shots=4000, seed=3), task_id="t")
    )
    got, errs = res.items[0].expectation_values, res.items[0].std_errors
    assert got is not None and errs is not None
    for p, row, err in zip(points, got, errs, strict=True):
        assert abs(row[0] - exact(circ, p, obs)) < 5 * err[0] + NOISE


def test_exact_batch_is_refused_asking_for_shots() -> None:
    batch = estimator_batch().model_copy(update={"shots": None})
    with pytest.raises(BackendError, match="shots") as info:
        IBMBackend(device="fake_manila").submit(batch, task_id="t")
    assert info.value.hint is not None and "shots" in info.value.hint


def test_circuit_wider_than_the_device_is_refused_naming_both_widths() -> None:
    qc = QuantumCircuit(6, 6)
    qc.h(0)
    qc.measure(range(6), range(6))
    batch = QuantumBatch(items=[QuantumItem(circuit=Circuit.from_qiskit(qc).qasm)], shots=100)
    with pytest.raises(BackendError, match=r"6 qubits.*at most 5 qubits"):
        IBMBackend(device="fake_manila").submit(batch, task_id="t")


def test_item_errors_name_the_item_in_the_whole_batch() -> None:
    unmeasured = QuantumCircuit(2)
    unmeasured.h(0)
    batch = mixed_batch().model_copy(deep=True)
    batch.items.append(QuantumItem(circuit=Circuit.from_qiskit(unmeasured).qasm))
    with pytest.raises(BackendError, match=r"^item 3: .*no measurements"):
        IBMBackend(device="fake_manila").submit(batch, task_id="t")


def test_unknown_option_and_mode_are_refused_listing_valid_ones() -> None:
    with pytest.raises(BackendError, match=r"shots_per_day.*valid options: device, mode"):
        IBMBackend(device="fake_manila", shots_per_day=5)
    with pytest.raises(BackendError, match="job, batch, session"):
        IBMBackend(device="fake_manila", mode="dedicated")
    with pytest.raises(BackendError, match="fake_manila"):
        IBMBackend(device="fake_nowhere")
    with pytest.raises(BackendError, match="device"):
        IBMBackend()


def test_unknown_native_id_is_lost_in_local_mode() -> None:
    backend = IBMBackend(device="fake_manila")
    for nid in ("nope", Handle(("0123",), "s", 10, None).encode()):
        with pytest.raises(NativeJobLost):
            backend.status(nid)
        with pytest.raises(NativeJobLost):
            backend.result(nid)


def test_capabilities_of_a_fake_device() -> None:
    caps = registry.quantum("ibm", device="FakeManilaV2", mode="batch").capabilities()
    assert caps.kind == "quantum" and caps.max_qubits == 5 and caps.exact is False
    assert caps.reattach is False and caps.poll_seconds == 0
    assert caps.basis_gates is not None and {"cx", "sx", "rz", "measure"} <= set(caps.basis_gates)
    assert caps.max_shots == 100_000
    assert caps.details == {"device": "fake_manila", "mode": "batch", "local": True,
                            "coupling_map_size": 8}  # fmt: skip
    assert IBMBackend(device="fake_manila", max_qubits=3).capabilities().max_qubits == 3


def test_credentials_never_show(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    backend = IBMBackend(
        device="fake_manila", token=SECRET, channel="ibm_quantum_platform", instance="crn:x"
    )
    res = backend.result(backend.submit(mixed_batch(), task_id="t"))
    shown = [repr(backend), str(backend), str(dict(backend.options)), res.model_dump_json()]
    shown += [backend.capabilities().model_dump_json(), caplog.text]
    assert caplog.text and not any(SECRET in text for text in shown)


def test_the_real_service_needs_credentials_from_options() -> None:
    with pytest.raises(BackendError, match="credentials") as info:
        IBMBackend(device="ibm_torino").capabilities()
    assert info.value.hint is not None and "token" in info.value.hint
    with pytest.raises(BackendError, match="token_file /nonexistent/token"):
        IBMBackend(device="ibm_torino", token_file="/nonexistent/token").capabilities()


def test_token_file_is_read_for_the_service_and_kept_out_of_errors(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    opened: list[dict[str, Any]] = []

    def refusing_service(**kwargs: Any) -> None:
        opened.append(kwargs)
        raise runtime.IBMNotAuthorizedError(f"token {kwargs['token']} is not valid")

    monkeypatch.setattr(runtime, "QiskitRuntimeService", refusing_service)
    token_file = tmp_path / "token"
    token_file.write_text(SECRET + "\n")
    backend = IBMBackend(device="ibm_torino", token_file=str(token_file), instance="crn:x")
    with pytest.raises(BackendError, match="is not valid") as info:
        backend.capabilities()
    assert opened == [{"token": SECRET, "instance": "crn:x"}]
    assert SECRET not in str(info.value) and not info.value.transient


# --- the real-service path, with a stand-in for QiskitRuntimeService ----------------------


class StandInService:
    """Serves FakeManilaV2 as the device and knows the jobs put in ``jobs``."""

    def __init__(self) -> None:
        self.jobs: dict[str, Any] = {}

    def backend(self, name: str) -> Any:
        return FakeManilaV2()

    def job(self, job_id: str) -> Any:
        if job_id not in self.jobs:
            raise runtime.RuntimeJobNotFound(f"Job not found: {job_id}")
        return self.jobs[job_id]


def on_service(service: StandInService, mode: str = "job") -> IBMBackend:
    backend = IBMBackend(device="ibm_manila", mode=mode, token=SECRET)
    backend._service = service
    return backend


def wait(backend: IBMBackend, nid: str) -> TaskState:
    deadline = time.monotonic() + 30
    while not (state := backend.status(nid).state).final and time.monotonic() < deadline:
        time.sleep(0.05)
    return state


@pytest.mark.parametrize("mode", MODES)
def test_real_service_path_reattaches_by_job_id(mode: str) -> None:
    service = StandInService()
    submitter = on_service(service, mode)
    caps = submitter.capabilities()
    assert caps.reattach is True and caps.poll_seconds > 0 and caps.details["local"] is False
    nid = submitter.submit(mixed_batch(seed=None), task_id="t")
    handle = Handle.decode(nid)
    service.jobs.update((job_id, submitter._jobs[job_id]) for job_id in handle.job_ids)

    worker = on_service(service, mode)  # as a new worker process: only the native id
    assert wait(worker, nid) is TaskState.COMPLETED
    res = worker.result(nid)
    check_mixed(res)
    assert res.native_ids == list(handle.job_ids) and res.seed is None
    assert res.queue_seconds is not None and res.calibration_time is not None
    worker.cancel(nid)  # finished: not an error
    assert worker.status(nid).state is TaskState.COMPLETED
    lost = Handle(("not-a-job",), "s", 10, None).encode()
    with pytest.raises(NativeJobLost):
        worker.status(lost)


class StubJob:
    """A runtime job frozen in one status."""

    def __init__(self, job_id: str, status: str, error: str = "") -> None:
        self.id, self.state, self.error, self.cancels = job_id, status, error, 0

    def job_id(self) -> str:
        return self.id

    def status(self) -> str:
        return self.state

    def error_message(self) -> str:
        return self.error

    def cancel(self) -> None:
        if self.state in ("DONE", "ERROR", "CANCELLED"):
            raise runtime.RuntimeInvalidStateError("Job cannot be cancelled")
        self.cancels += 1
        self.state = "CANCELLED"

    def properties(self) -> Any:
        raise runtime.IBMRuntimeError("no properties")

    def metrics(self) -> dict[str, Any]:
        return {}


@pytest.mark.parametrize(
    ("first", "second", "state"),
    [
        ("QUEUED", "INITIALIZING", TaskState.QUEUED),
        ("DONE", "RUNNING", TaskState.RUNNING),
        ("DONE", "DONE", TaskState.COMPLETED),
        ("DONE", "CANCELLED", TaskState.CANCELLED),
        ("CANCELLED", "ERROR", TaskState.FAILED),
    ],
)
def test_job_states_combine_into_one_task_state(first: str, second: str, state: TaskState) -> None:
    service = StandInService()
    service.jobs = {"j1": StubJob("j1", first), "j2": StubJob("j2", second, f"bad pulse {SECRET}")}
    status = on_service(service).status(Handle(("j1", "j2"), "es", 100, None).encode())
    assert status.state is state and status.native_state == f"{first},{second}"
    if state is TaskState.FAILED:
        assert "bad pulse" in status.message and SECRET not in status.message


def test_cancel_stops_unfinished_jobs_only_and_failed_results_say_why() -> None:
    service = StandInService()
    done, running = StubJob("j1", "DONE"), StubJob("j2", "RUNNING")
    service.jobs = {"j1": done, "j2": running}
    backend = on_service(service)
    nid = Handle(("j1", "j2"), "se", 100, 3).encode()
    backend.cancel(nid)
    backend.cancel(nid)
    assert (done.cancels, running.cancels) == (0, 1)
    assert backend.status(nid).state is TaskState.CANCELLED
    running.state, running.error = "ERROR", "calibration expired"
    res = backend.result(nid)
    assert res.items == [] and res.metadata["error"] == "calibration expired"
    assert res.native_ids == ["j1", "j2"] and res.calls == 2 and res.seed == 3
    assert json.loads(res.model_dump_json())["calibration_time"] is None
