"""An admission commits its job with the first tasks released (``QUEUED``), then sends them.
An API killed between the two (``QCB_CRASH_AT=admission.after-commit``: SIGKILL at that
very point) loses nothing: the scheduler re-sends the task nobody claimed, it runs exactly
once, and the client's retry with the same idempotency key gets the same job."""

from __future__ import annotations

import signal
import threading
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from backends.states import TaskState
from broker.store.schema import jobs
from tests.conftest import ROOT, reachable
from tests.harness.stack import LocalStack
from tests.integration.service.conftest import charge_lines, h2, logs, store, task_rows

pytestmark = pytest.mark.integration


def _job_count(stack: LocalStack) -> int:
    db = store(stack)
    with db.read() as conn:
        n = int(conn.execute(select(func.count()).select_from(jobs)).scalar_one())
    db.dispose()
    return n


def test_an_api_killed_between_commit_and_send_loses_nothing(tmp_path: Path) -> None:
    workdir = reachable(tmp_path)
    env = {"QCB_CRASH_AT": "admission.after-commit", "PYTHONPATH": str(ROOT)}
    recovery = {"lease_seconds": 3.0, "redispatch_seconds": 1.0}
    job = h2(inputs={"optimizer": {"name": "adam", "maxiter": 2}, "reference": False})
    with LocalStack(workdir, workers=1, env=env, settings=recovery) as stack:
        client = stack.client("alice")
        answer: dict[str, Any] = {}

        def submit() -> None:  # the client retries with the same key until the API is back
            try:
                answer["id"] = client.submit(job, key="one-job-only")
            except Exception as exc:  # collected: asserted in the test's thread
                answer["error"] = exc

        submitter = threading.Thread(target=submit)
        submitter.start()
        api = stack.processes["api"]
        assert api.wait(timeout=60) == -signal.SIGKILL, stack.log("api")
        assert _job_count(stack) == 1  # committed before the kill

        stack.env.pop("QCB_CRASH_AT")
        stack.processes.pop("api")
        stack.start("api")
        submitter.join(timeout=120)
        assert not submitter.is_alive()
        assert "error" not in answer, answer.get("error")
        job_id = answer["id"]

        final = client.wait(job_id, timeout=120)
        assert final.state == TaskState.COMPLETED, f"{final.message}\n{logs(stack)}"
        assert _job_count(stack) == 1  # the retry admitted nothing more
        rows = task_rows(stack, job_id)
        assert rows and all(r.state == TaskState.COMPLETED for r in rows)
        assert [r.attempts for r in rows] == [1] * len(rows)  # each claimed once: ran once
        charged = [(c.task_id, c.unit) for c in charge_lines(stack, job_id)]
        assert len(charged) == len(set(charged))  # each task charged once per unit
        assert {c[0] for c in charged} == {r.id for r in rows}
