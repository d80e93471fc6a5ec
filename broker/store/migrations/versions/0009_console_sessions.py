"""Sessions of the web console: one row per login, keyed by the sha256 of its cookie.

Revision ID: 0009_console_sessions
Revises: 0008_ledger_totals
Create Date: 2026-12-08
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0009_console_sessions"
down_revision: str | None = "0008_ledger_totals"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    """Create ``console_sessions`` (a store that ``create_all`` made today has it already)."""
    if sa.inspect(op.get_bind()).has_table("console_sessions"):
        return
    op.create_table(
        "console_sessions",
        sa.Column("id", sa.String(64), primary_key=True, comment="sha256 of the session cookie."),
        sa.Column("token_id", sa.String(32), sa.ForeignKey("tokens.id"), nullable=False),
        sa.Column("csrf", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.Column("closed_at", sa.DateTime()),
    )
    op.create_index("ix_console_sessions_token_id", "console_sessions", ["token_id"])
    op.create_index("ix_console_sessions_expires_at", "console_sessions", ["expires_at"])


def downgrade() -> None:
    """Drop ``console_sessions``."""
    op.drop_table("console_sessions")
