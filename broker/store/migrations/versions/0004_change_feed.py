"""A change feed: PostgreSQL notifies channel ``qcb_jobs`` with a job's id whenever the job
or one of its tasks changes (the API's event streams listen instead of polling).

Revision ID: 0004_change_feed
Revises: 0003_driver
Create Date: 2026-12-06
"""

from __future__ import annotations

from alembic import op

revision: str = "0004_change_feed"
down_revision: str | None = "0003_driver"
branch_labels: str | None = None
depends_on: str | None = None

CHANNEL = "qcb_jobs"

_FUNCTION = f"""
CREATE OR REPLACE FUNCTION qcb_notify_job() RETURNS trigger AS $$
BEGIN
    IF TG_TABLE_NAME = 'jobs' THEN
        PERFORM pg_notify('{CHANNEL}', NEW.id);
    ELSE
        PERFORM pg_notify('{CHANNEL}', NEW.job_id);
    END IF;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql
"""


def upgrade() -> None:
    """Add the notifying function and its triggers (PostgreSQL only: SQLite stores are
    watched by polling, see ``broker.api.feed``)."""
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(_FUNCTION)
    for table in ("jobs", "tasks"):
        op.execute(
            f"CREATE TRIGGER qcb_notify_{table} AFTER INSERT OR UPDATE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION qcb_notify_job()"
        )


def downgrade() -> None:
    """Drop the triggers and the function."""
    if op.get_bind().dialect.name != "postgresql":
        return
    for table in ("jobs", "tasks"):
        op.execute(f"DROP TRIGGER IF EXISTS qcb_notify_{table} ON {table}")
    op.execute("DROP FUNCTION IF EXISTS qcb_notify_job()")
