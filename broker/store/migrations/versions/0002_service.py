"""Service mode: API tokens, and the submitter's idempotency key on jobs.

Revision ID: 0002_service
Revises: 0001_initial
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0002_service"
down_revision: str | None = "0001_initial"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    """Add table ``tokens`` and column ``jobs.client_key`` (unique per user)."""
    op.create_table(
        "tokens",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("user", sa.String(length=100), nullable=False),
        sa.Column("role", sa.String(length=20), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("created_by", sa.String(length=100), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=True),
        sa.Column("revoked_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("sha256"),
    )
    op.create_index("ix_tokens_user", "tokens", ["user"])
    op.add_column(
        "jobs",
        sa.Column(
            "client_key",
            sa.String(length=100),
            nullable=True,
            comment="The submitter's idempotency key: a retried submission returns the same job.",
        ),
    )
    op.create_index("uq_job_client_key", "jobs", ["user", "client_key"], unique=True)


def downgrade() -> None:
    """Drop ``jobs.client_key`` and ``tokens``."""
    op.drop_index("uq_job_client_key", table_name="jobs")
    # SQLite (3.35 and later) drops a column in place once no index names it.
    op.drop_column("jobs", "client_key")
    op.drop_index("ix_tokens_user", table_name="tokens")
    op.drop_table("tokens")
