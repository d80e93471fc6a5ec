"""Budgets against usage: the period each budget counts, checkpoints, and overrun standing.

Budgets never decay (unlike fair-share usage): what counts against a budget is the usage
charged inside its current period — the allocation year (from the proposal's start), the
calendar quarter or month, or a rolling window ending now — plus what running jobs hold.
Times are float epoch seconds (UTC).
"""

from __future__ import annotations

import bisect
import itertools
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Protocol

from policies.proposals import Budget, Proposal
from policies.schema import Policy


def epoch(day: date) -> float:
    """Midnight UTC at the start of ``day``, as epoch seconds."""
    return datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp()


def _day(at: float) -> date:
    return datetime.fromtimestamp(at, UTC).date()


def _add_years(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February
        return day.replace(year=day.year + years, day=28)


def allocation_year_anchor(policy: Policy, proposal: Proposal, now: float) -> date:
    """The date allocation years of a proposal count from."""
    if proposal.start is not None:
        return proposal.start
    if policy.effective is not None:
        return policy.effective.from_
    return date(_day(now).year, 1, 1)


def window(policy: Policy, proposal: Proposal, budget: Budget, now: float) -> tuple[float, float]:
    """The [start, end) of the period a budget counts at ``now``."""
    today = _day(now)
    if budget.period == "rolling":
        return now - float(budget.window or 0.0), now
    if budget.period == "month":
        start = date(today.year, today.month, 1)
        end = date(today.year + today.month // 12, today.month % 12 + 1, 1)
        return epoch(start), epoch(end)
    if budget.period == "quarter":
        first = 3 * ((today.month - 1) // 3) + 1
        start = date(today.year, first, 1)
        end = date(today.year + (first + 3 > 12), (first + 2) % 12 + 1, 1)
        return epoch(start), epoch(end)
    anchor = allocation_year_anchor(policy, proposal, now)
    years = today.year - anchor.year
    if _add_years(anchor, years) > today:
        years -= 1
    return epoch(_add_years(anchor, years)), epoch(_add_years(anchor, years + 1))


@dataclass
class _Series:
    times: list[float] = field(default_factory=list)
    sums: list[float] = field(default_factory=list)  # running totals, sums[i] = sum(<= i)

    def add(self, amount: float, at: float) -> None:
        if not self.times or at >= self.times[-1]:
            self.times.append(at)
            self.sums.append((self.sums[-1] if self.sums else 0.0) + amount)
            return
        i = bisect.bisect_right(self.times, at)
        amounts = [b - a for a, b in itertools.pairwise([0.0, *self.sums])]
        self.times.insert(i, at)
        amounts.insert(i, amount)
        self.sums = list(itertools.accumulate(amounts))

    def total(self, since: float | None, until: float | None) -> float:
        hi = len(self.times) if until is None else bisect.bisect_left(self.times, until)
        lo = 0 if since is None else bisect.bisect_left(self.times, since)
        if hi <= lo:
            return 0.0
        return self.sums[hi - 1] - (self.sums[lo - 1] if lo else 0.0)


class ChargeBook(Protocol):
    """Charged usage with times, as budgets read it: a :class:`UsageBook` in memory, or the
    store's running totals (``broker.store.ledger_totals.StoredBook``)."""

    def used(
        self,
        proposal: str,
        backend: str,
        unit: str,
        since: float | None = None,
        until: float | None = None,
    ) -> float:
        """Charges in [since, until) (all of them by default)."""
        ...


class UsageBook:
    """Charged usage in budget units, with times, per (proposal, backend, unit)."""

    def __init__(self) -> None:
        self._series: dict[tuple[str, str, str], _Series] = {}

    def add(self, proposal: str, backend: str, unit: str, amount: float, at: float) -> None:
        """Record a charge of ``amount`` at time ``at``."""
        self._series.setdefault((proposal, backend, unit), _Series()).add(amount, at)

    def used(
        self,
        proposal: str,
        backend: str,
        unit: str,
        since: float | None = None,
        until: float | None = None,
    ) -> float:
        """Charges in [since, until) (all of them by default)."""
        series = self._series.get((proposal, backend, unit))
        return 0.0 if series is None else series.total(since, until)

    def keys(self, proposal: str) -> list[tuple[str, str]]:
        """The (backend, unit) pairs a proposal was charged in."""
        return [(b, u) for (p, b, u) in self._series if p == proposal]


@dataclass(frozen=True)
class BudgetState:
    """One budget of a proposal, now: its limit after checkpoints, used in its period, held."""

    budget: Budget
    limit: float
    used: float
    held: float
    window_start: float | None
    removed: float = 0.0

    @property
    def remaining(self) -> float:
        """What admission may still hold: ``limit - used - held``."""
        return self.limit - self.used - self.held

    @property
    def used_pct(self) -> float:
        """Used, in percent of the limit (inf for a zero limit with usage)."""
        if self.limit <= 0:
            return 0.0 if self.used <= 0 else float("inf")
        return 100.0 * self.used / self.limit


def checkpoint_limit(
    policy: Policy, proposal: Proposal, budget: Budget, book: ChargeBook, now: float
) -> tuple[float, float]:
    """A budget's limit after the use-it-or-lose-it checkpoints passed so far, and how much
    they removed. Checkpoints apply to allocation-year budgets only."""
    if budget.period != "allocation_year" or not policy.checkpoints:
        return budget.amount, 0.0
    start, end = window(policy, proposal, budget, now)
    limit = budget.amount
    for point in sorted(policy.checkpoints, key=lambda p: p.date):
        at = epoch(point.date)
        if not (start <= at <= now and at < end) or not point.applies_to(budget.unit):
            continue
        used = book.used(proposal.id, budget.backend, budget.unit, start, at)
        if limit > 0 and 100.0 * used / limit < point.if_used_below_pct:
            limit -= point.remove_pct_of_unused / 100.0 * max(limit - used, 0.0)
    return limit, budget.amount - limit


def budget_states(
    policy: Policy,
    proposal: Proposal,
    book: ChargeBook,
    held: Mapping[tuple[str, str], float],
    now: float,
) -> list[BudgetState]:
    """Every budget of a proposal at ``now``."""
    states = []
    for budget in proposal.budgets:
        start, _ = window(policy, proposal, budget, now)
        limit, removed = checkpoint_limit(policy, proposal, budget, book, now)
        used = book.used(proposal.id, budget.backend, budget.unit, start, None)
        states.append(
            BudgetState(
                budget=budget,
                limit=limit,
                used=used,
                held=held.get((budget.backend, budget.unit), 0.0),
                window_start=start,
                removed=removed,
            )
        )
    return states


@dataclass(frozen=True)
class Standing:
    """Where a proposal stands against its soft budgets (the policy's overrun bands)."""

    age_penalty: float = 0.0
    max_running_jobs: int | None = None
    stopped: bool = False
    reason: str = ""


def standing(policy: Policy, states: list[BudgetState]) -> Standing:
    """The overrun band of the most overrun soft budget, or a stop above ``hard_stop_pct``."""
    soft = [s for s in states if s.budget.enforcement == "soft" and s.used_pct > 100.0]
    if not soft:
        return Standing()
    worst = max(soft, key=lambda s: s.used_pct)
    what = f"{worst.used_pct:.0f} % of its {worst.budget.unit} budget on {worst.budget.backend!r}"
    stop = policy.overrun.hard_stop_pct
    if stop is not None and worst.used_pct >= stop:
        return Standing(
            stopped=True, reason=f"has used {what}; above {stop:g} % no new work starts"
        )
    band = policy.overrun.band(worst.used_pct)
    if band is None:
        return Standing(reason=f"has used {what} (soft budget; no overrun band applies)")
    return Standing(
        age_penalty=band.age_penalty,
        max_running_jobs=band.max_running_jobs,
        reason=f"has used {what}: overrun band above {band.above_pct:g} %",
    )
