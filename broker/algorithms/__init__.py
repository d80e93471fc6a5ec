"""Built-in hybrid algorithms, by the name a job file gives in ``algorithm.name``."""

from __future__ import annotations

from broker.algorithms.base import Algorithm, StepOutcome
from broker.errors import InvalidJob


def get(name: str) -> Algorithm:
    """The algorithm registered as ``name``."""
    from broker.algorithms.vqe import VQE

    known: dict[str, type[Algorithm]] = {VQE.name: VQE}
    if name not in known:
        raise InvalidJob(
            f"algorithm.name: unknown algorithm {name!r}; built-in algorithms: "
            f"{', '.join(sorted(known))}"
        )
    return known[name]()


__all__ = ["Algorithm", "StepOutcome", "get"]
