"""A job may be held (``qcb hold``): its pending tasks are not released until ``qcb
release``.

Revision ID: 0006_job_hold
Revises: 0005_task_packages
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0006_job_hold"
down_revision: str | None = "0005_task_packages"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    """Add ``jobs.held_by`` (a store that ``create_all`` made today has it already)."""
    present = {c["name"] for c in sa.inspect(op.get_bind()).get_columns("jobs")}
    if "held_by" not in present:
        op.add_column(
            "jobs",
            sa.Column(
                "held_by",
                sa.String(100),
                nullable=True,
                comment="Who holds the job (its pending tasks wait); null: not held.",
            ),
        )


def downgrade() -> None:
    """Drop ``jobs.held_by``."""
    op.drop_column("jobs", "held_by")
