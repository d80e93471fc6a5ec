"""Admission: may this user run this job under this proposal, now, within its budget?

The check is pure: the caller passes the proposal's current balances (from the ledger) and
the job's estimate, and gets a decision with the reason and what remains. The budget rule is
``used + held + estimate <= limit`` for every resource the job needs.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date

from policies.schema import Policy


@dataclass(frozen=True)
class Need:
    """An estimated amount of one unit on one backend."""

    backend: str
    unit: str
    amount: float


@dataclass(frozen=True)
class Decision:
    """Admitted or not; why; and the balance per resource (limit, used, held, remaining)."""

    admitted: bool
    reason: str
    remaining: dict[tuple[str, str], float] = field(default_factory=dict)


def admit(
    policy: Policy,
    *,
    user: str,
    proposal_id: str,
    needs: list[Need],
    balances: Mapping[tuple[str, str], tuple[float, float]],
    today: date | None = None,
) -> Decision:
    """Decide admission. ``balances`` maps (backend, unit) to (used, held)."""
    today = today or date.today()
    proposal = policy.proposal(proposal_id)
    if proposal is None:
        known = ", ".join(p.id for p in policy.proposals) or "none"
        return Decision(
            False, f"unknown proposal {proposal_id!r}; proposals in the policy: {known}"
        )
    if not proposal.admits(user):
        return Decision(False, f"user {user!r} is not a member of proposal {proposal_id!r}")
    if proposal.start and today < proposal.start:
        return Decision(False, f"proposal {proposal_id!r} starts on {proposal.start}")
    if proposal.expires and today > proposal.expires:
        return Decision(False, f"proposal {proposal_id!r} expired on {proposal.expires}")
    limits = {(b.backend, b.unit): b.amount for b in proposal.budgets}
    remaining: dict[tuple[str, str], float] = {}
    for key, limit in limits.items():
        used, held = balances.get(key, (0.0, 0.0))
        remaining[key] = limit - used - held
    for need in needs:
        wanted = (need.backend, need.unit)
        if wanted not in limits:
            return Decision(
                False,
                f"proposal {proposal_id!r} has no {need.unit} budget on backend {need.backend!r}",
                remaining,
            )
        if need.amount > remaining[wanted]:
            used, held = balances.get(wanted, (0.0, 0.0))
            return Decision(
                False,
                f"proposal {proposal_id!r} has {remaining[wanted]:g} {need.unit} left on "
                f"{need.backend!r} (limit {limits[wanted]:g}, used {used:g}, held {held:g}); "
                f"this job may need up to {need.amount:g}",
                remaining,
            )
    return Decision(True, "admitted", remaining)
