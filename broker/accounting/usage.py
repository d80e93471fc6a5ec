"""What a proposal has used, holds and has left, per budget; and its burn-down over time.

``qcb usage`` and ``Client.usage()`` read this. Figures come from the ledger (charges and
holds) under the policy revision in force, with each budget's current period.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

from pydantic import BaseModel, Field
from sqlalchemy import Connection, select

from broker.core.models import UTCDateTime
from broker.errors import NotFound
from broker.store import ledger
from broker.store.schema import ledger as ledger_table
from policies.budgets import budget_states, standing, window
from policies.schema import Policy, Proposal


class BudgetUsage(BaseModel):
    """One budget of a proposal, now."""

    proposal: str
    backend: str
    unit: str
    period: str = Field(description="allocation_year, quarter, month or rolling Nd.")
    enforcement: str
    period_start: UTCDateTime | None
    period_end: UTCDateTime | None
    awarded: float
    limit: float = Field(description="The award less what checkpoints removed.")
    used: float
    held: float
    remaining: float
    used_pct: float


class ProposalUsage(BaseModel):
    """A proposal's budgets and where it stands (overrun band, stop)."""

    proposal: str
    title: str
    pi: str
    standing: str = Field(description="Empty when within every budget.")
    budgets: list[BudgetUsage]


class BurnPoint(BaseModel):
    """Cumulative usage of one budget at one time, within its current period."""

    at: UTCDateTime
    used: float


def visible_proposals(policy: Policy, user: str, proposal: str | None) -> list[Proposal]:
    """The proposals ``user`` belongs to (one of them with ``proposal``)."""
    mine = [p for p in policy.proposals if p.admits(user)]
    if proposal is None:
        return mine
    chosen = [p for p in mine if p.id == proposal]
    if not chosen:
        names = ", ".join(p.id for p in mine) or "none"
        raise NotFound(
            f"no proposal {proposal!r} of yours in the policy in force",
            hint=f"your proposals: {names}",
        )
    return chosen


def _naive(at: float | None) -> datetime | None:
    return None if at is None else datetime.fromtimestamp(at, UTC).replace(tzinfo=None)


def _period(period: str, window: float | None) -> str:
    return f"rolling {window / 86400:g}d" if window else period


def proposal_usage(
    conn: Connection, policy: Policy, proposal: Proposal, now: float | None = None
) -> ProposalUsage:
    """One proposal's budgets now."""
    now = time.time() if now is None else now
    book, held = ledger.standing_inputs(conn, proposal.id)
    states = budget_states(policy, proposal, book, held, now)
    rows = [
        BudgetUsage(
            proposal=proposal.id,
            backend=s.budget.backend,
            unit=s.budget.unit,
            period=_period(s.budget.period, s.budget.window),
            enforcement=s.budget.enforcement,
            period_start=_naive(s.window_start),
            period_end=_naive(window(policy, proposal, s.budget, now)[1]),
            awarded=s.budget.amount,
            limit=s.limit,
            used=s.used,
            held=s.held,
            remaining=s.remaining,
            used_pct=s.used_pct,
        )
        for s in states
    ]
    return ProposalUsage(
        proposal=proposal.id,
        title=proposal.title,
        pi=proposal.pi,
        standing=standing(policy, states).reason,
        budgets=rows,
    )


def burn_down(conn: Connection, usage: BudgetUsage) -> list[BurnPoint]:
    """Cumulative charges of one budget from the start of its period, one point per charge."""
    query = select(ledger_table.c.amount, ledger_table.c.created_at).where(
        ledger_table.c.kind == "charge",
        ledger_table.c.proposal == usage.proposal,
        ledger_table.c.backend == usage.backend,
        ledger_table.c.unit == usage.unit,
    )
    if usage.period_start is not None:
        query = query.where(ledger_table.c.created_at >= usage.period_start)
    total = 0.0
    points = []
    for amount, at in conn.execute(query.order_by(ledger_table.c.created_at)).all():
        total += amount
        points.append(BurnPoint(at=at, used=total))
    return points
