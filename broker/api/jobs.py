"""``/v1/jobs``: submit, list, status, result, cancel, explain, and progress as
server-sent events."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import StreamingResponse
from pydantic import TypeAdapter
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool

from broker.accounting.explain import explain
from broker.api.deps import Svc, Who
from broker.api.feed import status_events
from broker.api.service import Service
from broker.core import holds, queries, resume
from broker.core.models import JobResult, JobSpec, JobStatus, TaskLog
from broker.errors import InvalidJob, InvalidRequest
from broker.jobfile import validate_job
from broker.service.access import Principal, belongs, job_scope, may_see_job
from broker.waiting import parse_states
from policies.explain import Explanation

router = APIRouter(tags=["jobs"])

KEEPALIVE_SECONDS = 15.0


@router.post("/jobs", status_code=201)
async def submit(
    request: Request,
    svc: Svc,
    who: Who,
    idempotency_key: str | None = Header(
        default=None,
        max_length=100,
        description="Retry safely: the same key with the same job returns the job of the "
        "first submission; with another job it is refused (422).",
    ),
) -> dict[str, str]:
    """Admit a job (a JobSpec, as in a job file) under one of your proposals: 201 with its
    id, or 409 with the refusal's reason and the balance that remains. Nothing is queued
    for a refused job."""
    body = await request.body()
    data = json.loads(body) if body.strip() else None  # the guard checked it: valid JSON
    if not isinstance(data, dict):
        raise InvalidJob("the job is not valid: a JSON object (a JobSpec) is expected")
    return await run_in_threadpool(_submit, request, svc, who, data, idempotency_key)


def _submit(
    request: Request, svc: Service, who: Principal, data: dict[str, Any], key: str | None
) -> dict[str, str]:
    spec = validate_job(data)
    policy = svc.broker.policy.policy
    if not belongs(policy, who.user, spec.proposal):  # unknown ones too: no hint they exist
        raise svc.forbid(request, who, f"you are not a member of proposal {spec.proposal!r}")
    return {"id": svc.broker.submit(spec, who.user, client_key=key)}  # sends its first tasks


@router.get("/jobs")
def list_jobs(
    svc: Svc,
    who: Who,
    limit: int = Query(default=50, ge=1, le=1000),
    state: str | None = Query(
        default=None,
        max_length=200,
        pattern=r"^[A-Za-z]{1,12}(,[A-Za-z]{1,12}){0,9}$",
        description="Only these states, comma-separated: RUNNING,PENDING (or squeue's R,PD).",
    ),
    proposal: str | None = Query(default=None, max_length=100, description="Only this one."),
    since: Annotated[
        str | None,
        Query(
            max_length=40,
            description="Submitted then or later: RFC 3339 with its time zone.",
            json_schema_extra={"format": "date-time"},
        ),
    ] = None,
) -> list[JobStatus]:
    """Your most recent jobs, and every job of the proposals you lead; newest first."""
    policy = svc.broker.policy.policy
    user, led = job_scope(policy, who)
    found = queries.list_jobs(
        svc.broker.db,
        user,
        limit,
        led=led or [],
        states=parse_states([state] if state else []),
        proposal=proposal,
        since=_rfc3339("since", since),
    )
    return [s for s in found if may_see_job(policy, who, s.proposal, s.user)]


def _rfc3339(name: str, text: str | None) -> datetime | None:
    """An RFC 3339 date-time with its zone (``2026-12-01T00:00:00Z``); ``InvalidRequest``
    for anything else (a number, a date alone, a time without zone)."""
    if text is None:
        return None
    try:
        found = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        found = None
    if found is None or found.tzinfo is None or "T" not in text.upper():
        raise InvalidRequest(
            f"{name}: {text[:40]!r} is not an RFC 3339 date-time with its zone",
            hint="e.g. 2026-12-01T00:00:00Z",
        )
    return found


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


@router.get("/jobs/{job_id}/spec")
def spec(request: Request, svc: Svc, who: Who, job_id: str) -> JobSpec:
    """The job as it was submitted (its job file, validated)."""
    svc.job_owner(request, who, job_id)
    return queries.job_spec(svc.broker.db, job_id)


@router.post("/jobs/{job_id}/requeue", status_code=201)
def requeue(
    request: Request,
    svc: Svc,
    who: Who,
    job_id: str,
    backend: str | None = Query(default=None, max_length=100, description="Another backend."),
    idempotency_key: str | None = Header(default=None, max_length=100),
) -> dict[str, str]:
    """Submit a job of yours again, as it was submitted: 201 with the new job's id (admitted
    under the policy now in force, like any submission); the old job stays as it is."""
    svc.job_owner(request, who, job_id)
    spec = queries.job_spec(svc.broker.db, job_id)
    if backend is not None:
        spec = spec.model_copy(update={"backend": backend})
    spec = validate_job(spec.model_dump(mode="json", by_alias=True))
    if not belongs(svc.broker.policy.policy, who.user, spec.proposal):
        raise svc.forbid(request, who, f"you are not a member of proposal {spec.proposal!r}")
    return {"id": svc.broker.submit(spec, who.user, client_key=idempotency_key)}


@router.post("/jobs/{job_id}/retry", status_code=201)
def retry(
    request: Request,
    svc: Svc,
    who: Who,
    job_id: str,
    backend: str | None = Query(default=None, max_length=100, description="Another backend."),
    idempotency_key: str | None = Header(default=None, max_length=100),
) -> dict[str, str]:
    """Resume a failed or cancelled job of yours from its checkpoint, the last step it
    reached: 201 with the new job's id (the step's completed tasks are copied, not run
    again; admitted under the policy now in force); the old job stays as it is."""
    svc.job_owner(request, who, job_id)
    point = resume.checkpoint(svc.broker.db, job_id, who.user, backend)
    if not belongs(svc.broker.policy.policy, who.user, point.spec.proposal):
        raise svc.forbid(request, who, f"you are not a member of proposal {point.spec.proposal!r}")
    job = svc.broker.submit(point.spec, who.user, client_key=idempotency_key, resume=point)
    return {"id": job}


@router.post("/jobs/{job_id}/hold")
def hold(request: Request, svc: Svc, who: Who, job_id: str) -> JobStatus:
    """Hold a job: its pending tasks wait until it is released (queued and running ones go
    on); a final job is left as it is."""
    svc.job_owner(request, who, job_id)
    holds.hold(svc.broker, job_id, who.user)
    return queries.job_status(svc.broker.db, job_id)


@router.post("/jobs/{job_id}/release")
def release(request: Request, svc: Svc, who: Who, job_id: str) -> JobStatus:
    """Release a held job: its pending tasks may start."""
    svc.job_owner(request, who, job_id)
    holds.release(svc.broker, job_id, who.user)
    return queries.job_status(svc.broker.db, job_id)


@router.post("/jobs/{job_id}/cancel")
def cancel(request: Request, svc: Svc, who: Who, job_id: str) -> JobStatus:
    """Cancel: pending tasks never start, running Slurm and provider jobs are cancelled
    by their workers, and the job's holds are released."""
    svc.job_owner(request, who, job_id)
    svc.broker.cancel(job_id, who.user)
    return queries.job_status(svc.broker.db, job_id)


@router.get("/logs/{ident}")
def logs(request: Request, svc: Svc, who: Who, ident: str) -> list[TaskLog]:
    """What a task printed (exit code, stdout, stderr), or every classical task of a job."""
    svc.job_owner(request, who, ident)
    return queries.task_logs(svc.broker.db, ident)


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
async def events(request: Request, svc: Svc, who: Who, job_id: str) -> StreamingResponse:
    """Progress as server-sent events: a ``status`` event (a JobStatus) whenever the job
    changes, then ``end`` when it is final. Comments keep idle connections open. One user
    may hold a few streams at once (429 with ``Retry-After`` beyond)."""
    await run_in_threadpool(svc.job_owner, request, who, job_id)
    watch = svc.feed.open(who.user, job_id)
    events = status_events(
        svc.feed, watch, lambda j: queries.job_status(svc.broker.db, j), KEEPALIVE_SECONDS
    )
    return StreamingResponse(
        events, media_type="text/event-stream", background=BackgroundTask(watch.close)
    )
