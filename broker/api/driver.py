"""``/v1/jobs/{id}/tasks``: a driver program adds quantum tasks to its job and reads them.

Only a driver token (``broker.drivers.service``) of that very job may add tasks; it may read them,
and the job's status and events, but nothing else (see :func:`scope_allows`).
"""

from __future__ import annotations

import re
from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field

from backends.base import QuantumBatch
from broker.api.deps import Svc, Who
from broker.api.wire import API_PREFIX
from broker.drivers import service as driver
from broker.service.access import Principal, Role

router = APIRouter(tags=["driver"])


class TaskSubmission(BaseModel):
    """A quantum task from a driver program."""

    model_config = ConfigDict(extra="forbid")

    batch: QuantumBatch
    backend: str | None = Field(default=None, description="Default: the job's backend.")
    step: str | None = Field(
        default=None, description="The driver step (needed only when several run at once)."
    )


@router.post("/jobs/{job_id}/tasks", status_code=201)
def add_task(
    request: Request, svc: Svc, who: Who, job_id: str, body: TaskSubmission
) -> dict[str, str]:
    """Add a quantum task to the job's running driver step: 201 with its id; 403 for any
    token but that job's driver token; 409 beyond the driver's allowance."""
    if who.role is not Role.DRIVER or who.job_id != job_id:
        raise svc.forbid(request, who, f"only the driver program of job {job_id} may add tasks")
    task_id = driver.submit_task(
        svc.broker, who, job_id, body.batch, body.backend, body.step, via="api"
    )
    svc.release()
    return {"id": task_id}


@router.get("/jobs/{job_id}/tasks/{task_id}")
def get_task(request: Request, svc: Svc, who: Who, job_id: str, task_id: str) -> dict[str, Any]:
    """A task of the job: its state, message and, once final, its result."""
    svc.job_owner(request, who, job_id)  # 403 for someone else's job (audited)
    return driver.task_view(svc.broker, who, job_id, task_id)


_DRIVER_PATHS = (
    ("GET", re.compile(rf"^{API_PREFIX}/whoami$")),
    ("GET", re.compile(rf"^{API_PREFIX}/jobs/(?P<job>[^/]+)$")),
    ("GET", re.compile(rf"^{API_PREFIX}/jobs/(?P<job>[^/]+)/events$")),
    ("POST", re.compile(rf"^{API_PREFIX}/jobs/(?P<job>[^/]+)/tasks$")),
    ("GET", re.compile(rf"^{API_PREFIX}/jobs/(?P<job>[^/]+)/tasks/[^/]+$")),
)


def scope_allows(who: Principal, method: str, path: str) -> bool:
    """Whether a request is within its token's scope: any request for ordinary tokens; for
    a driver token only reading its own job (status, events, its tasks) and adding tasks."""
    if who.job_id is None:
        return True
    for allowed_method, pattern in _DRIVER_PATHS:
        match = pattern.match(path)
        if match and method == allowed_method:
            job = match.groupdict().get("job")
            return job is None or job == who.job_id
    return False
