"""Built-in hybrid algorithms, by the name a job file gives in ``algorithm.name``.

Each algorithm lives in its own module, imported only when a job names it, so that an
algorithm whose optional SDK is missing (``qiskit-addon-sqd``, ``qiskit-addon-cutting``)
only disables itself, with a message that says which extra to install.
"""

from __future__ import annotations

import importlib

from broker.algorithms.base import Algorithm, StepOutcome
from broker.errors import InvalidJob

# name -> (module, class, extra that provides its SDK or None)
KNOWN: dict[str, tuple[str, str, str | None]] = {
    "vqe": ("broker.algorithms.vqe", "VQE", None),
    "qaoa": ("broker.algorithms.qaoa.algorithm", "QAOA", None),
    "sweep": ("broker.algorithms.sweep", "Sweep", None),
    "sqd": ("broker.algorithms.sqd.algorithm", "SQD", "hybrid"),
    "cutting": ("broker.algorithms.cutting.algorithm", "Cutting", "hybrid"),
    "graph": ("broker.algorithms.taskgraph.algorithm", "TaskGraph", None),
}


def get(name: str) -> Algorithm:
    """The algorithm registered as ``name``."""
    if name not in KNOWN:
        raise InvalidJob(
            f"algorithm.name: unknown algorithm {name!r}; built-in algorithms: "
            f"{', '.join(sorted(KNOWN))}"
        )
    module_name, class_name, extra = KNOWN[name]
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        hint = f"; install it with pip install 'qcbroker[{extra}]'" if extra else ""
        raise InvalidJob(
            f"algorithm.name: {name!r} needs a package that is missing ({exc.name}){hint}"
        ) from None
    cls: type[Algorithm] = getattr(module, class_name)
    return cls()


__all__ = ["KNOWN", "Algorithm", "StepOutcome", "get"]
