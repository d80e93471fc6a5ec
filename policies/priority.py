"""Multifactor priority: ``P = sum_i w_i f_i``, each factor ``f_i`` in [0, 1].

The factors follow Slurm's multifactor plugin: age (capped at ``priority.max_age``, and
set back by an overrun band's age penalty, as OLCF does), Fair Tree fair share, the
proposal's committee score, QOS (its priority over the largest in the policy), size, and a
boost for the tasks of a hybrid loop already under way (Braket gives hybrid jobs' tasks
priority; a started VQE should not wait behind new work at every step).

:func:`combine` is the one formula; the engine (on arrays) and the simulator (on one group
at a time) both call it, so they compute the very same floats. It adds the terms in a
fixed order, the parts that do not change with time first.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import TypeVar

import numpy as np

from policies.schema import Policy
from policies.sections import Weights

FACTORS = ("age", "fairshare", "score", "qos", "size", "hybrid")

T = TypeVar("T", float, np.ndarray)


def static_part(w: Weights, score: T, qos: T, size: T, hybrid: T) -> T:
    """``w_score f_score + w_qos f_qos + w_size f_size + w_hybrid f_hybrid``: the part of
    ``P`` that does not change while a task waits (fair share aside)."""
    return w.score * score + w.qos * qos + w.size * size + w.hybrid * hybrid


def combine(w: Weights, static: T, fairshare: T, age: T) -> T:
    """``P`` from :func:`static_part`, the fair-share factor and the age factor."""
    return static + w.fairshare * fairshare + w.age * age


def age_factor(age_s: float, max_age_s: float, penalty_s: float = 0.0) -> float:
    """Apparent age (``age - penalty``), clipped to [0, max_age], over ``max_age``."""
    return min(max(age_s - penalty_s, 0.0), max_age_s) / max_age_s


def age_factors(
    now: float, created: np.ndarray, penalty: np.ndarray | float, max_age_s: float
) -> np.ndarray:
    """:func:`age_factor` of many tasks created at ``created`` (same floats)."""
    result: np.ndarray = np.clip((now - created) - penalty, 0.0, max_age_s) / max_age_s
    return result


def qos_factor(policy: Policy, qos: str) -> float:
    """A QOS level's priority over the largest QOS priority in the policy (0 if all are 0,
    or the level is unknown)."""
    top = max(level.priority for level in policy.qos.values())
    level = policy.qos.get(qos)
    return level.priority / top if level is not None and top > 0 else 0.0


def size_factor(size: float, max_size: float, favor: str = "small") -> float:
    """Where a task's size stands against its backend's, in [0, 1]: Slurm's job size
    factor on nodes (``priority_multifactor``): favouring small tasks
    ``(N - n) / N``, 0 from ``n >= N``; favouring large ones ``n / N``, at most 1.

    ``max_size`` (``N``) is the whole backend (:meth:`policies.engine.Engine.size_of`: the
    policy's size, else what the backend reports), or, where neither says, its largest
    waiting task. 0 when it is not positive.
    """
    if not max_size > 0:
        return 0.0
    ratio = min(max(size / max_size, 0.0), 1.0)
    return ratio if favor == "large" else 1.0 - ratio


def size_factors(size: np.ndarray, max_size: np.ndarray, favor: str = "small") -> np.ndarray:
    """:func:`size_factor` of many tasks (same floats)."""
    safe = np.where(max_size > 0, max_size, 1.0)
    ratio = np.clip(size / safe, 0.0, 1.0)
    out: np.ndarray = np.where(max_size > 0, ratio if favor == "large" else 1.0 - ratio, 0.0)
    return out


def hybrid_factor(loop_under_way: bool) -> float:
    """1 for a task of a job that already completed a step of its hybrid loop, else 0."""
    return 1.0 if loop_under_way else 0.0


@dataclass(frozen=True)
class Factors:
    """The factors of one task, each in [0, 1]."""

    age: float = 0.0
    fairshare: float = 0.0
    score: float = 0.0
    qos: float = 0.0
    size: float = 0.0
    hybrid: float = 0.0

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"factor {f.name} must lie in [0, 1], not {value!r}")

    def total(self, weights: Weights) -> float:
        """``P = sum_i w_i f_i`` (computed as :func:`combine` does)."""
        static = static_part(weights, self.score, self.qos, self.size, self.hybrid)
        return combine(weights, static, self.fairshare, self.age)

    def breakdown(self, weights: Weights) -> list[tuple[str, float, float, float]]:
        """Rows ``(name, factor, weight, contribution)``, as ``sprio`` shows them."""
        rows = []
        for name in FACTORS:
            factor = getattr(self, name)
            weight = getattr(weights, name)
            rows.append((name, factor, weight, factor * weight))
        return rows
