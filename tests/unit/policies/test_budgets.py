from __future__ import annotations

from datetime import date

import pytest

from policies.budgets import (
    UsageBook,
    budget_states,
    checkpoint_limit,
    epoch,
    standing,
    window,
)
from policies.loader import parse_policy

POLICY = parse_policy("""
apiVersion: qcbroker/v1
kind: Policy
metadata: {name: t}
effective: {from: 2026-01-01, to: 2027-06-30}
backends:
  slurm: {units: [node_hours]}
  ibm: {units: [qpu_seconds]}
overrun:
  bands:
    - {above_pct: 100, age_penalty: 30d}
    - {above_pct: 125, age_penalty: 365d, max_running_jobs: 3}
  hard_stop_pct: 150
checkpoints:
  - {date: 2026-05-01, if_used_below_pct: 10, remove_pct_of_unused: 30}
  - {date: 2026-11-01, if_used_below_pct: 50, remove_pct_of_unused: 25, units: [node_hours]}
proposals:
  - id: p
    pi: ada
    members: [ada]
    start: 2026-03-15
    budgets:
      - {backend: slurm, unit: node_hours, amount: 1000, enforcement: soft}
      - {backend: slurm, unit: node_hours, amount: 300, period: quarter}
      - {backend: ibm, unit: qpu_seconds, amount: 100, period: month}
      - {backend: ibm, unit: qpu_seconds, amount: 600, period: rolling, window: 28d}
""").policy
PROP = POLICY.proposals[0]
YEAR, QUARTER, MONTH, ROLLING = PROP.budgets


def at(y: int, m: int, d: int, hour: float = 0) -> float:
    return epoch(date(y, m, d)) + hour * 3600


@pytest.mark.parametrize(
    ("budget", "now", "start", "end"),
    [
        (YEAR, at(2026, 6, 1), at(2026, 3, 15), at(2027, 3, 15)),
        (YEAR, at(2027, 3, 15, 1), at(2027, 3, 15), at(2028, 3, 15)),
        (QUARTER, at(2026, 6, 30, 23), at(2026, 4, 1), at(2026, 7, 1)),
        (QUARTER, at(2026, 11, 2), at(2026, 10, 1), at(2027, 1, 1)),
        (MONTH, at(2026, 12, 31, 12), at(2026, 12, 1), at(2027, 1, 1)),
        (ROLLING, at(2026, 6, 1), at(2026, 6, 1) - 28 * 86400, at(2026, 6, 1)),
    ],
)
def test_periods(budget: object, now: float, start: float, end: float) -> None:
    assert window(POLICY, PROP, budget, now) == (start, end)  # type: ignore[arg-type]


def test_budgets_never_decay_and_count_only_their_period() -> None:
    book = UsageBook()
    book.add("p", "slurm", "node_hours", 200, at(2026, 4, 2))
    book.add("p", "slurm", "node_hours", 50, at(2026, 7, 2))
    states = budget_states(POLICY, PROP, book, {("slurm", "node_hours"): 5.0}, at(2026, 7, 3))
    year, quarter = states[0], states[1]
    assert (year.used, year.held) == (250, 5)  # the whole allocation year, undecayed
    assert (quarter.used, quarter.remaining) == (50, 245)  # only this quarter


def test_usage_book_takes_charges_out_of_order() -> None:
    book = UsageBook()
    for amount, day in ((1, 5), (2, 1), (4, 3), (8, 9)):
        book.add("p", "ibm", "qpu_seconds", amount, at(2026, 6, day))
    assert book.used("p", "ibm", "qpu_seconds") == 15
    assert book.used("p", "ibm", "qpu_seconds", at(2026, 6, 2), at(2026, 6, 9)) == 5


def test_checkpoints_remove_part_of_what_is_unused() -> None:
    book = UsageBook()
    # 5 % used by 1 May: 30 % of the 950 unused is removed -> 715
    book.add("p", "slurm", "node_hours", 50, at(2026, 4, 1))
    limit, removed = checkpoint_limit(POLICY, PROP, YEAR, book, at(2026, 6, 1))
    assert limit == pytest.approx(1000 - 0.3 * 950) and removed == pytest.approx(285)
    # before the date nothing is removed; non-annual budgets are never touched
    assert checkpoint_limit(POLICY, PROP, YEAR, book, at(2026, 4, 30))[0] == 1000
    assert checkpoint_limit(POLICY, PROP, QUARTER, book, at(2026, 6, 1))[0] == 300
    # enough use before the date keeps the award
    book.add("p", "slurm", "node_hours", 60, at(2026, 4, 20))
    assert checkpoint_limit(POLICY, PROP, YEAR, book, at(2026, 6, 1))[0] == 1000
    # the second checkpoint applies to the limit left by the first
    limit, _ = checkpoint_limit(POLICY, PROP, YEAR, book, at(2026, 12, 1))
    assert limit == pytest.approx(1000 - 0.25 * (1000 - 110))


def test_overrun_bands_and_hard_stop() -> None:
    book = UsageBook()
    now = at(2026, 6, 1)
    assert standing(POLICY, budget_states(POLICY, PROP, book, {}, now)).age_penalty == 0
    book.add("p", "slurm", "node_hours", 1100, at(2026, 4, 1))
    s = standing(POLICY, budget_states(POLICY, PROP, book, {}, now))
    assert s.age_penalty == 30 * 86400 and not s.stopped and "110 %" in s.reason
    book.add("p", "slurm", "node_hours", 200, at(2026, 4, 2))
    s = standing(POLICY, budget_states(POLICY, PROP, book, {}, now))
    assert s.age_penalty == 365 * 86400 and s.max_running_jobs == 3
    book.add("p", "slurm", "node_hours", 200, at(2026, 4, 3))
    assert standing(POLICY, budget_states(POLICY, PROP, book, {}, now)).stopped
