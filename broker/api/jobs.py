"""``/v1/jobs``: submit, list, status, result, cancel, explain, and progress as
server-sent events."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

from fastapi import APIRouter, Body, Header, Query, Request
from fastapi.responses import StreamingResponse
from pydantic import TypeAdapter
from sqlalchemy import select

from broker import queries
from broker.access import belongs, job_scope, may_see_job
from broker.api.app import Svc, Who
from broker.explain import explain
from broker.jobfile import validate_job
from broker.models import JobResult, JobStatus
from broker.store.schema import jobs
from policies.explain import Explanation

router = APIRouter(tags=["jobs"])

KEEPALIVE_SECONDS = 15.0
FULL_STATUS_SECONDS = 0.5


@router.post("/jobs", status_code=201)
def submit(
    request: Request,
    svc: Svc,
    who: Who,
    job: dict[str, Any] = Body(description="A job, as in a job file (JobSpec)."),  # noqa: B008
    idempotency_key: str | None = Header(
        default=None,
        max_length=100,
        description="Retry safely: the same key returns the job of the first submission.",
    ),
) -> dict[str, str]:
    """Admit a job under one of your proposals: 201 with its id, or 409 with the refusal's
    reason and the balance that remains. Nothing is queued for a refused job."""
    spec = validate_job(job)
    policy = svc.broker.policy.policy
    if not belongs(policy, who.user, spec.proposal):  # unknown ones too: no hint they exist
        raise svc.forbid(request, who, f"you are not a member of proposal {spec.proposal!r}")
    job_id = svc.broker.submit(spec, who.user, client_key=idempotency_key)
    svc.release()
    return {"id": job_id}


@router.get("/jobs")
def list_jobs(svc: Svc, who: Who, limit: int = Query(default=50, ge=1, le=1000)) -> list[JobStatus]:
    """Your most recent jobs, and every job of the proposals you lead; newest first."""
    policy = svc.broker.policy.policy
    user, led = job_scope(policy, who)
    found = queries.list_jobs(svc.broker.db, user, limit, led=led or [])
    return [s for s in found if may_see_job(policy, who, s.proposal, s.user)]


@router.get("/jobs/{job_id}")
def status(request: Request, svc: Svc, who: Who, job_id: str) -> JobStatus:
    """State, progress and task counts."""
    svc.job_owner(request, who, job_id)
    return queries.job_status(svc.broker.db, job_id)


@router.get("/jobs/{job_id}/result")
def result(request: Request, svc: Svc, who: Who, job_id: str) -> JobResult:
    """The finished job's result, charges and lineage (409 while it runs)."""
    svc.job_owner(request, who, job_id)
    return queries.job_result(svc.broker.db, job_id)


@router.post("/jobs/{job_id}/cancel")
def cancel(request: Request, svc: Svc, who: Who, job_id: str) -> JobStatus:
    """Cancel: pending tasks never start, running Slurm and provider jobs are cancelled
    by their workers, and the job's holds are released."""
    svc.job_owner(request, who, job_id)
    svc.broker.cancel(job_id, who.user)
    return queries.job_status(svc.broker.db, job_id)


@router.get("/explain/{ident}")
def explain_task(request: Request, svc: Svc, who: Who, ident: str) -> list[dict[str, Any]]:
    """Why a pending task (or each pending task of a job) waits."""
    svc.job_owner(request, who, ident)
    found = explain(svc.broker, ident, None)
    dumped: list[dict[str, Any]] = TypeAdapter(list[Explanation]).dump_python(found, mode="json")
    return dumped


@router.get(
    "/jobs/{job_id}/events",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}}},
)
def events(request: Request, svc: Svc, who: Who, job_id: str) -> StreamingResponse:
    """Progress as server-sent events: an ``status`` event (a JobStatus) whenever the job
    changes, then ``end`` when it is final. Comments keep idle connections open."""
    svc.job_owner(request, who, job_id)
    period = svc.settings.poll_seconds
    probe = select(jobs.c.state, jobs.c.step, jobs.c.updated_at).where(jobs.c.id == job_id)

    def stream() -> Iterator[str]:
        # A one-row probe every poll period catches state and step changes at once; the
        # full status (with task counts) is read when the probe changes, or twice a second.
        last, seen, quiet, full_at = "", None, time.monotonic(), 0.0
        while True:
            with svc.broker.db.read() as conn:
                mark = tuple(conn.execute(probe).one())
            if mark == seen and time.monotonic() - full_at < FULL_STATUS_SECONDS:
                time.sleep(period)
                continue
            seen, full_at = mark, time.monotonic()
            now = queries.job_status(svc.broker.db, job_id)
            data = now.model_dump_json()
            if data != last:
                yield f"event: status\ndata: {data}\n\n"
                last, quiet = data, time.monotonic()
            if now.state.final:
                yield f"event: end\ndata: {json.dumps({'state': now.state.value})}\n\n"
                return
            if time.monotonic() - quiet > KEEPALIVE_SECONDS:
                yield ": keepalive\n\n"
                quiet = time.monotonic()
            time.sleep(period)

    return StreamingResponse(stream(), media_type="text/event-stream")
