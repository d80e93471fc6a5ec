"""Entry points that the Slurm integration tests run on the cluster (imported there through
the ``PYTHONPATH`` that the tests' backends file gives every task)."""

from __future__ import annotations

import time
from typing import Any

from broker.algorithms.chemistry import h2


def slow_h2(payload: dict[str, Any]) -> dict[str, Any]:
    """The H2 problem, after ``payload['seconds']`` of pretending to work."""
    time.sleep(float(payload.get("seconds", 0)))
    return h2({"bond_length": payload.get("bond_length", 0.735)})
