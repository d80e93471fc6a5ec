"""A job may wait for others (``dependency: afterok:ID``): one row per dependency not yet
met.

Revision ID: 0007_job_dependencies
Revises: 0006_job_hold
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0007_job_dependencies"
down_revision: str | None = "0006_job_hold"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    """Create ``job_dependencies`` (a store that ``create_all`` made today has it already)."""
    if sa.inspect(op.get_bind()).has_table("job_dependencies"):
        return
    op.create_table(
        "job_dependencies",
        sa.Column("job_id", sa.String(32), sa.ForeignKey("jobs.id"), primary_key=True),
        sa.Column("after_job", sa.String(32), primary_key=True),
        sa.Column("condition", sa.String(16), primary_key=True),
    )
    op.create_index("ix_job_dependencies_after_job", "job_dependencies", ["after_job"])


def downgrade() -> None:
    """Drop ``job_dependencies``."""
    op.drop_table("job_dependencies")
