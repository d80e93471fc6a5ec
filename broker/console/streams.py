"""The console's live updates: server-sent events from the API's change feed, for one
job (its page) or for the unfinished jobs of the jobs list, authenticated by the session
cookie instead of a bearer token."""

from __future__ import annotations

from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool

from broker.api.feed import status_events
from broker.api.jobs import KEEPALIVE_SECONDS
from broker.console.web import current, service
from broker.core import queries

router = APIRouter()

MAX_WATCHED = 100
"""The most jobs one list stream watches."""


@router.get("/events")
async def events(
    request: Request,
    jobs: str = Query(max_length=40 * MAX_WATCHED, pattern=r"^[A-Za-z0-9_-]+(,[A-Za-z0-9_-]+)*$"),
) -> StreamingResponse:
    """A ``status`` event whenever one of ``jobs`` (comma-separated ids) changes, ``end``
    once all are final; each must be one the session may see (404 otherwise, as the API)."""
    session = await current(request)
    svc = service(request)
    ids = list(dict.fromkeys(jobs.split(",")))[:MAX_WATCHED]
    for job_id in ids:
        await run_in_threadpool(svc.job_owner, request, session.principal, job_id)
    watch = svc.feed.open_many(session.principal.user, ids)
    stream = status_events(
        svc.feed, watch, lambda j: queries.job_status(svc.broker.db, j), KEEPALIVE_SECONDS
    )
    return StreamingResponse(
        stream, media_type="text/event-stream", background=BackgroundTask(watch.close)
    )


__all__ = ["MAX_WATCHED", "router"]
