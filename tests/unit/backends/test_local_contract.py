"""The ClassicalBackend contract, on the ``local`` backend (real subprocesses)."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from backends.base import ClassicalBackend, ClassicalSpec
from backends.errors import BackendError, NativeJobLost
from backends.local import LocalBackend
from backends.states import TaskState


@pytest.fixture
def backend(tmp_path: Path) -> ClassicalBackend:
    return LocalBackend(workdir=str(tmp_path / "tasks"))


def wait_final(backend: ClassicalBackend, native_id: str, timeout: float = 30) -> TaskState:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = backend.status(native_id).state
        if state.final:
            return state
        time.sleep(0.02)
    raise AssertionError(f"{native_id} not final after {timeout} s")


def test_command_completes_with_its_output(backend: ClassicalBackend) -> None:
    nid = backend.submit(
        ClassicalSpec(argv=["sh", "-c", "echo hello; echo oops >&2"]), task_id="t1"
    )
    assert wait_final(backend, nid) is TaskState.COMPLETED
    res = backend.result(nid)
    assert res.exit_code == 0
    assert res.stdout == "hello\n"
    assert res.stderr == "oops\n"
    assert res.elapsed_s is not None and res.elapsed_s >= 0


def test_exit_3_is_failed_with_code_and_stderr(backend: ClassicalBackend) -> None:
    spec = ClassicalSpec(argv=["sh", "-c", "echo broken >&2; exit 3"])
    nid = backend.submit(spec, task_id="t2")
    assert wait_final(backend, nid) is TaskState.FAILED
    status = backend.status(nid)
    assert "3" in status.message
    res = backend.result(nid)
    assert res.exit_code == 3
    assert "broken" in res.stderr


def test_time_limit_ends_in_timeout_not_failed(backend: ClassicalBackend) -> None:
    nid = backend.submit(ClassicalSpec(argv=["sleep", "30"], time_limit_s=1), task_id="t3")
    assert wait_final(backend, nid, timeout=15) is TaskState.TIMEOUT


def test_cancel_stops_the_process_and_is_idempotent(backend: ClassicalBackend) -> None:
    nid = backend.submit(ClassicalSpec(argv=["sleep", "60"]), task_id="t4")
    deadline = time.monotonic() + 10
    while backend.status(nid).state is not TaskState.RUNNING and time.monotonic() < deadline:
        time.sleep(0.02)
    pid = int((Path(nid) / "pid").read_text().split()[0])
    backend.cancel(nid)
    assert backend.status(nid).state is TaskState.CANCELLED
    backend.cancel(nid)
    assert backend.status(nid).state is TaskState.CANCELLED
    with pytest.raises(ProcessLookupError):
        for _ in range(100):  # reaped by the backend; gone from the process table
            os.kill(pid, 0)
            backend.status(nid)
            time.sleep(0.02)


def test_entrypoint_output_is_returned(backend: ClassicalBackend) -> None:
    spec = ClassicalSpec(
        entrypoint="broker.algorithms.reference:ground_energy",
        payload={"hamiltonian": {"terms": [{"pauli": "Z", "coeff": 2.0}]}},
    )
    nid = backend.submit(spec, task_id="t5")
    assert wait_final(backend, nid) is TaskState.COMPLETED
    assert backend.result(nid).output["ground_energy"] == pytest.approx(-2.0)


def test_entrypoint_exception_fails_with_traceback_in_stderr(backend: ClassicalBackend) -> None:
    spec = ClassicalSpec(entrypoint="broker.algorithms.reference:ground_energy", payload={})
    nid = backend.submit(spec, task_id="t6")
    assert wait_final(backend, nid) is TaskState.FAILED
    assert "KeyError" in backend.result(nid).stderr


def test_final_state_survives_a_new_backend_instance(tmp_path: Path) -> None:
    first = LocalBackend(workdir=str(tmp_path))
    nid = first.submit(ClassicalSpec(argv=["sh", "-c", "sleep 0.3; echo done"]), task_id="t7")
    second = LocalBackend(workdir=str(tmp_path))  # a restarted worker re-attaches
    assert second.status(nid).state is TaskState.RUNNING
    assert wait_final(second, nid) is TaskState.COMPLETED
    assert second.result(nid).stdout == "done\n"
    assert first.status(nid).state is TaskState.COMPLETED


def test_unknown_native_id_is_lost(backend: ClassicalBackend, tmp_path: Path) -> None:
    with pytest.raises(NativeJobLost):
        backend.status(str(tmp_path / "nope"))


def test_hostile_arguments_reach_the_program_intact(
    backend: ClassicalBackend, tmp_path: Path
) -> None:
    canary = tmp_path / "canary"
    canary.write_text("still here")
    args = ['it\'s "quoted"', "two words", "new\nline", f"; rm -rf {canary}", "$(touch x)"]
    spec = ClassicalSpec(
        argv=["python3", "-c", "import sys, json; print(json.dumps(sys.argv[1:]))", *args]
    )
    nid = backend.submit(spec, task_id="t8")
    assert wait_final(backend, nid) is TaskState.COMPLETED
    import json

    assert json.loads(backend.result(nid).stdout) == args
    assert canary.read_text() == "still here"
    assert not (Path(nid) / "x").exists()


def test_more_than_one_node_is_refused_at_submit(backend: ClassicalBackend) -> None:
    with pytest.raises(BackendError, match="one node"):
        backend.submit(ClassicalSpec(argv=["true"], nodes=2), task_id="t9")


def test_capabilities_describe_a_classical_backend(backend: ClassicalBackend) -> None:
    caps = backend.capabilities()
    assert caps.kind == "classical"
    assert caps.max_concurrency >= 1
