"""``qrmi`` end to end: the real QRMIBackend, through the real qrmi library (Rust HTTP client),
against ``qrmi_standin.py`` (IBM IAM + Quantum Compute API on localhost, Aer underneath)."""

from __future__ import annotations

import json
import logging
import math
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("qrmi")
pytest.importorskip("qiskit_ibm_runtime")

from qiskit import QuantumCircuit
from qiskit.circuit import Parameter
from qiskit_ibm_runtime import RuntimeDecoder

from backends.base import QuantumBatch, QuantumItem
from backends.errors import BackendError, NativeJobLost
from backends.qrmi import QRMIBackend
from backends.states import TaskState
from circuits.canonical import Circuit
from circuits.observables import PauliSum

pytestmark = pytest.mark.integration

STANDIN = Path(__file__).with_name("qrmi_standin.py")
KEY = "standin-api-key-5f3a9c"
CRN = "crn:v1:standin:public:quantum-computing:local:a/0::"
DEVICE = "standin_manila"
SHOTS = 2000


@pytest.fixture(scope="module")
def standin() -> Iterator[str]:
    """The stand-in server's base URL (its own process, as a real service would be)."""
    proc = subprocess.Popen(
        [sys.executable, str(STANDIN), "--api-key", KEY, "--backend", DEVICE],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.startswith("READY "), f"stand-in did not start: {line!r}"
        yield line.split()[1]
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def control(url: str, path: str, body: Any = None) -> Any:
    """Call one of the stand-in's test controls."""
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(
        url + path, data=data, headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(req, timeout=10) as resp:
        return json.loads(resp.read())


def backend(url: str, state_dir: Path, **extra: Any) -> QRMIBackend:
    """A QRMIBackend configured for the stand-in."""
    options: dict[str, Any] = {
        "resource": DEVICE,
        "type": "ibm-quantum-compute-service",
        "endpoint": url + "/api/v1",
        "iam_endpoint": url,
        "api_key": KEY,
        "service_crn": CRN,
        "poll_seconds": 0.1,
        "state_dir": str(state_dir),
    }
    options.update(extra)
    return QRMIBackend(**options)


def wait(b: QRMIBackend, native_id: str, until: set[TaskState], limit: float = 60) -> TaskState:
    """Poll ``status`` until one of ``until`` (or fail after ``limit`` seconds)."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        state = b.status(native_id).state
        if state in until:
            return state
        time.sleep(0.1)
    raise AssertionError(f"{native_id} never reached {until}")


def circuit(build: Any, qubits: int = 2) -> str:
    """Canonical QASM of a small circuit built by ``build(qc)``."""
    qc = QuantumCircuit(qubits, qubits)
    build(qc)
    return Circuit.from_qiskit(qc).qasm


def bell(qc: QuantumCircuit) -> None:
    qc.h(0)
    qc.cx(0, 1)
    qc.measure([0, 1], [0, 1])


def x0(qc: QuantumCircuit) -> None:
    qc.x(0)
    qc.measure([0, 1], [0, 1])


def ry(qc: QuantumCircuit) -> None:
    qc.ry(Parameter("t"), 0)
    qc.measure([0, 1], [0, 1])


# Inputs "b" before "a": the canonical parameter order differs from Qiskit's sorted one.
TWO_ANGLES = """OPENQASM 3.0;
include "stdgates.inc";
input float[64] b;
input float[64] a;
qubit[2] q;
bit[2] c;
ry(b) q[0];
ry(a) q[1];
c = measure q;
"""


def bare_bell(qc: QuantumCircuit) -> None:
    qc.h(0)
    qc.cx(0, 1)


def job_posts(url: str) -> list[dict[str, Any]]:
    """The ``POST /jobs`` bodies the stand-in received."""
    return [
        r["body"]
        for r in control(url, "/_standin/requests")
        if r["method"] == "POST" and r["path"] == "/api/v1/jobs"
    ]


def test_batch_runs_as_one_sampler_task_and_counts_match(
    standin: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    b = backend(standin, tmp_path, session_id="sess-from-slurm", timeout_seconds=120)
    caps = b.capabilities()
    assert caps.max_qubits == 5 and not caps.exact and caps.reattach
    assert caps.basis_gates is not None and "cx" in caps.basis_gates
    angles = Circuit(qasm=TWO_ANGLES)
    assert angles.parameters == ("b", "a")
    angle = {"b": math.pi, "a": 0.0}  # qubit 0 flipped, qubit 1 not: "01"
    zz_xx = [PauliSum.from_list([("ZZ", 1.0)]), PauliSum.from_list([("XX", 1.0)])]
    batch = QuantumBatch(
        items=[
            QuantumItem(circuit=circuit(bell)),
            QuantumItem(circuit=circuit(x0)),
            QuantumItem(circuit=circuit(ry), parameter_values=[[0.0], [math.pi]]),
            QuantumItem(circuit=circuit(bare_bell, 2), observables=zz_xx),
            QuantumItem(
                circuit=angles.qasm, parameter_values=[[angle[p] for p in angles.parameters]]
            ),
        ],
        shots=SHOTS,
        seed=11,
    )
    before = len(job_posts(standin))
    nid = b.submit(batch, task_id="t1")
    assert wait(b, nid, {TaskState.COMPLETED, TaskState.FAILED}) is TaskState.COMPLETED
    res = b.result(nid)

    posts = job_posts(standin)[before:]
    assert len(posts) == 1, "the whole batch is one task"
    body = posts[0]
    assert body["program_id"] == "sampler" and body["backend"] == DEVICE
    assert body["session_id"] == "sess-from-slurm" and body["cost"] == 120
    params = json.loads(json.dumps(body["params"]), cls=RuntimeDecoder)
    assert params["version"] == 2 and params["shots"] == SHOTS
    assert len(params["pubs"]) == 6  # bell, x, ry, the ZZ and XX groups, two angles
    allowed = set(caps.basis_gates) | {"measure", "barrier"}
    for pub in params["pubs"]:
        assert pub[0].num_qubits == 5, "transpiled to the device"
        assert {inst.operation.name for inst in pub[0].data} <= allowed

    counts = res.items[0].counts
    assert counts is not None and set(counts[0]) <= {"00", "11"}
    sigma = math.sqrt(SHOTS * 0.25)
    assert abs(counts[0].get("00", 0) - SHOTS / 2) < 5 * sigma
    assert res.items[1].counts == [{"01": SHOTS}]
    assert res.items[2].counts == [{"00": SHOTS}, {"01": SHOTS}]
    evs = res.items[3].expectation_values
    assert evs == [[pytest.approx(1.0), pytest.approx(1.0)]]
    assert res.items[4].counts == [{"01": SHOTS}]
    assert res.native_ids == [nid] and res.calls == 1 and res.device == DEVICE
    assert res.circuit_evaluations == 7 and res.shots_total == 7 * SHOTS
    assert 0 <= res.run_seconds < 60 and "run_seconds" not in res.metadata  # from the spans

    shown = repr(b) + json.dumps(dict(b.options)) + res.model_dump_json()
    shown += "".join(f.read_text() for f in tmp_path.glob("*.json"))
    shown += "".join(r.getMessage() for r in caplog.records)
    assert KEY not in shown and "***" in repr(b)

    # A fresh backend (a restarted worker) re-attaches from the recorded batch.
    again = backend(standin, tmp_path)
    assert again.status(nid).state is TaskState.COMPLETED
    assert again.result(nid).items[1].counts == [{"01": SHOTS}]


@pytest.mark.parametrize("kind", ["qiskit-runtime-service", "ibm-quantum-compute-service"])
def test_both_names_of_the_runtime_service(standin: str, tmp_path: Path, kind: str) -> None:
    b = backend(standin, tmp_path, type=kind)
    nid = b.submit(QuantumBatch(items=[QuantumItem(circuit=circuit(x0))], shots=100), task_id="t")
    assert wait(b, nid, {TaskState.COMPLETED}) is TaskState.COMPLETED
    assert b.result(nid).items[0].counts == [{"01": 100}]


def test_cancel_a_running_task(standin: str, tmp_path: Path) -> None:
    b = backend(standin, tmp_path)
    control(standin, "/_standin/hold", {"hold": True})
    try:
        nid = b.submit(
            QuantumBatch(items=[QuantumItem(circuit=circuit(bell))], shots=10), task_id="c"
        )
        assert wait(b, nid, {TaskState.RUNNING}) is TaskState.RUNNING
        b.cancel(nid)
        assert b.status(nid).state is TaskState.CANCELLED
        b.cancel(nid)  # idempotent
        assert b.status(nid).state is TaskState.CANCELLED
    finally:
        control(standin, "/_standin/hold", {"hold": False})


def test_failed_task_reports_why(standin: str, tmp_path: Path) -> None:
    b = backend(standin, tmp_path)
    control(standin, "/_standin/fail", {"reason": "qubit 3 is being recalibrated"})
    try:
        nid = b.submit(
            QuantumBatch(items=[QuantumItem(circuit=circuit(x0))], shots=10), task_id="f"
        )
    finally:
        control(standin, "/_standin/fail", {"reason": None})
    assert wait(b, nid, {TaskState.FAILED, TaskState.COMPLETED}) is TaskState.FAILED
    assert "recalibrated" in b.status(nid).message
    res = b.result(nid)
    assert res.items == [] and "recalibrated" in res.metadata["message"]


def test_refused_api_key_is_a_clear_permanent_error(standin: str, tmp_path: Path) -> None:
    b = backend(standin, tmp_path, api_key="not-the-key-1234")
    batch = QuantumBatch(items=[QuantumItem(circuit=circuit(x0))], shots=10)
    with pytest.raises(BackendError) as info:
        b.submit(batch, task_id="k")
    err = info.value
    assert not err.transient
    assert "authentication failed" in str(err).lower() and "api_key" in str(err)
    assert "not-the-key-1234" not in str(err)


def test_unknown_native_id_is_lost_and_exact_mode_is_refused(standin: str, tmp_path: Path) -> None:
    b = backend(standin, tmp_path)
    with pytest.raises(NativeJobLost):
        b.status("no-such-task")
    (tmp_path / "gone.json").write_text(
        json.dumps(
            {
                "batch": QuantumBatch(items=[QuantumItem(circuit=circuit(x0))], shots=1).model_dump(
                    mode="json"
                ),
                "submitted": 0,
            }
        )
    )
    with pytest.raises(NativeJobLost):
        b.status("gone")
    b.cancel("gone")  # nothing there to stop: not an error
    with pytest.raises(BackendError, match="shots"):
        b.submit(QuantumBatch(items=[QuantumItem(circuit=circuit(x0))]), task_id="e")


def test_throttling_and_outages_are_transient(standin: str, tmp_path: Path) -> None:
    b = backend(standin, tmp_path)
    batch = QuantumBatch(items=[QuantumItem(circuit=circuit(x0))], shots=10)
    b.capabilities()  # the device is read (and kept) before the outage
    control(standin, "/_standin/http_errors", {"codes": [503]})
    with pytest.raises(BackendError) as info:
        b.submit(batch, task_id="o")
    assert info.value.transient and "503" in str(info.value)
    nid = b.submit(batch, task_id="o")
    control(standin, "/_standin/http_errors", {"codes": [429]})
    with pytest.raises(BackendError) as info:
        b.status(nid)
    assert info.value.transient and not isinstance(info.value, NativeJobLost)
    assert wait(b, nid, {TaskState.COMPLETED}) is TaskState.COMPLETED


def test_options_are_checked_and_listed() -> None:
    with pytest.raises(
        BackendError, match=r"unknown option\(s\) for qrmi: colour; valid options: "
    ):
        QRMIBackend(resource="r", type="ibm-quantum-compute-service", colour="red")
    with pytest.raises(BackendError, match="choose one of: ibm-quantum-compute-service"):
        QRMIBackend(resource="r", type="pasqal-cloud")
    with pytest.raises(BackendError, match=r"needs option.*api_key.*s3_bucket"):
        QRMIBackend(resource="r", type="ibm-quantum-system", endpoint="e", iam_endpoint="i")
