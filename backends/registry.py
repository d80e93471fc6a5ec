"""Backends by name, discovered through two entry point groups: ``qcbroker.quantum_backends``
and ``qcbroker.classical_backends``.

Implementations are imported only when first asked for, so a missing optional SDK disables
its own backend and nothing else, with a message naming the extra to install. The group
says a backend's kind without importing it: a worker can listen on every quantum queue
without loading every quantum SDK. Backends whose
name ends in ``-gpu`` exist only on a machine with an NVIDIA GPU (:func:`gpu_present`).
"""

from __future__ import annotations

import difflib
import functools
import os
import shutil
from importlib.metadata import EntryPoint, entry_points
from typing import Any

from backends.base import Backend, ClassicalBackend, QuantumBackend
from backends.errors import BackendNotFound, BackendUnavailable

QUANTUM_GROUP = "qcbroker.quantum_backends"
CLASSICAL_GROUP = "qcbroker.classical_backends"
GROUPS = {QUANTUM_GROUP: "quantum", CLASSICAL_GROUP: "classical"}

# The distribution's extra that brings each optional SDK.
_EXTRA_FOR_MODULE = {
    "pennylane": "pennylane",
    "pennylane_lightning": "pennylane",
    "cirq": "cirq",
    "ply": "cirq",
    "qiskit_ibm_runtime": "ibm",
    "braket": "braket",
    "httpx": "ionq",
    "qrmi": "qrmi",
}

GPU_SUFFIX = "-gpu"


@functools.cache
def gpu_present() -> bool:
    """Whether this machine has an NVIDIA GPU (a device node, or ``nvidia-smi``).

    ``QCB_GPU=0`` or ``1`` overrides the detection.
    """
    forced = os.environ.get("QCB_GPU")
    if forced in ("0", "1"):
        return forced == "1"
    return os.path.exists("/dev/nvidia0") or shutil.which("nvidia-smi") is not None


def _all_entry_points() -> dict[str, EntryPoint]:
    """Every registered backend, GPU ones included (read each time: for errors only)."""
    return {ep.name: ep for group in GROUPS for ep in entry_points(group=group)}


@functools.cache
def _entry_points() -> dict[str, EntryPoint]:
    eps = _all_entry_points()
    if not gpu_present():
        eps = {name: ep for name, ep in eps.items() if not name.endswith(GPU_SUFFIX)}
    return eps


def _unknown(name: str) -> BackendNotFound:
    """The error for a name this machine does not register: a GPU backend on a machine
    without a GPU says so; a typo gets the closest name."""
    if name in _all_entry_points():
        return BackendNotFound(
            f"backend {name!r} runs only on a machine with an NVIDIA GPU, and this one has none",
            hint=f"use {name.removesuffix(GPU_SUFFIX)!r} (the same simulator on the CPU), or "
            "run the broker's workers on a GPU node",
        )
    close = difflib.get_close_matches(name, names(), n=1)
    guess = f" (did you mean {close[0]!r}?)" if close else ""
    return BackendNotFound(
        f"unknown backend {name!r}{guess}; registered backends: {', '.join(names()) or 'none'}"
    )


def names() -> list[str]:
    """Every backend registered on this machine, loadable or not, sorted (GPU backends only
    where there is a GPU)."""
    return sorted(_entry_points())


def declared_kind(name: str) -> str:
    """``"quantum"`` or ``"classical"``, from the entry point group (nothing is imported)."""
    eps = _entry_points()
    if name not in eps:
        raise _unknown(name)
    return GROUPS[eps[name].group]


def load_class(name: str) -> type[Backend]:
    """Import and return the class registered as ``name``.

    Raises:
        BackendNotFound: no such name (the message lists the registered ones).
        BackendUnavailable: the implementation needs an SDK that is not installed.
    """
    eps = _entry_points()
    if name not in eps:
        raise _unknown(name)
    try:
        cls = eps[name].load()
    except ModuleNotFoundError as exc:
        top = (exc.name or "").split(".")[0]
        if top in ("backends", "broker", "circuits", "policies"):
            raise BackendUnavailable(
                f"backend {name!r} is registered but its module {exc.name!r} is missing",
                hint="reinstall qcbroker: pip install -e .",
            ) from exc
        extra = _EXTRA_FOR_MODULE.get(top)
        hint = f"pip install 'qcbroker[{extra}]'" if extra else f"install the {top!r} package"
        raise BackendUnavailable(
            f"backend {name!r} needs the {top!r} package, which is not installed", hint=hint
        ) from exc
    if not (isinstance(cls, type) and issubclass(cls, Backend)):
        raise BackendUnavailable(f"entry point {name!r} does not name a Backend class")
    return cls


def loadable(kind: str | None = None) -> dict[str, type[Backend]]:
    """Every registered backend (of ``kind``, if given) whose implementation imports here, by
    name (those missing an SDK are left out). This imports them: ask for the kind you need."""
    classes: dict[str, type[Backend]] = {}
    for name in names():
        if kind is not None and declared_kind(name) != kind:
            continue
        try:
            classes[name] = load_class(name)
        except BackendUnavailable:
            continue
    return classes


def _wrong_kind(name: str, wanted: str) -> BackendNotFound:
    return BackendNotFound(f"backend {name!r} is not a {wanted} backend")


def quantum(name: str, **options: Any) -> QuantumBackend:
    """A quantum backend instance by name, its options validated against the class's
    ``Options`` (a :class:`~backends.errors.BackendError` names what is wrong)."""
    if declared_kind(name) != "quantum":
        raise _wrong_kind(name, "quantum")
    cls = load_class(name)
    if not issubclass(cls, QuantumBackend):
        raise _wrong_kind(name, "quantum")
    return cls(cls.validate_options(options))


def classical(name: str, **options: Any) -> ClassicalBackend:
    """A classical backend instance by name, its options validated against the class's
    ``Options`` (a :class:`~backends.errors.BackendError` names what is wrong)."""
    if declared_kind(name) != "classical":
        raise _wrong_kind(name, "classical")
    cls = load_class(name)
    if not issubclass(cls, ClassicalBackend):
        raise _wrong_kind(name, "classical")
    return cls(cls.validate_options(options))


def kind_of(name: str) -> str:
    """``"quantum"`` or ``"classical"`` for a registered, loadable backend."""
    return "quantum" if issubclass(load_class(name), QuantumBackend) else "classical"


def is_hosted(name: str) -> bool:
    """Whether ``name`` is a classical backend that runs inside workers of its own (pilot
    jobs); False for any other name, and for one that does not load here."""
    try:
        if declared_kind(name) != "classical":
            return False
        cls = load_class(name)
    except (BackendNotFound, BackendUnavailable):
        return False
    return issubclass(cls, ClassicalBackend) and cls.hosted
