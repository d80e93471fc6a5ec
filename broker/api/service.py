"""What the API process holds for all requests: the broker, a sender to Celery, and the
checks every endpoint shares (who is asking, may they, and the audit line when they may not).
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from fastapi import Request
from sqlalchemy import select

from broker.api.feed import ChangeFeed
from broker.config import Settings
from broker.core.orchestrator import Broker
from broker.errors import Forbidden, NotFound, Unauthenticated
from broker.service import tokens
from broker.service.access import Principal, may_see_job, within_scope
from broker.store.audit import record_audit
from broker.store.schema import jobs, tasks

log = logging.getLogger(__name__)

ANONYMOUS = "anonymous"


class Service:
    """The broker as the API process uses it."""

    def __init__(self, settings: Settings) -> None:
        from broker.core.scheduler import Scheduler
        from broker.processes.celery_app import make_app, sender

        self.settings = settings
        self.broker = Broker(settings)
        send = sender(make_app(settings))
        self.broker.dispatch.sender = send  # an admission sends its job's first tasks
        self.scheduler = Scheduler(self.broker, send)
        self.feed = ChangeFeed(self.broker.db, settings.poll_seconds, settings.max_streams_per_user)
        self._wake = threading.Event()
        threading.Thread(target=self._releaser, name="qcb-release", daemon=True).start()
        threading.Thread(target=self._warm_catalog, name="qcb-catalog", daemon=True).start()

    def _warm_catalog(self) -> None:
        """Build every backend once at start: the first build imports each quantum SDK
        (seconds in all), which would otherwise fall on the first ``GET /backends``."""
        from broker import catalog

        try:
            catalog.describe(self.broker)
        except Exception:  # a backend that cannot be built says so when it is asked for
            log.warning("could not describe the backends at start", exc_info=True)

    def release(self) -> None:
        """Ask for a release cycle now, so that a new job need not wait for the scheduler's
        next tick. One thread runs the cycles: a burst of submissions shares one cycle
        instead of each taking the store's write turn for a cycle of its own."""
        self._wake.set()

    def _releaser(self) -> None:
        while True:
            self._wake.wait()
            self._wake.clear()
            try:
                self.scheduler.release()
            except Exception:  # the transport (Redis) may be restarting: the scheduler
                # re-sends every queued task nobody claimed
                log.warning("could not release tasks now; the scheduler will", exc_info=True)

    def deny(
        self,
        request: Request,
        actor: str,
        exc: Unauthenticated | Forbidden,
        status: int | None = None,
    ) -> None:
        """Record a refused request in the audit log (``status``: what was answered)."""
        with self.broker.db.write() as conn:
            record_audit(
                conn,
                actor,
                "deny",
                request.url.path[:100],
                method=request.method,
                status=status or (401 if isinstance(exc, Unauthenticated) else 403),
                reason=exc.message,
            )

    def authenticate(self, request: Request) -> Principal:
        """The principal of a request's bearer token, or ``Unauthenticated`` (audited)."""
        header = request.headers.get("authorization", "")
        scheme, _, secret = header.partition(" ")
        if scheme.lower() != "bearer" or not secret.strip():
            exc = Unauthenticated(
                "no bearer token", hint="send 'Authorization: Bearer <token>' (qcb token create)"
            )
            self.deny(request, ANONYMOUS, exc)
            raise exc
        with self.broker.db.read() as conn:
            who = tokens.authenticate(conn, secret.strip())
        if who is None:
            exc = Unauthenticated(
                "the token is unknown, revoked or expired", hint="ask an admin for a new one"
            )
            self.deny(request, ANONYMOUS, exc)
            raise exc
        return who

    def forbid(
        self, request: Request, who: Principal, message: str, status: int = 403
    ) -> Forbidden:
        """A ``Forbidden`` for ``who``, recorded in the audit log (answered as ``status``)."""
        exc = Forbidden(message)
        self.deny(request, who.user, exc, status)
        return exc

    def job_owner(self, request: Request, who: Principal, ident: str) -> tuple[str, str, str]:
        """``(job id, proposal, owner)`` of a job or task id that ``who`` may see;
        ``NotFound`` otherwise. Someone else's job answers exactly as one that does not exist
        (nothing tells that it does); the refusal is recorded in the audit log."""
        with self.broker.db.read() as conn:
            row: Any = conn.execute(
                select(jobs.c.id, jobs.c.proposal, jobs.c.user).where(jobs.c.id == ident)
            ).first()
            if row is None:
                row = conn.execute(
                    select(jobs.c.id, jobs.c.proposal, jobs.c.user)
                    .join(tasks, tasks.c.job_id == jobs.c.id)
                    .where(tasks.c.id == ident)
                ).first()
        missing = NotFound(f"no job or task {ident!r}", hint="`qcb jobs` lists your jobs")
        if row is None:
            raise missing
        if not within_scope(who, str(row.id)):
            self.forbid(request, who, f"this token acts only within job {who.job_id}", 404)
            raise missing
        if not may_see_job(self.broker.policy.policy, who, row.proposal, row.user):
            message = f"{ident} belongs to proposal {row.proposal!r}, not yours"
            self.forbid(request, who, message, 404)
            raise missing
        return str(row.id), str(row.proposal), str(row.user)
