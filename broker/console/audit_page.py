"""The audit log as a page: who did what, when, filtered by who and by action. Admins
only, as ``/v1/audit``."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from broker.api.service import Service
from broker.console.web import current, page, service
from broker.store.schema import audit

router = APIRouter()

AUDIT_ROWS = 500
"""The most audit lines one page shows (newest first)."""


def audit_lines(svc: Service, actor: str, action: str, limit: int = AUDIT_ROWS) -> list[Any]:
    """The newest audit lines, of ``actor`` and ``action`` when given (exact names)."""
    query = select(audit).order_by(audit.c.id.desc()).limit(limit)
    if actor:
        query = query.where(audit.c.actor == actor)
    if action:
        query = query.where(audit.c.action == action)
    with svc.broker.db.read() as conn:
        return list(conn.execute(query).all())


def audit_actions(svc: Service) -> list[str]:
    """Every action the log holds, for the filter's choices."""
    with svc.broker.db.read() as conn:
        return sorted(conn.execute(select(audit.c.action).distinct()).scalars().all())


@router.get("/audit")
async def audit_page(
    request: Request,
    actor: str = Query(default="", max_length=100),
    action: str = Query(default="", max_length=50),
) -> Response:
    """The audit log, newest first, filtered."""
    session = await current(request)
    svc = service(request)
    if not session.principal.is_admin:
        message = "only admins may read the audit log"
        raise await run_in_threadpool(svc.forbid, request, session.principal, message)
    lines = await run_in_threadpool(audit_lines, svc, actor.strip(), action.strip())
    actions = await run_in_threadpool(audit_actions, svc)
    return page(
        request,
        "audit.html",
        session,
        section="audit",
        lines=lines,
        actions=actions,
        actor=actor,
        action=action,
    )


__all__ = ["audit_actions", "audit_lines", "router"]
