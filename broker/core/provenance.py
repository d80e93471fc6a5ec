"""Provenance: the versions of the packages a task's result depends on, as installed in the
process that runs it (a worker records them with each task it finishes)."""

from __future__ import annotations

import functools
from importlib.metadata import PackageNotFoundError, version

_PACKAGES = (
    "qcbroker",
    "qiskit",
    "qiskit-aer",
    "celery",
    "kombu",
    "sqlalchemy",
    "pydantic",
    "numpy",
)


def package_versions() -> dict[str, str]:
    """Versions of the packages a result depends on, in this process."""
    return dict(_package_versions())


@functools.cache
def _package_versions() -> dict[str, str]:
    # importlib.metadata scans sys.path: a few ms, once per process is enough
    out = {}
    for name in _PACKAGES:
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = "not installed"
    return out
