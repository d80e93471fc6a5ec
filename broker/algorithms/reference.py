"""Classical reference computations that algorithms run as classical tasks.

These functions are entry points (``module:function``) that a classical backend calls in a
process of its own, possibly on another host: they take and return JSON only.
"""

from __future__ import annotations

from typing import Any

from circuits.observables import PauliSum


def ground_energy(payload: dict[str, Any]) -> dict[str, Any]:
    """Exact ground-state energy of ``payload['hamiltonian']`` by diagonalization."""
    hamiltonian = PauliSum.model_validate(payload["hamiltonian"])
    return {"ground_energy": float(hamiltonian.ground_energy()), "method": "exact diagonalization"}
