"""Running totals of the ledger for admission: charges per UTC day (``ledger_days``) and
what each unreleased job holds (``ledger_open``), filled from the ledger lines already
there; and an index on the charge lines by time, for the part of a day at a rolling
window's start.

Revision ID: 0008_ledger_totals
Revises: 0007_job_dependencies
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0008_ledger_totals"
down_revision: str | None = "0007_job_dependencies"
branch_labels: str | None = None
depends_on: str | None = None

_ledger = sa.table(
    "ledger",
    sa.column("proposal", sa.String),
    sa.column("backend", sa.String),
    sa.column("unit", sa.String),
    sa.column("kind", sa.String),
    sa.column("amount", sa.Float),
    sa.column("job_id", sa.String),
    sa.column("created_at", sa.DateTime),
)


def upgrade() -> None:
    """Create the two tables and the index (a store that ``create_all`` made today has them
    already), and fill the tables from the ledger."""
    inspector = sa.inspect(op.get_bind())
    if not inspector.has_table("ledger_days"):
        days = op.create_table(
            "ledger_days",
            sa.Column("proposal", sa.String(100), primary_key=True),
            sa.Column("backend", sa.String(50), primary_key=True),
            sa.Column("unit", sa.String(30), primary_key=True),
            sa.Column("day", sa.Date(), primary_key=True),
            sa.Column("amount", sa.Float(), nullable=False),
        )
        assert days is not None
        _fill_days(days)
    if not inspector.has_table("ledger_open"):
        open_ = op.create_table(
            "ledger_open",
            sa.Column("job_id", sa.String(32), sa.ForeignKey("jobs.id"), primary_key=True),
            sa.Column("backend", sa.String(50), primary_key=True),
            sa.Column("unit", sa.String(30), primary_key=True),
            sa.Column("proposal", sa.String(100), nullable=False),
            sa.Column("rest", sa.Float(), nullable=False),
        )
        assert open_ is not None
        op.create_index("ix_ledger_open_proposal", "ledger_open", ["proposal"])
        _fill_open(open_)
    if "ix_ledger_proposal_time" not in {i["name"] for i in inspector.get_indexes("ledger")}:
        op.create_index("ix_ledger_proposal_time", "ledger", ["proposal", "created_at"])


def _fill_days(days: sa.Table) -> None:
    """Each (proposal, backend, unit, UTC day)'s charges."""
    day = sa.func.date(_ledger.c.created_at)
    keys = (_ledger.c.proposal, _ledger.c.backend, _ledger.c.unit, day)
    op.execute(
        days.insert().from_select(
            ["proposal", "backend", "unit", "day", "amount"],
            sa.select(*keys, sa.func.sum(_ledger.c.amount))
            .where(_ledger.c.kind == "charge")
            .group_by(*keys),
        )
    )


def _fill_open(open_: sa.Table) -> None:
    """Each held resource of a job with no release line: its hold less its charges."""
    kind = _ledger.c.kind
    signed = sa.case(
        (kind == "hold", _ledger.c.amount), (kind == "charge", -_ledger.c.amount), else_=0.0
    )
    keys = (_ledger.c.job_id, _ledger.c.backend, _ledger.c.unit)
    op.execute(
        open_.insert().from_select(
            ["job_id", "backend", "unit", "proposal", "rest"],
            sa.select(*keys, sa.func.max(_ledger.c.proposal), sa.func.sum(signed))
            .group_by(*keys)
            .having(sa.func.sum(sa.case((kind == "hold", 1), else_=0)) > 0)
            .having(sa.func.sum(sa.case((kind == "release", 1), else_=0)) == 0),
        )
    )


def downgrade() -> None:
    """Drop the two tables and the index."""
    op.drop_index("ix_ledger_proposal_time", "ledger")
    op.drop_table("ledger_open")
    op.drop_table("ledger_days")
