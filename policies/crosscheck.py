"""Checks between the sections of a policy, each problem with its path and valid choices.

Pydantic checks each field on its own; these check that the sections agree: budgets name
known backends in their units, security domains allow the backends their proposals use,
dates fall inside the policy's effective period, and awarded budgets fit the capacity.
"""

from __future__ import annotations

from collections import defaultdict
from typing import TYPE_CHECKING

from policies.types import PERIOD_DAYS

if TYPE_CHECKING:
    from policies.proposals import Proposal
    from policies.schema import Policy


def _choices(names: object) -> str:
    listed = sorted(str(n) for n in names)  # type: ignore[attr-defined]
    return ", ".join(listed) if listed else "none"


def cross_check(policy: Policy) -> list[str]:
    """Every problem between sections, in file order (empty when consistent)."""
    problems: list[str] = []
    problems += _domains(policy)
    problems += _defaults(policy)
    seen: set[str] = set()
    for i, prop in enumerate(policy.proposals):
        if prop.id in seen:
            problems.append(f"proposals[{i}].id: duplicate proposal id {prop.id!r}")
        seen.add(prop.id)
        problems += _proposal(policy, i, prop)
    problems += _checkpoints(policy)
    problems += _capacity(policy)
    return problems


def _domains(policy: Policy) -> list[str]:
    problems = []
    for name, domain in policy.security_domains.items():
        if domain.controlled and "*" in domain.backends:
            problems.append(
                f"security_domains.{name}.backends: a controlled domain must name its "
                "backends; '*' would let its work reach every backend, cloud QPUs included"
            )
        for k, backend in enumerate(domain.backends):
            if backend != "*" and backend not in policy.backends:
                problems.append(
                    f"security_domains.{name}.backends[{k}]: unknown backend {backend!r}; "
                    f"valid: *, {_choices(policy.backends)}"
                )
    return problems


def _defaults(policy: Policy) -> list[str]:
    if policy.default_qos is not None and policy.default_qos not in policy.qos:
        return [f"default_qos: unknown QOS {policy.default_qos!r}; valid: {_choices(policy.qos)}"]
    return []


def _proposal(policy: Policy, i: int, prop: Proposal) -> list[str]:
    path = f"proposals[{i}]"
    problems = []
    domain = policy.security_domains.get(prop.security_domain)
    if domain is None:
        problems.append(
            f"{path}.security_domain: unknown domain {prop.security_domain!r}; "
            f"valid: {_choices(policy.security_domains)}"
        )
    for k, qos in enumerate(prop.allowed_qos):
        if qos not in policy.qos:
            problems.append(
                f"{path}.allowed_qos[{k}]: unknown QOS {qos!r}; valid: {_choices(policy.qos)}"
            )
    programs = policy.fairshare.programs
    if programs and prop.program not in programs:
        problems.append(
            f"{path}.program: unknown program {prop.program!r}; the fairshare.programs are: "
            f"{_choices(programs)}"
        )
    eff = policy.effective
    if eff is not None:
        for field in ("start", "expires"):
            day = getattr(prop, field)
            if day is not None and not eff.from_ <= day <= eff.to:
                problems.append(
                    f"{path}.{field}: {day} is outside the policy's effective period "
                    f"({eff.from_} to {eff.to})"
                )
    seen: set[tuple[str, str, str, float | None]] = set()
    for j, budget in enumerate(prop.budgets):
        bpath = f"{path}.budgets[{j}]"
        backend = policy.backends.get(budget.backend)
        if backend is None:
            problems.append(
                f"{bpath}.backend: unknown backend {budget.backend!r}; the policy's backends "
                f"are: {_choices(policy.backends)}"
            )
            continue
        if budget.unit not in backend.units:
            problems.append(
                f"{bpath}.unit: backend {budget.backend!r} is counted in "
                f"{', '.join(backend.units)}, not {budget.unit!r}"
            )
        if domain is not None and not domain.allows(budget.backend):
            problems.append(
                f"{bpath}.backend: security domain {prop.security_domain!r} does not allow "
                f"{budget.backend!r}; it allows: {_choices(domain.backends)}"
            )
        key = (budget.backend, budget.unit, budget.period, budget.window)
        if key in seen:
            problems.append(
                f"{bpath}: a second {budget.unit} budget on {budget.backend!r} for the same "
                "period; merge them into one"
            )
        seen.add(key)
    return problems


def _checkpoints(policy: Policy) -> list[str]:
    problems = []
    eff = policy.effective
    for k, point in enumerate(policy.checkpoints):
        if eff is not None and not eff.from_ <= point.date <= eff.to:
            problems.append(
                f"checkpoints[{k}].date: {point.date} is outside the policy's effective period "
                f"({eff.from_} to {eff.to})"
            )
    return problems


def _capacity(policy: Policy) -> list[str]:
    """Budgets awarded on a backend, per day, must fit its capacity per day."""
    awarded: dict[tuple[str, str], float] = defaultdict(float)
    for prop in policy.proposals:
        for budget in prop.budgets:
            days = budget.days()
            if days > 0:
                awarded[(budget.backend, budget.unit)] += budget.amount / days
    problems = []
    for name, backend in policy.backends.items():
        for k, cap in enumerate(backend.capacity):
            path = f"backends.{name}.capacity[{k}]"
            if cap.unit not in backend.units:
                problems.append(
                    f"{path}.unit: backend {name!r} is counted in {', '.join(backend.units)}, "
                    f"not {cap.unit!r}"
                )
                continue
            if cap.period == "rolling":
                days = (cap.window or 0.0) / 86400.0
            else:
                days = PERIOD_DAYS[cap.period]
            if days <= 0:  # a window of a few seconds below float precision
                continue
            per_day = cap.amount * cap.oversubscription / days
            total = awarded.get((name, cap.unit), 0.0)
            if total > per_day * (1 + 1e-9):
                over = cap.oversubscription
                factor = f" x {over:g} oversubscription" if over > 1 else ""
                problems.append(
                    f"{path}: the proposals are awarded {total * days:g} {cap.unit} per "
                    f"{_period_text(cap.period, days)} on {name!r}, more than its capacity of "
                    f"{cap.amount:g}{factor}"
                )
    return problems


def _period_text(period: str, days: float) -> str:
    return f"{days:g} days" if period == "rolling" else period.replace("_", " ")
