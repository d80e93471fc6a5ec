"""Admission: may this user run this job under this proposal, now, within its budgets?

The check is pure: the caller passes the charges so far (a
:class:`~policies.budgets.ChargeBook`) and what running jobs hold, and gets a decision with
the reason and what remains. For every budget a job needs, ``used + held + estimate <=
limit`` (hard budgets), or ``<= limit x hard_stop_pct`` (soft budgets, which may run into
the overrun bands). Nothing is decided anywhere else.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field

from policies.budgets import BudgetState, ChargeBook, budget_states, epoch, standing
from policies.proposals import Proposal
from policies.schema import Policy


@dataclass(frozen=True)
class Need:
    """An estimated amount of one unit on one backend."""

    backend: str
    unit: str
    amount: float


@dataclass(frozen=True)
class Decision:
    """Admitted or not; why; and what remained per (backend, unit) before this job."""

    admitted: bool
    reason: str
    remaining: dict[tuple[str, str], float] = field(default_factory=dict)


def _remaining(states: list[BudgetState]) -> dict[tuple[str, str], float]:
    out: dict[tuple[str, str], float] = {}
    for s in states:
        key = (s.budget.backend, s.budget.unit)
        out[key] = min(out.get(key, s.remaining), s.remaining)
    return out


def admit(
    policy: Policy,
    *,
    user: str,
    proposal_id: str,
    needs: list[Need],
    book: ChargeBook,
    held: Mapping[tuple[str, str], float],
    now: float,
    qos: str | None = None,
    backends: Collection[str] = (),
) -> Decision:
    """Decide admission of a job needing ``needs`` and running on ``backends``."""
    proposal = policy.proposal(proposal_id)
    if proposal is None:
        known = ", ".join(p.id for p in policy.proposals) or "none"
        return Decision(
            False, f"unknown proposal {proposal_id!r}; proposals in the policy: {known}"
        )
    if not proposal.admits(user):
        return Decision(False, f"user {user!r} is not a member of proposal {proposal_id!r}")
    refusal = _dates(policy, proposal, now) or _qos_and_backends(
        policy, proposal, qos, {*backends, *(n.backend for n in needs)}
    )
    if refusal is not None:
        return Decision(False, refusal)
    states = budget_states(policy, proposal, book, held, now)
    remaining = _remaining(states)
    stand = standing(policy, states)
    if stand.stopped:
        return Decision(False, f"proposal {proposal_id!r} {stand.reason}", remaining)
    return _check_budgets(policy, proposal_id, needs, states, remaining)


def _dates(policy: Policy, proposal: Proposal, now: float) -> str | None:
    """Why ``now`` is outside the policy's effective dates or the proposal's, or None."""
    eff = policy.effective
    if eff is not None and not epoch(eff.from_) <= now < epoch(eff.to) + 86400:
        return (
            f"policy {policy.metadata.name!r} governs {eff.from_} to {eff.to} only; "
            "ask the allocation committee for the revision in force now"
        )
    if proposal.start and now < epoch(proposal.start):
        return f"proposal {proposal.id!r} starts on {proposal.start}"
    if proposal.expires and now >= epoch(proposal.expires) + 86400:
        return f"proposal {proposal.id!r} expired on {proposal.expires}"
    return None


def _qos_and_backends(
    policy: Policy, proposal: Proposal, qos: str | None, wanted: set[str]
) -> str | None:
    """Why the proposal may not use ``qos`` or one of the ``wanted`` backends, or None."""
    allowed_qos = policy.allowed_qos(proposal)
    if qos is not None and qos not in allowed_qos:
        return f"proposal {proposal.id!r} may not use QOS {qos!r}; it may use: " + ", ".join(
            allowed_qos
        )
    usable = proposal.backends()
    for backend in sorted(wanted):
        if not policy.domain_allows(proposal, backend):
            domain = policy.security_domains.get(proposal.security_domain)
            allowed = ", ".join(domain.backends) if domain else "none"
            return (
                f"proposal {proposal.id!r} is in security domain "
                f"{proposal.security_domain!r}, which does not allow backend {backend!r}; "
                f"it allows: {allowed}"
            )
        if backend not in usable:
            return (
                f"proposal {proposal.id!r} has no budget on backend {backend!r}; it may use: "
                + (", ".join(sorted(usable)) or "none")
            )
    return None


def _check_budgets(
    policy: Policy,
    proposal_id: str,
    needs: list[Need],
    states: list[BudgetState],
    remaining: dict[tuple[str, str], float],
) -> Decision:
    totals: dict[tuple[str, str], float] = {}
    for need in needs:
        key = (need.backend, need.unit)
        totals[key] = totals.get(key, 0.0) + need.amount
    for state in states:
        key = (state.budget.backend, state.budget.unit)
        amount = totals.get(key)
        if amount is None:
            continue
        ceiling = state.limit
        stop = policy.overrun.hard_stop_pct
        if state.budget.enforcement == "soft":
            ceiling = state.limit * stop / 100.0 if stop is not None else float("inf")
        if state.used + state.held + amount > ceiling * (1 + 1e-12):
            b = state.budget
            kind = "hard" if b.enforcement == "hard" else f"soft (stop at {stop:g} %)"
            period = f"rolling {b.window / 86400:g} days" if b.window else b.period
            return Decision(
                False,
                f"proposal {proposal_id!r} has {state.remaining:g} {b.unit} left on "
                f"{b.backend!r} this {period.replace('_', ' ')} (limit {state.limit:g}, "
                f"used {state.used:g}, held {state.held:g}; {kind}); this job may need up "
                f"to {amount:g}",
                remaining,
            )
    return Decision(True, "admitted", remaining)
