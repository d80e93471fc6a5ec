"""A job as a future (``Client.job``) and jobs as they end (``Client.as_completed``) on the
embedded client, its jobs run in this process (the remote client: tests/integration)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from backends.states import TaskState
from broker.client import Client
from broker.errors import NotFound, WaitTimeout
from broker.jobfile import load_job
from tests.conftest import EXAMPLES
from tests.unit.broker.core.test_orchestrator import drive


@pytest.fixture
def client(qcb_home: Path) -> Client:
    return Client(autostart=False)


def small() -> Any:
    spec = load_job(EXAMPLES / "vqe_h2.yaml")
    spec.algorithm.inputs["optimizer"]["maxiter"] = 2
    spec.algorithm.inputs["reference"] = False
    return spec


def test_a_job_handle_follows_its_job_to_the_result(client: Client, tmp_path: Path) -> None:
    job = client.job(client.submit(small()))
    assert repr(job) == f"<Job {job.id}>" and not job.done()
    with pytest.raises(WaitTimeout) as early:
        job.result(timeout=0.05)
    assert early.value.status.id == job.id
    drive(client._broker, job.id)
    assert job.done() and job.status().state == TaskState.COMPLETED
    result = job.result(timeout=0)
    assert result == client.result(job.id) and result.result is not None
    assert job.logs() == [] and job.cancel().state == TaskState.COMPLETED
    assert {p.name for p in job.download(tmp_path, plot=False)} >= {"result.json"}
    with pytest.raises(NotFound):
        client.job("j-000000000000")


def test_jobs_come_as_they_end(client: Client, monkeypatch: pytest.MonkeyPatch) -> None:
    first, second, third = (client.submit(small()) for _ in range(3))
    client.hold(first)
    client.hold(second)  # so that running one job runs no other
    drive(client._broker, third)
    to_run = [second, first]  # each pause, one more job ends: second, then first

    def pause(_bell: object) -> None:
        job_id = to_run.pop(0)
        client.release(job_id)
        drive(client._broker, job_id)

    monkeypatch.setattr(client, "_pause", pause)
    order = [s.id for s in client.as_completed([first, second, third, first])]
    assert order == [third, second, first]
    pending = client.submit(small())
    monkeypatch.setattr(client, "_pause", lambda _bell: None)
    seen: list[str] = []
    with pytest.raises(WaitTimeout, match=r"1 of 2 jobs had ended") as late:
        for status in client.as_completed([pending, third], timeout=0.0):
            seen.append(status.id)
    assert seen == [third] and late.value.status.id == pending
