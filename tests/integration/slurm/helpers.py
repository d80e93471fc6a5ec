"""Entry points that the Slurm integration tests run on the cluster (imported there through
``PYTHONPATH``, which ``sbatch`` passes on from the broker's environment)."""

from __future__ import annotations

import time
from typing import Any

from broker.algorithms.chemistry import h2


def slow_h2(payload: dict[str, Any]) -> dict[str, Any]:
    """The H2 problem, after ``payload['seconds']`` of pretending to work."""
    time.sleep(float(payload.get("seconds", 0)))
    return h2({"bond_length": payload.get("bond_length", 0.735)})
