"""The audit log: who did what to which object, appended in the caller's transaction."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection

from broker.store.db import utcnow
from broker.store.schema import audit


def record_audit(conn: Connection, actor: str, action: str, object_id: str, **detail: Any) -> None:
    """Append one line to the audit log."""
    conn.execute(
        audit.insert().values(
            at=utcnow(), actor=actor, action=action, object_id=object_id, detail=detail
        )
    )
