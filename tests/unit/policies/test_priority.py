"""Multifactor priority: P = sum w_i f_i, each factor in [0, 1], and what moves a task."""

from __future__ import annotations

import numpy as np
import pytest

from policies.engine import Engine, PendingTasks, TaskRow
from policies.fairshare import DecayedUsage
from policies.priority import (
    Factors,
    age_factor,
    age_factors,
    hybrid_factor,
    qos_factor,
    size_factor,
    size_factors,
)
from policies.schema import Policy
from policies.sections import Weights

NOW = 1_767_225_600.0
DAY = 86400.0


def policy(weights: dict[str, float] | None = None, **extra: object) -> Policy:
    return Policy.model_validate(
        {
            "apiVersion": "qcbroker/v1",
            "kind": "Policy",
            "metadata": {"name": "prio"},
            "backends": {"qpu": {"units": ["qpu_seconds"]}},
            "qos": {"low": {}, "normal": {"priority": 50}, "high": {"priority": 200}},
            "priority": {"weights": weights or {}, "max_age": "7d"},
            "proposals": [
                {"id": "top", "pi": "a", "members": ["a"], "committee_score": 0.9},
                {"id": "mid", "pi": "b", "members": ["b"], "committee_score": 0.5},
                {"id": "low", "pi": "c", "members": ["c"], "committee_score": 0.1},
            ],
            **extra,
        }
    )


def test_total_is_the_weighted_sum_and_breakdown_adds_up() -> None:
    w = Weights(age=1000, fairshare=10000, score=2000, qos=2000, size=500, hybrid=3000)
    f = Factors(age=0.5, fairshare=0.25, score=0.9, qos=1.0, size=0.2, hybrid=1.0)
    expected = 1000 * 0.5 + 10000 * 0.25 + 2000 * 0.9 + 2000 * 1.0 + 500 * 0.2 + 3000 * 1.0
    assert f.total(w) == pytest.approx(expected)
    rows = f.breakdown(w)
    assert [r[0] for r in rows] == ["age", "fairshare", "score", "qos", "size", "hybrid"]
    assert sum(r[3] for r in rows) == pytest.approx(expected)
    with pytest.raises(ValueError, match="fairshare"):
        Factors(fairshare=1.5)
    with pytest.raises(ValueError, match="age"):
        Factors(age=-0.1)


def test_age_factor_caps_at_max_age_and_a_penalty_sets_it_back() -> None:
    assert age_factor(3.5 * DAY, 7 * DAY) == 0.5
    assert age_factor(30 * DAY, 7 * DAY) == 1.0
    assert age_factor(-5.0, 7 * DAY) == 0.0
    assert age_factor(10 * DAY, 7 * DAY, penalty_s=30 * DAY) == 0.0
    assert age_factor(33.5 * DAY, 7 * DAY, penalty_s=30 * DAY) == 0.5
    created = np.array([NOW - 3.5 * DAY, NOW - 30 * DAY, NOW + 5])
    assert age_factors(NOW, created, 0.0, 7 * DAY).tolist() == [0.5, 1.0, 0.0]


def test_qos_factor_is_relative_to_the_highest_level() -> None:
    p = policy()
    assert qos_factor(p, "high") == 1.0
    assert qos_factor(p, "normal") == 0.25
    assert qos_factor(p, "low") == 0.0
    assert qos_factor(p, "unknown") == 0.0
    flat = policy(qos={"a": {}, "b": {}})
    assert qos_factor(flat, "a") == 0.0


def test_size_factor_favours_small_or_large_and_stays_in_range() -> None:
    assert size_factor(1, 8) == 0.875 and size_factor(8, 8) == 0.0
    assert size_factor(8, 8, "large") == 1.0 and size_factor(2, 8, "large") == 0.25
    assert size_factor(16, 8) == 0.0 and size_factor(3, 0) == 0.0
    got = size_factors(np.array([1.0, 8.0, 16.0, 3.0]), np.array([8.0, 8.0, 8.0, 0.0]))
    assert got.tolist() == [0.875, 0.0, 0.0, 0.0]
    assert hybrid_factor(True) == 1.0 and hybrid_factor(False) == 0.0


def _order(p: Policy, rows: list[TaskRow], penalties: dict[str, float] | None = None) -> list[str]:
    pending = PendingTasks.from_rows(rows)
    released = Engine(p).cycle(
        pending, {"qpu": len(rows)}, DecayedUsage(DAY), NOW, penalties=penalties or {}
    )
    return [r.task_id for r in released]


def row(
    tid: str,
    proposal: str,
    *,
    qos: str | None = "low",
    age: float = 0.0,
    hybrid: bool = False,
    size: float = 1.0,
) -> TaskRow:
    user = {"top": "a", "mid": "b", "low": "c"}[proposal]
    return TaskRow(tid, "qpu", proposal, user, qos, NOW - age, size, hybrid)


def test_qos_orders_tasks() -> None:
    p = policy({"fairshare": 0, "age": 0, "score": 0, "size": 0, "hybrid": 0, "qos": 1000})
    rows = [row("t1", "top", qos="low"), row("t2", "top", qos="high"), row("t3", "top", qos=None)]
    # no QOS asked: the proposal's default, the policy's first level ("low")
    assert _order(p, rows) == ["t2", "t1", "t3"]


def test_committee_score_orders_proposals() -> None:
    p = policy({"fairshare": 0, "age": 0, "qos": 0, "size": 0, "hybrid": 0, "score": 1000})
    assert _order(p, [row("c", "low"), row("a", "top"), row("b", "mid")]) == ["a", "b", "c"]


def test_age_raises_priority_until_max_age_then_submit_time_decides() -> None:
    p = policy({"fairshare": 0, "qos": 0, "size": 0, "hybrid": 0, "score": 0, "age": 1000})
    rows = [row("new", "top", age=DAY), row("old", "top", age=3 * DAY)]
    assert _order(p, rows) == ["old", "new"]
    # both past max_age: equal age factor, the earlier submission goes first, then the id
    rows = [
        row("b", "top", age=9 * DAY),
        row("c", "top", age=20 * DAY),
        row("a", "top", age=9 * DAY),
    ]
    assert _order(p, rows) == ["c", "a", "b"]


def test_overrun_penalty_moves_a_proposals_tasks_back() -> None:
    p = policy({"fairshare": 0, "qos": 0, "size": 0, "hybrid": 0, "score": 100, "age": 1000})
    rows = [row("t-top", "top", age=2 * DAY), row("t-low", "low", age=DAY)]
    assert _order(p, rows) == ["t-top", "t-low"]
    assert _order(p, rows, penalties={"top": 30 * DAY}) == ["t-low", "t-top"]


def test_hybrid_boost_puts_a_started_loop_first() -> None:
    p = policy({"fairshare": 0, "qos": 0, "size": 0, "score": 0, "age": 1000, "hybrid": 3000})
    rows = [row("fresh", "top", age=5 * DAY), row("loop", "low", hybrid=True)]
    assert _order(p, rows) == ["loop", "fresh"]


def test_every_factor_of_real_tasks_lies_in_range() -> None:
    p = policy()
    rows = [
        row("t1", "top", qos="high", age=40 * DAY, size=8, hybrid=True),
        row("t2", "mid", qos=None, age=-10.0, size=1),
        row("t3", "low", qos="normal", age=DAY, size=2),
    ]
    pending = PendingTasks.from_rows(rows)
    usage = DecayedUsage(DAY)
    usage.add("qpu", "top", "a", 500.0, NOW - DAY)
    s = Engine(p).score(pending, usage, NOW)
    for name in ("age", "fairshare", "score", "qos", "size", "hybrid"):
        values = getattr(s, name)
        assert ((values >= 0) & (values <= 1)).all(), name
    w = p.priority.weights
    for i in range(3):
        f = Factors(
            age=float(s.age[i]),
            fairshare=float(s.fairshare[i]),
            score=float(s.score[i]),
            qos=float(s.qos[i]),
            size=float(s.size[i]),
            hybrid=float(s.hybrid[i]),
        )
        assert f.total(w) == s.priority[i]


def test_the_size_factor_counts_the_backends_nodes_as_slurm_does() -> None:
    def factors(size: float | None, reported: float | None, favor: str) -> list[float]:
        backends = {"hpc": {"units": ["node_hours"], **({"size": size} if size else {})}}
        policy = Policy.model_validate(
            {
                "apiVersion": "qcbroker/v1",
                "kind": "Policy",
                "metadata": {"name": "size"},
                "backends": backends,
                "priority": {"favor": favor},
                "proposals": [{"id": "p", "pi": "a", "members": ["a"]}],
            }
        )
        rows = [TaskRow(f"t{n}", "hpc", "p", "a", None, 0.0, float(n)) for n in (1, 8, 64)]
        engine = Engine(policy, backend_size=lambda _: reported)
        scored = engine.score(PendingTasks.from_rows(rows), DecayedUsage(3600.0), 0.0)
        return [round(float(x), 6) for x in scored.size]

    # a lone small task on a big machine is favoured (Slurm: (N - n) / N), whatever waits
    assert factors(64, None, "small") == [round(63 / 64, 6), round(56 / 64, 6), 0.0]
    assert factors(None, 128.0, "small") == [round(127 / 128, 6), 0.9375, 0.5]
    assert factors(128, 64.0, "large") == [round(1 / 128, 6), 0.0625, 0.5]  # policy first
    # neither says: against the largest waiting task, as before
    assert factors(None, None, "small") == [round(63 / 64, 6), 0.875, 0.0]
