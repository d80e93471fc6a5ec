"""The researcher's and PI's pages: jobs, one job (live), cancel, submit.

Every page asks the same questions of the store as the API (``job_scope``,
``may_see_job``, ``Service.job_owner``), so a page shows exactly what the role's token
could read from ``/v1``; someone else's job answers as one that does not exist.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from broker.api.service import Service
from broker.api.wire import status_of
from broker.console import svg
from broker.console.sessions import Session
from broker.console.web import PREFIX, checked_form, current, fragment, page, service
from broker.core import queries
from broker.core.models import JobStatus
from broker.errors import BrokerError, InvalidJob
from broker.jobfile import parse_job_text
from broker.service.access import Principal, belongs, job_scope, may_see_job
from broker.store.db import utcnow

router = APIRouter()

LIST_LIMIT = 200
"""The most jobs the jobs page lists."""

PLOTTED = {"vqe": "energy (Ha)", "qaoa": "expected cut <C>"}
"""Algorithms whose result has a ``history`` per iteration, and what it measures."""


def visible_jobs(svc: Service, who: Principal, limit: int = LIST_LIMIT) -> list[JobStatus]:
    """The jobs ``who`` may see (their own; all of the proposals they lead; all for the
    committee and admins), newest first, as ``GET /v1/jobs`` lists them."""
    policy = svc.broker.policy.policy
    user, led = job_scope(policy, who)
    found = queries.list_jobs(svc.broker.db, user, limit, led=led or [])
    return [s for s in found if may_see_job(policy, who, s.proposal, s.user)]


@router.get("/")
async def jobs_page(request: Request) -> Response:
    """The jobs list, updated live while any of its jobs runs."""
    session = await current(request)
    found = await run_in_threadpool(visible_jobs, service(request), session.principal)
    live = [s.id for s in found if not s.state.final]
    return page(request, "jobs.html", session, jobs=found, live=live)


@router.get("/rows")
async def jobs_rows(request: Request) -> Response:
    """The jobs table's rows (the list page's script refreshes them on each change)."""
    session = await current(request)
    found = await run_in_threadpool(visible_jobs, service(request), session.principal)
    return fragment("job_rows.html", jobs=found)


def job_view(svc: Service, job_id: str) -> dict[str, Any]:
    """Everything the job page shows: status, tasks, charges, plots and the result."""
    status = queries.job_status(svc.broker.db, job_id)
    final = queries.job_result(svc.broker.db, job_id) if status.state.final else None
    if final is not None:  # it holds the charges and the tasks already
        charges, records = final.charges, final.lineage.tasks
    else:
        charges, records = queries.job_tasks(svc.broker.db, job_id)
    result = final.result if final is not None else None
    spans = [
        svg.Span(f"{r.key} ({r.kind})", r.backend, r.created_at, r.started_at, r.finished_at)
        for r in records
    ]
    plot = ""
    history = (result or {}).get("history")
    if status.algorithm in PLOTTED and isinstance(history, list):
        plot = svg.convergence(
            [float(v) for v in history],
            label=PLOTTED[status.algorithm],
            reference=(result or {}).get("reference_energy") or (result or {}).get("max_cut"),
            reference_label="exact" if status.algorithm == "vqe" else "maximum cut",
        )
    totals: dict[tuple[str, str], float] = {}
    for c in charges:
        if c.kind == "charge":
            totals[(c.backend, c.unit)] = totals.get((c.backend, c.unit), 0.0) + c.amount
    return {
        "job": status,
        "tasks": records,
        "charges": sorted(totals.items()),
        "result": result,
        "plot": plot,
        "timeline": svg.timeline(spans, utcnow()),
        "measure": PLOTTED.get(status.algorithm),
        "lineage": final.lineage if final is not None else None,
    }


async def _job(request: Request, job_id: str) -> tuple[Session, dict[str, Any]]:
    """The session, and what the job page shows of a job it may see (404 otherwise)."""
    session = await current(request)
    svc = service(request)
    await run_in_threadpool(svc.job_owner, request, session.principal, job_id)
    return session, await run_in_threadpool(job_view, svc, job_id)


@router.get("/jobs/{job_id}")
async def job_page(request: Request, job_id: str) -> Response:
    """One job: its progress (live), tasks, timeline, charges, result and cancel."""
    session, view = await _job(request, job_id)
    return page(request, "job.html", session, **view)


@router.get("/jobs/{job_id}/panel")
async def job_panel(request: Request, job_id: str) -> Response:
    """The changing part of the job page (its script fetches it on each change)."""
    session, view = await _job(request, job_id)
    return fragment("job_panel.html", csrf=session.csrf, **view)


@router.post("/jobs/{job_id}/cancel")
async def cancel(request: Request, job_id: str) -> Response:
    """Cancel the job, then back to its page."""
    session = await current(request)
    await checked_form(request, session)
    svc = service(request)
    who = session.principal
    await run_in_threadpool(svc.job_owner, request, who, job_id)
    await run_in_threadpool(svc.broker.cancel, job_id, who.user)
    return RedirectResponse(f"{PREFIX}/jobs/{job_id}", status_code=303)


@router.get("/submit")
async def submit_form(request: Request) -> Response:
    """The form for a job file."""
    session = await current(request)
    return page(request, "submit.html", session, text="", problems=None, message=None)


@router.post("/submit")
async def submit(request: Request) -> Response:
    """Validate the job file (every problem at its line) and submit it; then its page."""
    session = await current(request)
    fields = await checked_form(request, session, documents=("job",))
    text = fields.get("job", "")
    svc = service(request)
    who = session.principal
    try:
        spec = await run_in_threadpool(parse_job_text, text, "the job file")
    except InvalidJob as exc:
        return page(
            request,
            "submit.html",
            session,
            status=422,
            text=text,
            problems=exc.problems,
            message=exc.message.splitlines()[0],
        )
    if not belongs(svc.broker.policy.policy, who.user, spec.proposal):
        message = f"you are not a member of proposal {spec.proposal!r}"
        raise await run_in_threadpool(svc.forbid, request, who, message)
    try:
        job_id = await run_in_threadpool(svc.broker.submit, spec, who.user)
    except BrokerError as exc:  # refused by admission: the text stays in the form
        status = status_of(exc)
        return page(
            request,
            "submit.html",
            session,
            status=status,
            text=text,
            problems=None,
            message=exc.message,
            hint=exc.hint,
        )
    return RedirectResponse(f"{PREFIX}/jobs/{job_id}", status_code=303)


__all__ = ["job_view", "router", "visible_jobs"]
