"""The engine's cycle: the vectorized order equals a plain per-task computation, capacity
and security domains are never exceeded, and ``explain`` says why a task waits."""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from policies.engine import Engine, PendingTasks, TaskRow
from policies.fairshare import DecayedUsage, fair_tree
from policies.priority import Factors, age_factor, qos_factor, size_factor
from policies.schema import Policy

NOW = 1_767_225_600.0
DAY = 86400.0
BACKENDS = ["aer", "ibm", "slurm", "braket"]


def make_policy(
    n: int,
    rng: random.Random,
    weights: dict[str, float] | None = None,
    domains: list[str] | None = None,
) -> Policy:
    proposals = []
    for i in range(n):
        if domains:
            domain = domains[i % len(domains)]
        else:
            domain = rng.choice(["open", "open", "controlled", "ibm-only"])
        proposals.append(
            {
                "id": f"p{i}",
                "pi": f"u{i}a",
                "members": [f"u{i}a", f"u{i}b"],
                "program": rng.choice(["g1", "g2", "g3"]),
                "security_domain": domain,
                "shares": rng.choice([1, 2, 3]),
                "committee_score": rng.choice([0.0, 0.3, 0.5, 1.0]),
                "allowed_qos": rng.choice([[], ["high", "normal"]]),
            }
        )
    return Policy.model_validate(
        {
            "apiVersion": "qcbroker/v1",
            "kind": "Policy",
            "metadata": {"name": "engine", "revision": "7"},
            "backends": {b: {"units": ["shots"]} for b in BACKENDS},
            "security_domains": {
                "open": {"backends": ["*"]},
                "controlled": {"backends": ["aer", "slurm"], "controlled": True},
                "ibm-only": {"backends": ["ibm"]},
            },
            "qos": {"normal": {}, "high": {"priority": 100}, "low": {"priority": 10}},
            "priority": {
                "weights": weights or {},
                "max_age": rng.choice([3600, "1d", "7d"]),
                "favor": rng.choice(["small", "large"]),
            },
            "fairshare": {"half_life": "1d"},
            "proposals": proposals,
        }
    )


def random_rows(n: int, rng: random.Random, proposals: int) -> list[TaskRow]:
    rows = []
    for i in range(n):
        p = rng.randrange(proposals + 1)  # p == proposals: unknown to the policy
        rows.append(
            TaskRow(
                f"t{rng.randrange(10**6):06d}-{i}",
                rng.choice(BACKENDS),
                f"p{p}",
                f"u{p}{rng.choice('ab')}",
                rng.choice([None, "normal", "high", "low", "nope"]),
                NOW - rng.choice([0.0, 60.0, 3600.0, DAY, 9 * DAY, rng.random() * 3 * DAY]),
                float(rng.choice([1, 2, 4, 8])),
                rng.random() < 0.3,
            )
        )
    return rows


def random_usage(rng: random.Random, proposals: int, records: int) -> DecayedUsage:
    usage = DecayedUsage(DAY)
    for _ in range(records):
        p = rng.randrange(proposals + 1)
        usage.add(
            rng.choice(BACKENDS),
            f"p{p}",
            f"u{p}{rng.choice('ab')}",
            rng.choice([0.0, 10.0, rng.random() * 500]),
            NOW - rng.random() * 5 * DAY,
        )
    return usage


def reference(
    policy: Policy,
    rows: list[TaskRow],
    free: dict[str, int],
    usage: DecayedUsage,
    penalties: dict[str, float],
    blocked: set[str],
) -> list[str]:
    """The order computed task by task with the scalar helpers and Python's sort."""
    fs: dict[str, dict[tuple[str, str], float]] = {}
    for b in BACKENDS:
        leaves = [(r.proposal, r.user) for r in rows if r.backend == b]
        fs[b] = fair_tree(policy, b, usage.raw(b), leaves)
    max_size = {b: max((r.size for r in rows if r.backend == b), default=0.0) for b in BACKENDS}
    keyed = []
    for r in rows:
        p = policy.proposal(r.proposal)
        if p is None or not policy.domain_allows(p, r.backend) or r.proposal in blocked:
            continue
        qos = r.qos if r.qos is not None else policy.qos_of(p, None)
        f = Factors(
            age=age_factor(NOW - r.created_at, policy.priority.max_age, penalties.get(p.id, 0)),
            fairshare=fs[r.backend][(r.proposal, r.user)],
            score=p.committee_score,
            qos=qos_factor(policy, qos),
            size=size_factor(r.size, max_size[r.backend], policy.priority.favor),
            hybrid=1.0 if r.hybrid else 0.0,
        )
        keyed.append((-f.total(policy.priority.weights), r.created_at, r.id, r.backend))
    keyed.sort()
    taken: dict[str, int] = {}
    out = []
    for _, _, tid, b in keyed:
        if taken.get(b, 0) < free.get(b, 0):
            taken[b] = taken.get(b, 0) + 1
            out.append(tid)
    return out


@pytest.mark.parametrize("seed", range(12))
def test_cycle_equals_the_task_by_task_reference(seed: int) -> None:
    rng = random.Random(seed)
    policy = make_policy(rng.randint(1, 12), rng)
    n_props = len(policy.proposals)
    rows = random_rows(rng.randint(1, 400), rng, n_props)
    usage = random_usage(rng, n_props, rng.randint(0, 60))
    free = {b: rng.randint(0, 6) for b in BACKENDS if rng.random() < 0.9}
    penalties = {f"p{i}": rng.choice([0.0, DAY, 30 * DAY]) for i in range(n_props)}
    blocked = {f"p{i}" for i in range(n_props) if rng.random() < 0.15}
    released = Engine(policy).cycle(
        PendingTasks.from_rows(rows), free, usage, NOW, penalties=penalties, blocked=blocked
    )
    want = reference(policy, rows, free, usage, penalties, blocked)
    assert [r.task_id for r in released] == want
    priorities = [r.priority for r in released]
    assert priorities == sorted(priorities, reverse=True)


def test_unknown_proposal_domain_and_blocked_never_start() -> None:
    rng = random.Random(0)
    policy = make_policy(
        3, rng, weights={"score": 0, "age": 0, "qos": 0, "size": 0}, domains=["controlled"]
    )
    controlled = policy.proposals[0].id
    rows = [
        TaskRow("ghost", "aer", "nobody", "x", None, NOW - 9 * DAY, 1.0, True),
        TaskRow("forbidden", "ibm", controlled, "y", None, NOW - 9 * DAY, 1.0, True),
        TaskRow("ok", "aer", controlled, "y", None, NOW, 1.0, False),
    ]
    engine = Engine(policy)
    free = dict.fromkeys(BACKENDS, 5)
    released = engine.cycle(PendingTasks.from_rows(rows), free, DecayedUsage(DAY), NOW)
    assert [r.task_id for r in released] == ["ok"]
    released = engine.cycle(
        PendingTasks.from_rows(rows), free, DecayedUsage(DAY), NOW, blocked={controlled}
    )
    assert released == []


def test_free_capacity_per_backend_and_missing_backends_get_nothing() -> None:
    policy = make_policy(2, random.Random(1), domains=["open"])
    rows = [
        TaskRow(f"t{i}", b, "p0", "u0a", None, NOW - i, 1.0, False)
        for i in range(5)
        for b in ("aer", "ibm")
    ]
    released = Engine(policy).cycle(
        PendingTasks.from_rows(rows), {"aer": 2}, DecayedUsage(DAY), NOW
    )
    assert [r.task_id for r in released] == ["t4", "t3"]
    assert {r.backend for r in released} == {"aer"}
    assert Engine(policy).cycle(PendingTasks.empty(), {"aer": 2}, DecayedUsage(DAY), NOW) == []


@dataclass
class Obj:
    id: str
    backend: str
    proposal: str
    user: str
    qos: str | None
    created_at: float
    size: float
    hybrid: bool


def test_pending_tasks_from_tuples_named_tuples_and_objects() -> None:
    plain = [
        ("a", "aer", "p0", "u", None, NOW, 2, True),
        ("b", "ibm", "p1", "v", "high", NOW - 1, 1, False),
    ]
    for rows in (plain, [TaskRow(*r) for r in plain], [Obj(*r) for r in plain]):  # type: ignore[arg-type]
        pending = PendingTasks.from_rows(rows)
        assert len(pending) == 2
        assert pending.row(1) == TaskRow("b", "ibm", "p1", "v", "high", NOW - 1, 1.0, False)
        assert pending.index("a") == 0
    with pytest.raises(ValueError, match="8 fields"):
        PendingTasks.from_rows([("a", "aer")])
    with pytest.raises(ValueError, match="finite"):
        PendingTasks.from_rows([("a", "aer", "p", "u", None, float("nan"), 1.0, False)])
    assert len(PendingTasks.from_rows([])) == 0


def test_explain_gives_factors_rank_and_why_it_waits() -> None:
    policy = make_policy(3, random.Random(2), domains=["open", "controlled"])
    open_, controlled = policy.proposals[0], policy.proposals[1]
    rows = [
        TaskRow(f"t{i}", "aer", open_.id, open_.members[0], None, NOW - 100 * i, 1.0, False)
        for i in range(15)
    ]
    rows += [
        TaskRow("bad", "ibm", controlled.id, controlled.members[0], None, NOW, 1.0, False),
        TaskRow("ghost", "aer", "nobody", "x", None, NOW, 1.0, False),
    ]
    pending = PendingTasks.from_rows(rows)
    engine = Engine(policy, revision="engine@7+abc")
    usage = DecayedUsage(DAY)
    e = engine.explain("t0", pending, usage, NOW, free={"aer": 0}, capacity={"aer": 4})
    assert e.rank == 15 and e.competing == 15 and not e.releasable
    assert e.reasons == ["backend 'aer' is full (capacity 4); 14 tasks ahead"]
    assert sum(c for *_, c in e.rows()) == pytest.approx(e.priority)
    assert "priority" in e.format() and "rank 15 of 15" in e.format()
    e = engine.explain("t14", pending, usage, NOW, free={"aer": 2})
    assert e.rank == 1 and e.releasable and e.reasons == []
    e = engine.explain("t5", pending, usage, NOW, free={"aer": 2})
    assert e.reasons == ["backend 'aer' has 2 free slots; 9 tasks ahead"]
    e = engine.explain("bad", pending, usage, NOW, free={"ibm": 3})
    assert e.rank is None
    assert e.reasons == ["security domain 'controlled' does not allow backend 'ibm'"]
    e = engine.explain("ghost", pending, usage, NOW)
    assert e.reasons == ["proposal 'nobody' is unknown to policy revision engine@7+abc"]
    e = engine.explain(
        "t3",
        pending,
        usage,
        NOW,
        blocked={open_.id: "has used 160 % of its shots budget"},
        penalties={open_.id: 30 * DAY},
    )
    assert e.reasons == [f"proposal {open_.id!r} is blocked: has used 160 % of its shots budget"]
    assert e.notes == [f"proposal {open_.id!r} is in an overrun band: its tasks look 30d younger"]
    extra = TaskRow("new", "aer", open_.id, open_.members[0], None, NOW, 1.0, False)
    # as old as t0: the id decides ("new" < "t0"), so it comes 15th of 16
    assert engine.explain(extra, pending, usage, NOW, free={"aer": 1}).rank == 15
    with pytest.raises(KeyError):
        engine.explain("missing", pending, usage, NOW)


@st.composite
def scenarios(draw: Any) -> tuple[Policy, list[TaskRow], dict[str, int], DecayedUsage, set[str]]:
    seed = draw(st.integers(0, 2**32 - 1))
    rng = random.Random(seed)
    weights = {
        k: draw(st.sampled_from([0, 1, 1000, 10**6]))
        for k in ("age", "fairshare", "score", "qos", "size", "hybrid")
    }
    policy = make_policy(draw(st.integers(1, 8)), rng, weights)
    n_props = len(policy.proposals)
    rows = random_rows(draw(st.integers(0, 120)), rng, n_props)
    free = {b: draw(st.integers(0, 8)) for b in draw(st.sets(st.sampled_from(BACKENDS)))}
    blocked = {f"p{i}" for i in range(n_props) if draw(st.booleans())}
    return policy, rows, free, random_usage(rng, n_props, draw(st.integers(0, 40))), blocked


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios())
def test_domains_blocks_and_capacity_hold_whatever_the_priorities(
    scenario: tuple[Policy, list[TaskRow], dict[str, int], DecayedUsage, set[str]],
) -> None:
    policy, rows, free, usage, blocked = scenario
    released = Engine(policy).cycle(PendingTasks.from_rows(rows), free, usage, NOW, blocked=blocked)
    per_backend: dict[str, int] = {}
    for r in released:
        proposal = policy.proposal(r.proposal)
        assert proposal is not None
        assert policy.domain_allows(proposal, r.backend)
        assert r.proposal not in blocked
        per_backend[r.backend] = per_backend.get(r.backend, 0) + 1
    for b, n in per_backend.items():
        assert n <= free.get(b, 0)
    # and as many as allowed: every backend is filled up to its free slots when it can be
    for b in BACKENDS:
        eligible = [
            r
            for r in rows
            if r.backend == b
            and (p := policy.proposal(r.proposal)) is not None
            and policy.domain_allows(p, b)
            and r.proposal not in blocked
        ]
        assert per_backend.get(b, 0) == min(len(eligible), free.get(b, 0))


@pytest.mark.parametrize("seed", range(12))
def test_a_user_waiting_under_several_proposals_gets_each_ones_factor(seed: int) -> None:
    """Users shared between proposals (the engine's general path, not the one-proposal-
    per-user shortcut): each task's fair share is its own (proposal, user)'s."""
    rng = random.Random(seed)
    policy = make_policy(6, rng)
    users = ["ann", "bob", *(f"u{i}a" for i in range(6))]
    rows = [
        TaskRow(f"t{i}", rng.choice(BACKENDS), f"p{rng.randrange(7)}", rng.choice(users),
                None, NOW - rng.random() * DAY)
        for i in range(150)
    ]  # fmt: skip
    usage = random_usage(rng, 6, 40)
    for _ in range(20):
        usage.add(rng.choice(BACKENDS), f"p{rng.randrange(6)}", rng.choice(["ann", "bob"]),
                  rng.random() * 100, NOW - rng.random() * DAY)  # fmt: skip
    pending = PendingTasks.from_rows(rows)
    scored = Engine(policy).score(pending, usage, NOW)
    trees = {
        b: fair_tree(
            policy, b, usage.raw(b), [(r.proposal, r.user) for r in rows if r.backend == b]
        )
        for b in BACKENDS
    }
    shared = {(r.proposal, r.user) for r in rows if r.user in ("ann", "bob")}
    assert len({p for p, _ in shared}) > 1  # the case holds shared users
    for i, r in enumerate(rows):
        expected = trees[r.backend].get((r.proposal, r.user), 0.0)
        assert scored.fairshare[i] == pytest.approx(expected, abs=1e-12), r


def test_columns_of_different_lengths_are_refused() -> None:
    with pytest.raises(ValueError, match="of one length"):
        PendingTasks.from_columns(
            ["t1", "t2"], ["aer"], ["p"], ["u"], [None], [0.0], [1.0], [False]
        )
