from __future__ import annotations

from datetime import date

from policies.admission import Decision, Need, admit
from policies.budgets import UsageBook, epoch
from policies.loader import parse_policy

POLICY = parse_policy("""
apiVersion: qcbroker/v1
kind: Policy
metadata: {name: t}
backends:
  aer: {units: [evaluations, shots]}
  ibm: {units: [qpu_seconds]}
  slurm: {units: [node_hours]}
security_domains:
  open: {backends: ["*"]}
  controlled: {backends: [aer, slurm], controlled: true}
qos:
  normal: {}
  premium: {priority: 100, usage_factor: 2}
overrun:
  bands:
    - {above_pct: 100, age_penalty: 30d}
    - {above_pct: 125, age_penalty: 365d, max_running_jobs: 3}
  hard_stop_pct: 150
proposals:
  - id: chem
    pi: ada
    members: [ada, bob]
    start: 2026-01-01
    expires: 2026-12-31
    budgets:
      - {backend: aer, unit: evaluations, amount: 1000}
      - {backend: ibm, unit: qpu_seconds, amount: 600, period: rolling, window: 28d}
      - {backend: slurm, unit: node_hours, amount: 100, enforcement: soft}
  - id: secret
    pi: eve
    members: [eve]
    security_domain: controlled
    allowed_qos: [normal]
    budgets:
      - {backend: aer, unit: evaluations, amount: 1000}
""").policy

NOW = epoch(date(2026, 6, 1))


def decide(
    user: str = "bob",
    proposal: str = "chem",
    amount: float = 100,
    *,
    backend: str = "aer",
    unit: str = "evaluations",
    book: UsageBook | None = None,
    held: dict[tuple[str, str], float] | None = None,
    now: float = NOW,
    qos: str | None = None,
) -> Decision:
    return admit(
        POLICY,
        user=user,
        proposal_id=proposal,
        needs=[Need(backend, unit, amount)],
        book=book or UsageBook(),
        held=held or {},
        now=now,
        qos=qos,
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
    book = UsageBook()
    book.add("chem", "aer", "evaluations", 600, NOW - 86400)
    held = {("aer", "evaluations"): 300.0}
    assert decide(amount=100, book=book, held=held).admitted  # 600 + 300 + 100 <= 1000
    d = decide(amount=101, book=book, held=held)
    assert not d.admitted
    assert "100 evaluations left" in d.reason and "used 600" in d.reason and "held 300" in d.reason
    assert d.remaining[("aer", "evaluations")] == 100


def test_a_unit_without_a_budget_is_not_limited_but_a_backend_without_one_is_refused() -> None:
    assert decide(unit="shots", amount=1e12).admitted
    d = decide(backend="braket")
    assert not d.admitted and "no budget on backend 'braket'" in d.reason and "aer" in d.reason


def test_dates_are_enforced() -> None:
    assert "expired" in decide(now=epoch(date(2027, 1, 1))).reason
    assert "starts" in decide(now=epoch(date(2025, 12, 1))).reason
    assert decide(now=epoch(date(2026, 12, 31)) + 3600).admitted


def test_a_rolling_window_forgets_old_usage() -> None:
    book = UsageBook()
    book.add("chem", "ibm", "qpu_seconds", 550, NOW - 29 * 86400)
    assert decide(backend="ibm", unit="qpu_seconds", amount=500, book=book).admitted
    book.add("chem", "ibm", "qpu_seconds", 200, NOW - 27 * 86400)
    d = decide(backend="ibm", unit="qpu_seconds", amount=500, book=book)
    assert not d.admitted and "rolling 28 days" in d.reason and "400 qpu_seconds left" in d.reason


def test_a_soft_budget_admits_past_its_limit_until_the_hard_stop() -> None:
    book = UsageBook()
    book.add("chem", "slurm", "node_hours", 120, NOW - 86400)
    assert decide(backend="slurm", unit="node_hours", amount=20, book=book).admitted
    d = decide(backend="slurm", unit="node_hours", amount=40, book=book)  # 160 > 150
    assert not d.admitted and "soft (stop at 150 %)" in d.reason
    book.add("chem", "slurm", "node_hours", 30, NOW - 3600)  # 150 %: stopped
    d = decide(backend="aer", book=book)
    assert not d.admitted and "above 150 % no new work starts" in d.reason


def test_the_security_domain_limits_backends() -> None:
    d = decide(user="eve", proposal="secret", backend="ibm")
    assert not d.admitted and "security domain 'controlled'" in d.reason
    assert "aer, slurm" in d.reason
    assert decide(user="eve", proposal="secret").admitted


def test_qos_must_be_allowed() -> None:
    assert decide(user="eve", proposal="secret", qos="normal").admitted
    d = decide(user="eve", proposal="secret", qos="premium")
    assert not d.admitted and "may not use QOS 'premium'" in d.reason and "normal" in d.reason
    # a proposal that lists no QOS may use only the default level
    assert not decide(qos="premium").admitted and decide(qos="normal").admitted
