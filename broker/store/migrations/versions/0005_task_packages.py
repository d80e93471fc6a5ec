"""Each task records the package versions of the worker that ran it (lineage's provenance
was the versions of whichever process read the result).

Revision ID: 0005_task_packages
Revises: 0004_change_feed
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0005_task_packages"
down_revision: str | None = "0004_change_feed"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    """Add ``tasks.packages`` (a store that ``create_all`` made today has it already)."""
    present = {c["name"] for c in sa.inspect(op.get_bind()).get_columns("tasks")}
    if "packages" not in present:
        op.add_column(
            "tasks",
            sa.Column(
                "packages",
                sa.JSON(),
                nullable=True,
                comment="Package versions in the worker that ran it.",
            ),
        )


def downgrade() -> None:
    """Drop ``tasks.packages``."""
    op.drop_column("tasks", "packages")
