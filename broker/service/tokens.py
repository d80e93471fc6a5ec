"""API tokens: created and revoked by admins, stored as their sha256 only.

A token reads ``qcb_<43 url-safe characters>`` (256 random bits). It is shown once, when it
is created; the store keeps its sha256, which is enough for a secret of that entropy (a
slow password hash protects guessable secrets, not random ones).
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, select, update

from broker.errors import BrokerError, InvalidRequest, NotFound
from broker.service.access import Principal, Role
from broker.store.audit import record_audit
from broker.store.db import Database, new_id, utcnow
from broker.store.schema import tokens

PREFIX = "qcb_"


@dataclass(frozen=True)
class TokenInfo:
    """A token as admins list it (never the secret)."""

    id: str
    user: str
    role: str
    note: str
    created_by: str
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None


def digest(secret: str) -> str:
    """The stored form of a token."""
    return hashlib.sha256(secret.encode()).hexdigest()


def parse_role(role: str) -> Role:
    """A role by name, or an error that lists the valid ones."""
    try:
        chosen = Role(role)
    except ValueError:
        chosen = Role.DRIVER
    if chosen is Role.DRIVER:  # made only by the worker that starts a driver program
        valid = ", ".join(r.value for r in Role if r is not Role.DRIVER)
        raise BrokerError(f"no role {role!r}", hint=f"valid roles: {valid} (a PI is a researcher)")
    return chosen


def create(
    db: Database,
    *,
    user: str,
    role: str,
    created_by: str,
    note: str = "",
    expires_days: float | None = None,
) -> tuple[str, str]:
    """Create a token for ``user``; returns ``(token id, secret)``. The secret is not kept."""
    if not user.strip():
        raise InvalidRequest("a token needs a user name")
    chosen = parse_role(role)
    secret = PREFIX + secrets.token_urlsafe(32)
    token_id = new_id("t")
    now = utcnow()
    with db.write() as conn:
        conn.execute(
            tokens.insert().values(
                id=token_id,
                user=user,
                role=chosen.value,
                sha256=digest(secret),
                note=note,
                created_by=created_by,
                created_at=now,
                expires_at=None if expires_days is None else now + timedelta(days=expires_days),
            )
        )
        record_audit(conn, created_by, "token-create", token_id, user=user, role=chosen.value)
    return token_id, secret


def revoke(db: Database, token_id: str, *, by: str) -> None:
    """Revoke a token at once (idempotent for a revoked one; ``NotFound`` for no such id)."""
    with db.write() as conn:
        row = conn.execute(select(tokens.c.revoked_at).where(tokens.c.id == token_id)).first()
        if row is None:
            raise NotFound(f"no token {token_id!r}", hint="`qcb token list` lists them")
        if row.revoked_at is None:
            conn.execute(update(tokens).where(tokens.c.id == token_id).values(revoked_at=utcnow()))
        record_audit(conn, by, "token-revoke", token_id)


def listing(db: Database) -> list[TokenInfo]:
    """Every token, newest first."""
    with db.read() as conn:
        rows = conn.execute(select(tokens).order_by(tokens.c.created_at.desc())).all()
    return [TokenInfo(**{k: getattr(r, k) for k in TokenInfo.__dataclass_fields__}) for r in rows]


def authenticate(conn: Connection, secret: str) -> Principal | None:
    """The principal a presented token stands for; None if unknown, revoked or expired."""
    row = conn.execute(select(tokens).where(tokens.c.sha256 == digest(secret))).first()
    if row is None or row.revoked_at is not None:
        return None
    if row.expires_at is not None and row.expires_at <= utcnow():
        return None
    return Principal(user=row.user, role=Role(row.role), token_id=row.id, job_id=row.job_id)
