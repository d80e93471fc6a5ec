"""The ClassicalBackend contract, unchanged over ``local``, ``slurm``, ``slurmrest`` and
``slurm-pilot``, against the real Slurm that ``make test`` starts.

``slurm-pilot`` runs here as it runs inside a pilot job: in a process that holds a real
two-node Slurm allocation (``salloc``), so its parallel tasks are ``srun`` steps in it.
The pilot machinery itself (jobs, Celery worker, scaling) is tested in ``test_pilots.py``.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from backends.base import ClassicalBackend, ClassicalSpec
from backends.errors import BackendError, NativeJobLost
from backends.local import LocalBackend
from backends.slurm.cli import SlurmBackend
from backends.slurm.pilot import SlurmPilotBackend
from backends.slurm.rest import SlurmRestBackend
from backends.states import TaskState
from tests.conftest import SlurmCluster

pytestmark = pytest.mark.integration

BACKENDS = ["local", "slurm", "slurmrest", "slurm-pilot"]
# A directory name that a shell would misread in every way it can.
AWKWARD = "work dir 'q' \"dq\" $(touch pwned); rm -rf x"


@pytest.fixture(scope="session")
def slurm_cluster(slurm_release: SlurmCluster) -> SlurmCluster:
    """The contract holds on each supported Slurm release in turn."""
    return slurm_release


@pytest.fixture(scope="module")
def allocation(slurm_cluster: SlurmCluster) -> Iterator[str]:
    """A two-node allocation, as a pilot job holds one (found by a name of its own: an
    allocation that an interrupted run left behind is not taken for it)."""
    name = f"qcb-test-alloc-{uuid.uuid4().hex[:8]}"
    slurm_cluster.tool("salloc", "--no-shell", "-N2", "--ntasks=2", "-J", name, "--time=20")
    job_id = next(i for i, n in slurm_cluster.active_jobs().items() if n == name)
    yield job_id
    slurm_cluster.tool("scancel", job_id)


@pytest.fixture(params=BACKENDS)
def backend(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    slurm_cluster: SlurmCluster,
    monkeypatch: pytest.MonkeyPatch,
) -> ClassicalBackend:
    workdir = str(tmp_path / AWKWARD)
    name = request.param
    if name == "local":
        return LocalBackend(workdir=workdir)
    slurm_cluster.ensure_up()
    options = {**slurm_cluster.options[name], "workdir": workdir, "poll_seconds": 0.05}
    if name == "slurm":
        return SlurmBackend(**options)
    if name == "slurmrest":
        return SlurmRestBackend(**options)
    monkeypatch.setenv("SLURM_CONF", str(slurm_cluster.run / "slurm.conf"))
    monkeypatch.setenv("SLURM_JOB_ID", request.getfixturevalue("allocation"))
    return SlurmPilotBackend(**options, pilot_nodes=2)


_ACCOUNT: list[str | None] = [None]


@pytest.fixture(autouse=True)
def _account(task_account: str | None) -> None:
    _ACCOUNT[0] = task_account


def task(**fields: Any) -> ClassicalSpec:
    """A task as the broker hands it over: with the account it runs as."""
    return ClassicalSpec(run_as=_ACCOUNT[0], **fields)


def wait_final(backend: ClassicalBackend, native_id: str, timeout: float = 30) -> TaskState:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = backend.status(native_id).state
        if state.final:
            return state
        time.sleep(0.05)
    raise AssertionError(f"{native_id} not final after {timeout} s")


def wait_running(backend: ClassicalBackend, native_id: str, timeout: float = 30) -> None:
    """Until the backend says RUNNING and the runner has started the command itself (it
    records the command's process group in ``child``)."""
    taskdir = Path(native_id.partition("@")[2] or native_id)
    deadline = time.monotonic() + timeout
    while (
        backend.status(native_id).state is not TaskState.RUNNING or not (taskdir / "child").exists()
    ):
        assert time.monotonic() < deadline, f"{native_id} did not start"
        time.sleep(0.05)


def test_command_completes_with_its_output(backend: ClassicalBackend) -> None:
    spec = task(argv=["sh", "-c", "echo hello; echo oops >&2"])
    nid = backend.submit(spec, task_id="t1")
    assert wait_final(backend, nid) is TaskState.COMPLETED
    res = backend.result(nid)
    assert res.exit_code == 0
    assert res.stdout == "hello\n"
    assert res.stderr == "oops\n"
    assert res.elapsed_s is not None and res.elapsed_s >= 0
    assert res.nodes, "the result says where it ran"
    assert set(res.usage) == {type(backend).charge_unit}


def test_exit_3_is_failed_with_code_and_stderr(backend: ClassicalBackend) -> None:
    spec = task(argv=["sh", "-c", "echo broken >&2; exit 3"])
    nid = backend.submit(spec, task_id="t2")
    assert wait_final(backend, nid) is TaskState.FAILED
    assert "exited with code 3" in backend.status(nid).message
    res = backend.result(nid)
    assert res.exit_code == 3
    assert "broken" in res.stderr


def test_time_limit_ends_in_timeout_not_failed(backend: ClassicalBackend) -> None:
    nid = backend.submit(task(argv=["sleep", "60"], time_limit_s=2), task_id="t3")
    assert wait_final(backend, nid, timeout=30) is TaskState.TIMEOUT
    assert "time limit" in backend.status(nid).message


def test_cancel_stops_the_work_and_is_idempotent(
    backend: ClassicalBackend, slurm_cluster: SlurmCluster
) -> None:
    marker = f"qcb-cancel-{time.time_ns()}"
    nid = backend.submit(task(name=marker, argv=["sleep", "60"]), task_id="t4")
    wait_running(backend, nid)
    backend.cancel(nid)
    assert backend.status(nid).state is TaskState.CANCELLED
    backend.cancel(nid)
    assert backend.status(nid).state is TaskState.CANCELLED
    assert marker not in slurm_cluster.active_jobs().values()
    deadline = time.monotonic() + 10
    while _sleepers(nid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _sleepers(nid), "the task's process outlived its cancellation"


def _sleepers(native_id: str) -> list[int]:
    """Processes of this task still running (``sleep 60`` started from its directory)."""
    workdir = Path(native_id.partition("@")[2] or native_id)
    found = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
            cwd = os.readlink(f"/proc/{pid}/cwd")
        except OSError:
            continue
        if cmd[:2] == [b"sleep", b"60"] and cwd in (str(workdir), str(workdir / "work")):
            found.append(int(pid))
    return found


def test_entrypoint_output_is_returned(backend: ClassicalBackend) -> None:
    spec = task(
        entrypoint="broker.algorithms.reference:ground_energy",
        payload={"hamiltonian": {"terms": [{"pauli": "Z", "coeff": 2.0}]}},
    )
    nid = backend.submit(spec, task_id="t5")
    assert wait_final(backend, nid) is TaskState.COMPLETED
    assert backend.result(nid).output["ground_energy"] == pytest.approx(-2.0)


def test_entrypoint_exception_fails_with_traceback_in_stderr(backend: ClassicalBackend) -> None:
    spec = task(entrypoint="broker.algorithms.reference:ground_energy", payload={})
    nid = backend.submit(spec, task_id="t6")
    assert wait_final(backend, nid) is TaskState.FAILED
    assert "KeyError" in backend.result(nid).stderr


def test_a_new_backend_instance_re_attaches(backend: ClassicalBackend) -> None:
    spec = task(argv=["sh", "-c", "sleep 1; echo done"])
    nid = backend.submit(spec, task_id="t7")
    second = type(backend)(**backend.options)  # a restarted worker
    assert second.status(nid).state in (TaskState.QUEUED, TaskState.RUNNING)
    assert wait_final(second, nid) is TaskState.COMPLETED
    assert second.result(nid).stdout == "done\n"
    assert backend.status(nid).state is TaskState.COMPLETED


def test_unknown_native_id_is_lost(backend: ClassicalBackend, tmp_path: Path) -> None:
    with pytest.raises(NativeJobLost):
        backend.status(str(tmp_path / "nope"))


def test_hostile_values_reach_the_program_intact(backend: ClassicalBackend, tmp_path: Path) -> None:
    canary = tmp_path / "canary"
    canary.write_text("still here")
    hostile = ['it\'s "quoted"', "two words", "new\nline", f"; rm -rf {canary}", "$(touch x)"]
    program = "import sys, os, json; print(json.dumps([sys.argv[1:], os.environ['QCB_ARG']]))"
    spec = task(
        name="\n".join(hostile),
        argv=["python3", "-c", program, *hostile],
        env={"QCB_ARG": hostile[3]},
    )
    nid = backend.submit(spec, task_id="t8")
    assert wait_final(backend, nid) is TaskState.COMPLETED
    assert json.loads(backend.result(nid).stdout) == [hostile, hostile[3]]
    assert canary.read_text() == "still here"
    assert not list(tmp_path.rglob("x")) and not list(tmp_path.rglob("pwned"))


def test_a_two_node_task_runs_on_two_nodes_or_is_refused(backend: ClassicalBackend) -> None:
    spec = task(argv=["sh", "-c", "echo ${SLURMD_NODENAME:-$(hostname)}"], nodes=2)
    refusal = backend.refusal(spec)
    if refusal is not None:  # one-node backends say so, before and at submission
        assert "2" in refusal
        with pytest.raises(BackendError):
            backend.submit(spec, task_id="t9")
        return
    spec = spec.model_copy(update={"ntasks": 2})
    nid = backend.submit(spec, task_id="t9")
    assert wait_final(backend, nid) is TaskState.COMPLETED
    printed = sorted(backend.result(nid).stdout.split())
    assert len(set(printed)) == 2, f"expected two node names, got {printed}"


def test_too_large_a_task_is_refused_naming_the_limit(backend: ClassicalBackend) -> None:
    spec = task(argv=["true"], nodes=64)
    refusal = backend.refusal(spec)
    assert refusal is not None and "64" in refusal
    with pytest.raises(BackendError, match="64"):
        backend.submit(spec, task_id="t10")


def test_capabilities_describe_a_classical_backend(backend: ClassicalBackend) -> None:
    caps = backend.capabilities()
    assert caps.kind == "classical"
    assert caps.max_concurrency >= 1
    assert caps.version


def test_no_node_is_left_drained_by_the_tasks_above(slurm_cluster: SlurmCluster) -> None:
    states = slurm_cluster.node_states()
    assert len(states) == 3
    assert all(s.rstrip("*~#") in ("idle", "mix", "alloc") for s in states.values()), states
