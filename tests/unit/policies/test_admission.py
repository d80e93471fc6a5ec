from __future__ import annotations

from datetime import date

from policies.admission import Need, admit
from policies.loader import parse_policy

POLICY = parse_policy("""
apiVersion: qcbroker/v1
kind: Policy
metadata: {name: t}
backends:
  aer: {units: [evaluations, shots]}
proposals:
  - id: chem
    pi: ada
    members: [ada, bob]
    start: 2026-01-01
    expires: 2026-12-31
    budgets:
      - {backend: aer, unit: evaluations, amount: 1000}
""").policy

TODAY = date(2026, 6, 1)


def decide(user: str = "bob", proposal: str = "chem", amount: float = 100, **kw: object):
    balances = kw.pop("balances", {})
    return admit(
        POLICY,
        user=user,
        proposal_id=proposal,
        needs=[Need("aer", str(kw.pop("unit", "evaluations")), amount)],
        balances=balances,  # type: ignore[arg-type]
        today=kw.pop("today", TODAY),  # type: ignore[arg-type]
    )


def test_member_within_budget_is_admitted() -> None:
    d = decide()
    assert d.admitted
    assert d.remaining[("aer", "evaluations")] == 1000


def test_unknown_proposal_lists_the_known_ones() -> None:
    d = decide(proposal="physics")
    assert not d.admitted and "'physics'" in d.reason and "chem" in d.reason


def test_non_member_is_refused() -> None:
    d = decide(user="mallory")
    assert not d.admitted and "not a member" in d.reason


def test_budget_counts_used_and_held() -> None:
    balances = {("aer", "evaluations"): (600.0, 300.0)}
    assert decide(amount=100, balances=balances).admitted  # 600 + 300 + 100 <= 1000
    d = decide(amount=101, balances=balances)
    assert not d.admitted
    assert "100 evaluations left" in d.reason and "used 600" in d.reason and "held 300" in d.reason


def test_unit_without_budget_is_refused() -> None:
    d = decide(unit="shots")
    assert not d.admitted and "no shots budget" in d.reason


def test_dates_are_enforced() -> None:
    assert "expired" in decide(today=date(2027, 1, 1)).reason
    assert "starts" in decide(today=date(2025, 12, 1)).reason
