"""Decayed usage and the Fair Tree, and the simulator's incremental tree against it."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest

from policies.fairshare import DecayedUsage, FairTree, accrued, decay, fair_tree
from policies.livetree import LiveTree
from policies.schema import Policy
from policies.synthetic import Shape, synthetic_policy

H = 3600.0


def policy(*proposals: dict[str, object], programs: dict[str, float] | None = None) -> Policy:
    return Policy.model_validate(
        {
            "apiVersion": "qcbroker/v1",
            "kind": "Policy",
            "metadata": {"name": "fs"},
            "backends": {"qpu": {"units": ["qpu_seconds"]}},
            "fairshare": {"half_life": H, "programs": programs or {}},
            "proposals": [{"pi": "x", "members": ["*"], **p} for p in proposals],
        }
    )


def test_decay_halves_usage_every_half_life() -> None:
    assert decay(100.0, H, H) == 50.0
    assert decay(100.0, 3 * H, H) == 12.5
    assert decay(100.0, 0.0, H) == 100.0
    assert decay(8.0, 0.5 * H, H) == pytest.approx(8.0 / math.sqrt(2))


def test_decayed_usage_adds_and_decays_lazily() -> None:
    u = DecayedUsage(H)
    u.add("qpu", "A", "ada", 100.0, at=1000.0)
    u.add("qpu", "A", "ada", 50.0, at=1000.0 + H)
    assert u.value("qpu", "A", "ada", 1000.0 + H) == pytest.approx(100.0)
    assert u.value("qpu", "A", "ada", 1000.0 + 2 * H) == pytest.approx(50.0)
    assert u.value("qpu", "A", "bob", 1000.0) == 0.0
    assert u.value("ibm", "A", "ada", 1000.0) == 0.0
    u.add("qpu", "B", "bob", 0.0, at=2000.0)
    assert u.leaves("qpu", 1000.0 + H) == {
        ("A", "ada"): pytest.approx(100.0),
        ("B", "bob"): 0.0,
    }
    with pytest.raises(ValueError):
        u.add("qpu", "A", "ada", -1.0, at=0.0)


def test_raw_values_keep_ratios_and_survive_a_rebase() -> None:
    u = DecayedUsage(H)
    u.add("qpu", "A", "ada", 30.0, at=0.0)
    u.add("qpu", "B", "bob", 10.0, at=0.0)
    raw = u.raw("qpu")
    assert raw[("A", "ada")] / raw[("B", "bob")] == 3.0
    u.add("qpu", "C", "cy", 1.0, at=300 * H)  # far past 256 half-lives: reference moves
    assert u.rebases == 1
    raw = u.raw("qpu")
    assert raw[("A", "ada")] / raw[("B", "bob")] == 3.0
    assert u.value("qpu", "C", "cy", 301 * H) == pytest.approx(0.5)
    assert u.value("qpu", "A", "ada", 2 * H) == pytest.approx(7.5)


def test_a_run_accrues_usage_as_slurm_adds_it_each_period() -> None:
    day = 86400.0
    # the figures: one node for 14 days, half-life 7 days
    assert accrued(7 * day, 1.0, 7 * day) / day == pytest.approx(5.05, abs=0.005)
    assert accrued(14 * day, 1.0, 7 * day) / day == pytest.approx(7.57, abs=0.005)
    # Slurm's way, one five-minute period at a time, decayed as it goes: the same number
    period, total = 300.0, 0.0
    for _ in range(int(14 * day / period)):
        total = decay(total, period, 7 * day) + period * decay(1.0, period / 2, 7 * day)
    assert total == pytest.approx(accrued(14 * day, 1.0, 7 * day), rel=1e-6)
    assert accrued(4 * 10.0, 4.0, 7 * day) == pytest.approx(40.0, rel=1e-5)  # short: as is
    assert accrued(0.0, 1.0, day) == 0.0


def test_usage_plus_running_tasks_leaves_the_persisted_usage_alone() -> None:
    u = DecayedUsage(H)
    u.add("qpu", "A", "ada", 10.0, at=0.0)
    cycle = u.plus([("qpu", "A", "ada", 5.0), ("hpc", "B", "bo", 1.0)], at=0.0)
    assert cycle.value("qpu", "A", "ada", 0.0) == 15.0 and cycle.value("hpc", "B", "bo", 0.0) == 1.0
    assert u.value("qpu", "A", "ada", 0.0) == 10.0 and u.backends() == ["qpu"]
    far = u.plus([("qpu", "A", "ada", 1.0)], at=300 * H)  # the copy moves its reference
    assert far.rebases == 1 and u.rebases == 0
    assert u.value("qpu", "A", "ada", 0.0) == 10.0


def test_level_fair_share_orders_siblings_and_whole_subtrees() -> None:
    p = policy(
        {"id": "a1", "program": "A", "shares": 1},
        {"id": "a2", "program": "A", "shares": 1},
        {"id": "b1", "program": "B", "shares": 1},
        programs={"A": 1, "B": 1},
    )
    usage = {("a1", "u"): 10.0, ("a2", "u"): 1.0, ("b1", "u"): 100.0, ("b1", "v"): 0.0}
    f = fair_tree(p, "qpu", usage, [])
    # program A used 11, B 100: every leaf of A outranks every leaf of B, even b1/v
    # that never used anything (LF = inf at the user level).
    assert f[("a2", "u")] > f[("a1", "u")] > f[("b1", "v")] > f[("b1", "u")]
    assert f == {("a2", "u"): 1.0, ("a1", "u"): 0.75, ("b1", "v"): 0.5, ("b1", "u"): 0.25}


def test_shares_weigh_level_fair_share() -> None:
    p = policy({"id": "big", "shares": 3}, {"id": "small", "shares": 1})
    # LF(big) = 0.75 / 0.6, LF(small) = 0.25 / 0.4: big is under-served
    f = fair_tree(p, "qpu", {("big", "u"): 60.0, ("small", "u"): 40.0}, [])
    assert f[("big", "u")] > f[("small", "u")]
    f = fair_tree(p, "qpu", {("big", "u"): 80.0, ("small", "u"): 20.0}, [])
    assert f[("big", "u")] < f[("small", "u")]


def test_tied_users_and_proposals_share_a_rank_and_unknown_proposals_get_zero() -> None:
    p = policy({"id": "b"}, {"id": "a"})
    f = fair_tree(p, "qpu", {}, [("b", "z"), ("a", "y"), ("a", "x"), ("ghost", "g")])
    assert f == {("b", "z"): 1.0, ("a", "y"): 1.0, ("a", "x"): 1.0, ("ghost", "g"): 0.0}
    # a used something: b's users, still at no usage, all keep rank N
    f = fair_tree(p, "qpu", {("a", "x"): 5.0}, [("b", "z"), ("b", "w"), ("a", "y")])
    assert f == {("b", "w"): 1.0, ("b", "z"): 1.0, ("a", "y"): 0.5, ("a", "x"): 0.25}


def test_n_counts_every_member_of_the_proposals_on_the_backend() -> None:
    budget = [{"backend": "qpu", "unit": "qpu_seconds", "amount": 100}]
    p = policy(
        {"id": "a", "pi": "ann", "members": ["ann", "al"], "budgets": budget},
        {"id": "b", "pi": "bo", "members": ["bo", "bea", "bix"], "budgets": budget},
    )
    f = fair_tree(p, "qpu", {("a", "ann"): 10.0, ("b", "bo"): 10.0}, [])
    # five users in N whatever is pending; a and b tie (equal usage and shares), so their
    # users are ranked together: those who used nothing, then ann (half of a's usage
    # on a third of... a half of a's shares) before bo (a third of b's shares)
    assert len(f) == 5
    assert f[("a", "al")] == f[("b", "bea")] == f[("b", "bix")] == 1.0
    assert f[("a", "ann")] == 0.4 and f[("b", "bo")] == 0.2
    # another user's new pending task changes nobody's factor
    assert fair_tree(p, "qpu", {("a", "ann"): 10.0, ("b", "bo"): 10.0}, [("b", "bea")]) == f


def test_zero_shares_run_last_whatever_their_usage() -> None:
    p = policy({"id": "free", "shares": 0}, {"id": "paid", "shares": 1})
    f = fair_tree(p, "qpu", {("paid", "u"): 1e9, ("free", "v"): 0.0}, [])
    assert f == {("paid", "u"): 1.0, ("free", "v"): 0.5}
    q = policy({"id": "x", "program": "spare"}, {"id": "y"}, programs={"spare": 0})
    g = fair_tree(q, "qpu", {("y", "u"): 50.0}, [("x", "v")])
    assert g == {("y", "u"): 1.0, ("x", "v"): 0.5}


def test_programs_not_listed_get_one_share() -> None:
    p = policy(
        {"id": "a", "program": "listed"},
        {"id": "b", "program": "other"},
        programs={"listed": 3, "other": 1},
    )
    tree = FairTree(p)
    assert dict(zip(tree.programs, tree.program_shares.tolist(), strict=True)) == {
        "listed": 3.0,
        "other": 1.0,
    }
    q = policy({"id": "a", "program": "x"}, {"id": "b", "program": "y"})
    assert FairTree(q).program_shares.tolist() == [1.0, 1.0]


def test_path_reports_shares_usage_and_level_fair_share() -> None:
    p = policy({"id": "a", "shares": 3}, {"id": "b", "shares": 1})
    levels = FairTree(p).path("qpu", {("a", "u"): 10.0, ("b", "v"): 30.0}, [], ("a", "u"))
    proposal = levels[1]
    assert (proposal.level, proposal.name) == ("proposal", "a")
    assert proposal.shares == 0.75 and proposal.usage == 0.25
    assert proposal.level_fs == 3.0


def test_a_thousand_proposals_of_three_users() -> None:
    p = synthetic_policy(Shape(proposals=1000, users=3))
    rng = random.Random(3)
    usage = {(f"P{i:04d}", f"u{i}-{k}"): rng.random() for i in range(1000) for k in range(3)}
    f = fair_tree(p, "qpu", usage, [])
    assert len(f) == 3000
    assert sorted(f.values()) == [(3000 - i) / 3000 for i in range(3000)][::-1]


def test_live_tree_gives_the_fair_tree_ranks_after_any_changes() -> None:
    tree = FairTree(synthetic_policy(Shape(proposals=120, programs=3)))
    for seed in range(3):
        rng = random.Random(seed)
        live = LiveTree(tree)
        usage: dict[tuple[int, str], float] = {}
        members: set[tuple[int, str]] = set()
        keys = [(p, f"u{p}-{k}") for p in range(120) for k in range(3)]
        for step in range(1500):
            p, u = rng.choice(keys)
            leaf = live.leaf(p, u)
            r = rng.random()
            if r < 0.5:
                usage[(p, u)] = usage.get((p, u), 0.0) + rng.choice([0.0, 1.0, 40 * rng.random()])
                live.update(leaf, usage[(p, u)])
                members.add((p, u))
            elif r < 0.75:
                live.insert(leaf)
                members.add((p, u))
            elif (p, u) in members and usage.get((p, u), 0.0) == 0.0:
                live.remove(leaf)
                members.discard((p, u))
            if step % 50 or not members:
                continue
            expected = tree.factors(
                "nowhere", {(tree.ids[p], u): usage.get((p, u), 0.0) for p, u in members}, []
            )
            listed = sorted(members)
            leaves = [live.leaf(p, u) for p, u in listed]
            scalar = live.factor_list(leaves)
            vector = live.factors(np.array(leaves)).tolist()
            want = [expected[(tree.ids[p], u)] for p, u in listed]
            assert scalar == want
            assert vector == want
