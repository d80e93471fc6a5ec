"""Charging rules shared by the replay and (through the same formulas) the broker: what a
finished task is charged in budget units, and what it occupied for fair share."""

from __future__ import annotations

from collections.abc import Mapping

from policies.schema import Policy
from policies.trace import Task
from policies.types import CLASSICAL_UNITS


def charge_factors(policy: Policy, backend: str, qos: str | None) -> tuple[float, float]:
    """The backend's charge factor and the QOS level's usage factor (1 when unknown)."""
    config = policy.backends.get(backend)
    level = policy.qos.get(qos or "")
    return (
        config.charge_factor if config is not None else 1.0,
        level.usage_factor if level is not None else 1.0,
    )


def charged_units(policy: Policy, backend: str) -> frozenset[str] | None:
    """The units the policy counts ``backend`` in (``None``: a backend the policy does not
    name, charged in every unit it reports)."""
    config = policy.backends.get(backend)
    return frozenset(config.units) if config is not None else None


def charges(
    policy: Policy, backend: str, qos: str | None, usage: Mapping[str, float]
) -> dict[str, float]:
    """What to charge for raw usage (the broker's rule), in the units the policy counts the
    backend in: classical units x the QOS usage factor x the backend's charge factor; other
    units x the backend's charge factor. Usage in other units (a simulator's run seconds
    where only evaluations and shots count) is not charged; a trace keeps it raw, so a new
    policy that counts it can charge it."""
    factor, usage_factor = charge_factors(policy, backend, qos)
    units = charged_units(policy, backend)
    return {
        unit: amount * factor * (usage_factor if unit in CLASSICAL_UNITS else 1.0)
        for unit, amount in usage.items()
        if units is None or unit in units
    }


def occupied(kind: str, seconds: float, size: float) -> float:
    """Backend-seconds (fair-share usage): run seconds, x size (nodes) for a classical task."""
    return seconds * (size if kind == "classical" else 1.0)


def occupancy(task: Task) -> float:
    """Backend-seconds a trace task occupies (see :func:`occupied`)."""
    return occupied(task.kind, task.duration, task.size)
