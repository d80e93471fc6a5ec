"""Console sessions: a token presented once at login becomes a session cookie.

The cookie holds 256 random bits; the store keeps their sha256 (as for tokens), the token
the session stands for, and the session's CSRF secret, which every form and every script
request of the session sends back. A session ends at logout, at its expiry
(:data:`SESSION_HOURS` after login, never after its token's own expiry), or when its token
is revoked: each request reads the token again, so a revoked token's sessions end at once.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, delete, select, update

from broker.errors import Unauthenticated
from broker.service import tokens as token_store
from broker.service.access import Principal, Role
from broker.store.audit import record_audit
from broker.store.db import Database, utcnow
from broker.store.schema import console_sessions, tokens

SESSION_HOURS = 8.0
"""A session's longest life after login (a working day)."""

KEEP_ENDED = timedelta(days=1)
"""How long an expired session's row stays before a later login drops it."""

COOKIE = "qcb_session"
"""The session cookie's name."""


@dataclass(frozen=True)
class Session:
    """A live console session: who it acts for, and the secret its forms carry."""

    principal: Principal
    csrf: str
    expires_at: datetime


def _digest(cookie: str) -> str:
    return hashlib.sha256(cookie.encode()).hexdigest()


def login(db: Database, secret: str) -> tuple[str, Session]:
    """Open a session for the token ``secret``: ``(cookie value, session)``.
    ``Unauthenticated`` for an unknown, revoked or expired token, and for a driver token
    (it acts only within its job, not in the console)."""
    secret = secret.strip()
    with db.write() as conn:
        who = token_store.authenticate(conn, secret) if secret else None
        if who is None:
            raise Unauthenticated(
                "the token is unknown, revoked or expired", hint="ask an admin for a new one"
            )
        if who.role is Role.DRIVER:
            raise Unauthenticated(
                "a driver token acts only within its job; it cannot open the console",
                hint="log in with your own token (qcb token create)",
            )
        expiry = conn.execute(select(tokens.c.expires_at).where(tokens.c.id == who.token_id))
        token_expires = expiry.scalar_one()
        now = utcnow()
        expires = now + timedelta(hours=SESSION_HOURS)
        if token_expires is not None:
            expires = min(expires, token_expires)
        conn.execute(  # ended sessions are kept a day (for the audit), then dropped
            delete(console_sessions).where(console_sessions.c.expires_at < now - KEEP_ENDED)
        )
        cookie = secrets.token_urlsafe(32)
        csrf = secrets.token_urlsafe(32)
        conn.execute(
            console_sessions.insert().values(
                id=_digest(cookie),
                token_id=who.token_id,
                csrf=csrf,
                created_at=now,
                expires_at=expires,
            )
        )
        record_audit(conn, who.user, "console-login", who.token_id, expires=expires.isoformat())
    return cookie, Session(who, csrf, expires)


def lookup(conn: Connection, cookie: str) -> Session | None:
    """The live session of a cookie; None when there is none, or it has ended (logout,
    expiry, its token revoked or expired)."""
    if not cookie or len(cookie) > 100:
        return None
    row = conn.execute(
        select(console_sessions, tokens.c.user, tokens.c.role, tokens.c.revoked_at)
        .join(tokens, tokens.c.id == console_sessions.c.token_id)
        .where(console_sessions.c.id == _digest(cookie))
    ).first()
    now = utcnow()
    if row is None or row.closed_at is not None or row.revoked_at is not None:
        return None
    if row.expires_at <= now:
        return None
    who = Principal(user=row.user, role=Role(row.role), token_id=row.token_id)
    return Session(who, row.csrf, row.expires_at)


def logout(db: Database, cookie: str) -> None:
    """End the cookie's session (nothing happens for an unknown or ended one)."""
    with db.write() as conn:
        found = lookup(conn, cookie)
        if found is None:
            return
        conn.execute(
            update(console_sessions)
            .where(console_sessions.c.id == _digest(cookie))
            .values(closed_at=utcnow())
        )
        record_audit(conn, found.principal.user, "console-logout", found.principal.token_id)


def csrf_ok(session: Session, sent: str | None) -> bool:
    """Whether a request carries its session's CSRF secret (compared in constant time)."""
    return bool(sent) and hmac.compare_digest(session.csrf.encode(), (sent or "").encode())


__all__ = ["COOKIE", "SESSION_HOURS", "Session", "csrf_ok", "login", "logout", "lookup"]
