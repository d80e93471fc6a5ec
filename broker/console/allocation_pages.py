"""Allocations as the console shows them: each visible proposal's budgets with burn-down
plots, each backend's Fair Tree (``sshare -l``), the pending queue with each task's
factors (``sprio -l``), and why one task waits (``qcb explain``). Each page shows what the
matching API answer holds for the same token: ``/v1/usage``, ``/v1/fairshare``,
``/v1/priority``, ``/v1/explain``."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from broker.accounting import shares, usage
from broker.accounting.explain import explain
from broker.api.service import Service
from broker.console import svg
from broker.console.web import current, page, service
from broker.errors import BrokerError
from broker.service.access import Principal, may_see_job, may_see_usage, visible_proposals

router = APIRouter()

QUEUE_ROWS = 500
"""The most pending tasks the queue page lists (best first)."""


def usage_view(svc: Service, who: Principal) -> list[dict[str, Any]]:
    """Each proposal ``who`` may see: its budgets, each with a burn-down plot."""
    policy = svc.broker.policy.policy
    out = []
    now = datetime.now(UTC)
    with svc.broker.db.read() as conn:
        for pid in visible_proposals(policy, who):
            proposal = policy.proposal(pid)
            assert proposal is not None
            found = usage.proposal_usage(conn, policy, proposal)
            plots = []
            for b in found.budgets:
                points = [(p.at, p.used) for p in usage.burn_down(conn, b)]
                start = b.period_start or (points[0][0] if points else now)
                end = b.period_end or now
                plots.append(svg.burn_down(points, b.limit, start, end))
            out.append({"usage": found, "plots": plots})
    return out


@router.get("/usage")
async def usage_page(request: Request) -> Response:
    """Budgets per proposal: used, held, remaining, standing, burn-down."""
    session = await current(request)
    found = await run_in_threadpool(usage_view, service(request), session.principal)
    return page(request, "usage.html", session, section="usage", proposals=found)


@router.get("/fairshare")
async def fairshare_page(request: Request) -> Response:
    """Each backend's Fair Tree, as ``sshare -l`` prints Slurm's."""
    session = await current(request)
    svc = service(request)
    policy = svc.broker.policy.policy
    who = session.principal
    rows = await run_in_threadpool(
        shares.fairshare, svc.broker, lambda p: may_see_usage(policy, who, p), None
    )
    backends: dict[str, list[shares.ShareRow]] = {}
    for row in rows:
        backends.setdefault(row.backend, []).append(row)
    return page(request, "fairshare.html", session, section="fairshare", backends=backends)


@router.get("/queue")
async def queue_page(request: Request) -> Response:
    """Pending tasks, best first, with each factor and its weighted part."""
    session = await current(request)
    svc = service(request)
    policy = svc.broker.policy.policy
    who = session.principal

    def visible(proposal: str, user: str) -> bool:
        return who.governs_policy or may_see_job(policy, who, proposal, user)

    rows = await run_in_threadpool(shares.priorities, svc.broker, visible)
    factors = sorted({f for r in rows for f in r.factors})
    explainable = {r.task_id for r in rows if may_see_job(policy, who, r.proposal, r.user)}
    return page(
        request,
        "queue.html",
        session,
        section="queue",
        rows=rows[:QUEUE_ROWS],
        total=len(rows),
        factors=factors,
        explainable=explainable,
    )


@router.get("/explain/{ident}")
async def explain_page(request: Request, ident: str) -> Response:
    """Why a pending task (or each pending task of a job) waits."""
    session = await current(request)
    svc = service(request)
    await run_in_threadpool(svc.job_owner, request, session.principal, ident)
    try:
        found = await run_in_threadpool(explain, svc.broker, ident, None)
    except BrokerError as exc:  # held, waiting for a dependency, not pending: the answer
        return page(
            request, "explain.html", session, section="queue", ident=ident, found=[],
            said=exc.message, hint=exc.hint,
        )  # fmt: skip
    return page(request, "explain.html", session, section="queue", ident=ident, found=found)


__all__ = ["router", "usage_view"]
