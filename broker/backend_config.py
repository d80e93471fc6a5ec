"""The backends file (``QCB_BACKENDS_FILE``): options per backend, and the broker's own
``capacity`` key.

    slurm: {partition: debug, workdir: /scratch/qcb}
    aer: {capacity: 2}          # two Aer tasks at once: one per worker process

Every key but ``capacity`` goes to the backend's constructor, which refuses unknown ones
with the list of valid ones.
"""

from __future__ import annotations

from typing import Any

import yaml

from broker.config import Settings
from broker.errors import BrokerError

CAPACITY_KEY = "capacity"
"""The broker-level key: how many tasks of the backend run at once in the deployment."""


def _entry(settings: Settings, name: str) -> dict[str, Any]:
    path = settings.backends_file
    if path is None:
        return {}
    try:
        configured = yaml.safe_load(path.read_text()) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise BrokerError(f"cannot read the backends file {path}: {exc}") from None
    if not isinstance(configured, dict):
        raise BrokerError(f"the backends file {path} is not a mapping of backend names")
    entry = configured.get(name) or {}
    if not isinstance(entry, dict):
        raise BrokerError(f"backends file {path}: {name} must be a mapping of options")
    return dict(entry)


def options(settings: Settings, name: str) -> dict[str, Any]:
    """Constructor options of a backend: its entry, with defaults for ``local``."""
    out: dict[str, Any] = {}
    if name == "local":
        out["workdir"] = str(settings.task_dir)
    out.update(_entry(settings, name))
    out.pop(CAPACITY_KEY, None)
    return out


def capacity(settings: Settings, name: str) -> int | None:
    """The configured ``capacity`` of a backend, if any."""
    value = _entry(settings, name).get(CAPACITY_KEY)
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise BrokerError(
            f"backends file {settings.backends_file}: {name}.{CAPACITY_KEY} must be a whole "
            f"number >= 1, not {value!r}"
        )
    return value
