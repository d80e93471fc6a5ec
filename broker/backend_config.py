"""The backends file (``QCB_BACKENDS_FILE``): options per backend, and the broker's own
``capacity`` key.

    slurm: {partition: debug, workdir: /scratch/qcb}
    aer: {capacity: 2}          # two Aer tasks at once: one per worker process

    ibm: {timing: {per_circuit_s: 1.5, per_shot_s: 0.0003}}  # QPU-seconds estimate

Every key but ``capacity`` and ``timing`` (:mod:`broker.core.qpu_time`) goes to the
backend's constructor, which refuses unknown ones with the list of valid ones.
"""

from __future__ import annotations

import re
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from broker.config import Settings, ensure_home
from broker.errors import BrokerError
from broker.textfile import read_text

CAPACITY_KEY = "capacity"
"""The broker-level key: how many tasks of the backend run at once in the deployment."""
TIMING_KEY = "timing"
"""The broker-level key: a quantum backend's timing model for QPU-seconds estimates."""


def _entry(settings: Settings, name: str) -> dict[str, Any]:
    path = settings.backends_file
    if path is None:
        return {}
    text = read_text(path, "backends file", max_bytes=1 << 20, error=BrokerError)
    try:
        configured = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        raise BrokerError(f"cannot read the backends file {path}: {exc}") from None
    if not isinstance(configured, dict):
        raise BrokerError(f"the backends file {path} is not a mapping of backend names")
    refuse_shared_secrets(path, configured)
    entry = configured.get(name) or {}
    if not isinstance(entry, dict):
        raise BrokerError(f"backends file {path}: {name} must be a mapping of options")
    return dict(entry)


_SECRET = re.compile(r"token|api_key|password|passwd|secret|access_key|private_key", re.I)


def _options(configured: dict[Any, Any]) -> Iterator[tuple[str, str, Any]]:
    """``(backend.option, option, value)`` for every option of every backend entry."""
    for backend, entry in configured.items():
        if isinstance(entry, dict):
            for key, value in entry.items():
                yield f"{backend}.{key}", str(key), value


def secret_keys(configured: dict[Any, Any]) -> list[str]:
    """Dotted paths of the options that hold credentials (not those naming a file of them)."""
    return [
        where
        for where, name, value in _options(configured)
        if _SECRET.search(name) and not name.endswith("_file") and value
    ]


def secret_files(configured: dict[Any, Any]) -> list[tuple[str, Path]]:
    """The options that name a file of credentials (``token_file``, ``jwt_key``...)."""
    return [
        (where, Path(value))
        for where, name, value in _options(configured)
        if ((name.endswith("_file") and _SECRET.search(name)) or name == "jwt_key")
        and isinstance(value, str)
        and value
    ]


def refuse_shared_secrets(path: Path, configured: dict[Any, Any]) -> None:
    """``BrokerError`` when a backends file that holds credentials, or a file of credentials
    it names, may be read by accounts other than the broker's (classical tasks run as such
    accounts)."""
    mode = path.stat().st_mode
    keys = secret_keys(configured)
    if keys and mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise BrokerError(
            f"the backends file {path} holds credentials ({', '.join(keys)}) and other "
            f"accounts may read it (mode {stat.S_IMODE(mode):o})",
            hint=f"chmod 600 {path}: only the broker's account may read credentials",
        )
    for key, named in secret_files(configured):
        try:
            bits = stat.S_IMODE(named.stat().st_mode)
        except OSError:
            continue  # the backend says so when it needs the file
        if bits & 0o077:
            raise BrokerError(
                f"{key} in {path} names {named}, a file of credentials other accounts may "
                f"read (mode {bits:o})",
                hint=f"chmod 600 {named}",
            )


def options(settings: Settings, name: str) -> dict[str, Any]:
    """Constructor options of a backend: its entry, with defaults for ``local``."""
    out: dict[str, Any] = {}
    if name == "local":
        ensure_home(settings)
        out["workdir"] = str(settings.task_dir)
    out.update(_entry(settings, name))
    out.pop(CAPACITY_KEY, None)
    out.pop(TIMING_KEY, None)
    return out


def timing(settings: Settings, name: str) -> dict[str, Any] | None:
    """The configured ``timing`` of a quantum backend, if any (checked where it is used)."""
    value = _entry(settings, name).get(TIMING_KEY)
    if value is not None and not isinstance(value, dict):
        raise BrokerError(
            f"backends file {settings.backends_file}: {name}.{TIMING_KEY} must be a mapping "
            f"such as {{per_circuit_s: 1.0, per_shot_s: 0.00025}}, not {value!r}"
        )
    return value


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
