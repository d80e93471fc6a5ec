"""Driver programs: a token may be scoped to one job.

Revision ID: 0003_driver
Revises: 0002_service
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0003_driver"
down_revision: str | None = "0002_service"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    """Add column ``tokens.job_id`` (indexed)."""
    op.add_column(
        "tokens",
        sa.Column(
            "job_id",
            sa.String(length=32),
            nullable=True,
            comment="A driver token acts only within this job.",
        ),
    )
    op.create_index("ix_tokens_job_id", "tokens", ["job_id"])


def downgrade() -> None:
    """Drop ``tokens.job_id``."""
    op.drop_index("ix_tokens_job_id", table_name="tokens")
    op.drop_column("tokens", "job_id")
