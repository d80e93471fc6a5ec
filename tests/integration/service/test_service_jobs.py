"""The end-to-end jobs of the other issues, in service mode: through the REST API and the
remote SDK, on Redis and PostgreSQL, with the scheduler and two worker processes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from backends.states import TaskState
from broker.core.models import JobResult
from broker.errors import InvalidJob, WaitTimeout
from circuits.observables import PauliSum
from tests.conftest import EXAMPLES, H2_TERMS, ROOT
from tests.harness.stack import LocalStack
from tests.integration.providers.ionq_standin import IonQStandIn
from tests.integration.service.conftest import charge_lines, h2, logs, task_rows

pytestmark = pytest.mark.integration

EXACT = PauliSum.from_list(H2_TERMS).ground_energy() + 0.7199689944489797


def test_h2_vqe_with_classical_steps_on_slurm(stack: LocalStack) -> None:
    client = stack.client("alice")
    job_id = client.submit(h2("vqe_h2_slurm.yaml"))
    seen: list[str] = []
    status = client.wait(job_id, timeout=300, on_progress=lambda s: seen.append(s.state))
    assert status.state == TaskState.COMPLETED, status.message + logs(stack)
    assert TaskState.RUNNING in seen  # progress arrived as events while it ran
    result = client.result(job_id)
    assert result.result is not None
    assert abs(result.result["energy"] - EXACT) < 1e-5
    rows = task_rows(stack, job_id)
    classical = [r for r in rows if r.kind == "classical"]
    assert {r.key for r in classical} >= {"problem", "reference", "analysis"}
    assert all(r.backend == "slurm" and r.native_id for r in classical)
    # Both workers took tasks: the work scales out over processes.
    assert len({r.worker_id.split(":")[-1] for r in rows if r.worker_id}) == 2
    # Charged once per task and unit.
    lines = charge_lines(stack, job_id)
    keys = [(c.task_id, c.unit) for c in lines]
    assert len(keys) == len(set(keys)) and {c.task_id for c in lines} <= {r.id for r in rows}
    assert len({c.task_id for c in lines}) == len(rows)
    # What each classical task printed, through the API (qcb logs).
    printed = client.logs(job_id)
    assert {p.key for p in printed} == {r.key for r in classical}
    assert all(p.state == TaskState.COMPLETED and p.exit_code == 0 for p in printed)
    assert [p.key for p in client.logs(printed[0].task_id)] == [printed[0].key]


def test_vqe_on_the_provider_stand_in(stack: LocalStack, ionq: IonQStandIn) -> None:
    client = stack.client("alice")
    posted = len(ionq.posted)
    job = h2(backend="ionq", inputs={"shots": 1000, "optimizer": {"name": "adam", "maxiter": 5}})
    job_id = client.submit(job)
    status = client.wait(job_id, timeout=300)
    assert status.state == TaskState.COMPLETED, status.message + logs(stack)
    quantum = [r for r in task_rows(stack, job_id) if r.kind == "quantum"]
    assert len(quantum) == 5 and all(r.backend == "ionq" and r.native_id for r in quantum)
    # One provider job per circuit of each task, none submitted twice.
    assert len(ionq.posted) - posted == sum(len(r.native_id.split(",")) for r in quantum)


def test_the_cli_works_against_the_service(stack: LocalStack) -> None:
    env = {**os.environ, "QCB_URL": stack.url, "QCB_TOKEN": stack.token("bob")}
    env.pop("QCB_HOME", None)
    done = subprocess.run(
        [sys.executable, "-m", "broker.cli", "run", str(EXAMPLES / "vqe_h2.yaml"), "--json"],
        env=env, capture_output=True, text=True, timeout=300, cwd=ROOT,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr + logs(stack)
    finished = json.loads(done.stdout)
    assert finished["state"] == "COMPLETED"
    assert abs(finished["result"]["energy"] - EXACT) < 1e-5
    listed = subprocess.run(
        [sys.executable, "-m", "broker.cli", "jobs", "--json"],
        env=env, capture_output=True, text=True, timeout=60, cwd=ROOT,
    )  # fmt: skip
    assert listed.returncode == 0, listed.stderr
    assert finished["id"] in [j["id"] for j in json.loads(listed.stdout)]
    # A wrong token is a clear error and an exit code, no traceback.
    env["QCB_TOKEN"] = "qcb_wrong"
    refused = subprocess.run(
        [sys.executable, "-m", "broker.cli", "jobs"],
        env=env, capture_output=True, text=True, timeout=60, cwd=ROOT,
    )  # fmt: skip
    assert refused.returncode == 6
    assert "token is unknown" in refused.stderr and "Traceback" not in refused.stderr


def test_openapi_and_docs_are_served_without_a_token(stack: LocalStack) -> None:
    import httpx

    spec = httpx.get(f"{stack.url}/v1/openapi.json", timeout=10)
    assert spec.status_code == 200
    paths = spec.json()["paths"]
    assert {"/v1/jobs", "/v1/jobs/{job_id}/events", "/v1/policy/apply", "/v1/tokens"} <= set(paths)
    assert httpx.get(f"{stack.url}/v1/docs", timeout=10).status_code == 200
    assert httpx.get(f"{stack.url}/v1/jobs", timeout=10).status_code == 401


def test_the_new_verbs_through_the_api(stack: LocalStack, tmp_path: Path) -> None:
    """Issue 21's verbs on the remote client and ``qcb`` against the service: job filters,
    waiting on many jobs, a wait's timeout, errors with their paths, cancel of an ended job,
    dependencies between jobs, a retry from the checkpoint, a requeue, hold and release, a
    download of the artifacts, a job as a future and jobs as they end."""
    client = stack.client("carol")
    started = datetime.now(UTC) - timedelta(seconds=1)
    quick = h2(inputs={"optimizer": {"name": "adam", "maxiter": 2}, "reference": False})
    done = [client.submit(quick) for _ in range(2)]
    slow = client.submit(h2(inputs={"reference": False}, name="slow"))
    with pytest.raises(WaitTimeout) as early:
        client.wait(slow, timeout=0.3)
    assert early.value.status.id == slow and not early.value.status.state.final
    finished = client.wait_all(done, timeout=300)
    assert [s.state for s in finished.values()] == [TaskState.COMPLETED] * 2, logs(stack)
    assert sorted(s.id for s in client.as_completed([*done, done[0]], timeout=60)) == sorted(done)
    handle = client.job(done[1])
    assert handle.done() and handle.result(timeout=0).state == TaskState.COMPLETED
    fetched = client.download(done[0], tmp_path, plot=False)
    assert {p.name for p in fetched} == {"job.yaml", "status.json", "result.json"}
    saved = JobResult.model_validate_json((tmp_path / done[0] / "result.json").read_text())
    assert saved == client.result(done[0]) and client.job_file(done[0]).name == quick["name"]
    doomed = client.submit({**quick, "dependency": f"afterok:{slow}"})
    after = client.submit({**quick, "dependency": f"afterany:{slow},afterok:{done[0]}"})
    assert client.status(after).waits_for == [f"afterany:{slow}"]  # done[0] met it already
    client.cancel(slow)
    assert client.wait(after, timeout=300).state == TaskState.COMPLETED, logs(stack)
    resumed = client.status(client.retry(slow))
    assert (resumed.name, resumed.step) == ("slow", client.status(slow).step)
    client.cancel(resumed.id)
    twin = client.requeue(slow)
    assert client.hold(twin).held_by == "carol" and client.status(twin).name == "slow"
    assert client.release(twin).held_by is None
    client.cancel(twin)
    cancelled = client.status(doomed)
    assert cancelled.state == TaskState.CANCELLED
    assert f"afterok:{slow} can never be met" in cancelled.message
    with pytest.raises(InvalidJob) as unmeetable:
        client.submit({**quick, "dependency": f"afterok:{slow}"})
    assert unmeetable.value.problems[0].path == "dependency"
    mine = {j.id for j in client.jobs(since=started)}
    assert mine == {*done, slow, doomed, after, resumed.id, twin}
    assert {j.id for j in client.jobs(states=["CD"], since=started)} == {*done, after}
    cancelled_ids = {j.id for j in client.jobs(states=["cancelled"], since=started)}
    assert cancelled_ids == {slow, doomed, resumed.id, twin}
    assert client.jobs(proposal="no-such-proposal") == []
    with pytest.raises(InvalidJob) as bad:
        client.submit(h2(inputs={"refrence": False}))
    [problem] = bad.value.problems
    assert (problem.path, problem.suggestion) == ("algorithm.inputs.refrence", "reference")
    env = {**os.environ, "QCB_URL": stack.url, "QCB_TOKEN": stack.token("carol")}
    env.pop("QCB_HOME", None)
    again = subprocess.run(
        [sys.executable, "-m", "broker.cli", "cancel", done[0]],
        env=env, capture_output=True, text=True, timeout=60, cwd=ROOT,
    )  # fmt: skip
    assert again.returncode == 0 and "nothing to cancel" in again.stdout, again.stderr
    listed = subprocess.run(
        [sys.executable, "-m", "broker.cli", "jobs", "-t", "CA", "--json"],
        env=env, capture_output=True, text=True, timeout=60, cwd=ROOT,
    )  # fmt: skip
    assert slow in [j["id"] for j in json.loads(listed.stdout)], listed.stderr
