"""The history of policy revisions in the store: append-only; the newest is in force."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, func, select

from broker.store.db import utcnow
from broker.store.schema import policy_revisions


@dataclass(frozen=True)
class Revision:
    """One line of the policy history."""

    id: int
    revision: str
    sha256: str
    text: str
    author: str
    reason: str
    source: str
    created_at: datetime


def _revision(row: object) -> Revision:
    return Revision(**{k: getattr(row, k) for k in Revision.__dataclass_fields__})


def latest(conn: Connection) -> Revision | None:
    """The revision in force, if any was recorded."""
    row = conn.execute(
        select(policy_revisions).order_by(policy_revisions.c.id.desc()).limit(1)
    ).one_or_none()
    return None if row is None else _revision(row)


def latest_id(conn: Connection) -> int | None:
    """The id of the revision in force (cheap: for hot reload checks)."""
    return conn.execute(select(func.max(policy_revisions.c.id))).scalar_one_or_none()


def latest_from(conn: Connection, source: str) -> Revision | None:
    """The newest revision recorded from ``source``."""
    row = conn.execute(
        select(policy_revisions)
        .where(policy_revisions.c.source == source)
        .order_by(policy_revisions.c.id.desc())
        .limit(1)
    ).one_or_none()
    return None if row is None else _revision(row)


def get(conn: Connection, revision_id: int) -> Revision | None:
    """One revision by its number in the history."""
    row = conn.execute(
        select(policy_revisions).where(policy_revisions.c.id == revision_id)
    ).one_or_none()
    return None if row is None else _revision(row)


def history(conn: Connection) -> list[Revision]:
    """Every revision, oldest first."""
    rows = conn.execute(select(policy_revisions).order_by(policy_revisions.c.id)).all()
    return [_revision(r) for r in rows]


def record(
    conn: Connection,
    *,
    revision: str,
    sha256: str,
    text: str,
    author: str,
    reason: str,
    source: str,
) -> int:
    """Append a revision; it is in force from now on. Returns its number."""
    result = conn.execute(
        policy_revisions.insert().values(
            revision=revision,
            sha256=sha256,
            text=text,
            author=author,
            reason=reason,
            source=source,
            created_at=utcnow(),
        )
    )
    key = result.inserted_primary_key
    assert key is not None
    return int(key[0])
