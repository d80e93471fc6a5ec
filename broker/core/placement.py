"""Where a task goes: its backend, its Celery queue, and its size for the policy engine."""

from __future__ import annotations

import contextlib
import hashlib
import threading
from collections.abc import Callable

from backends import registry
from broker.accounts import controlled_domain
from broker.core.models import JobSpec, TaskRequest
from broker.errors import BrokerError
from circuits.canonical import Circuit
from circuits.errors import CircuitError
from policies.schema import Policy


def queue_for(kind: str, backend: str, domain: str | None = None) -> str:
    """The Celery queue that carries tasks of ``kind`` for ``backend`` (for a hosted backend,
    work of a controlled security ``domain`` has a queue of its own, and pilots of its own)."""
    return f"{kind}.{backend}" + (f"@{domain}" if domain else "")


def task_size(req: TaskRequest) -> float:
    """A task's size for the priority's size factor, in the units its backend's size is
    given in: nodes of a classical task, qubits of a quantum batch's widest circuit."""
    if req.classical is not None:
        return float(req.classical.nodes)
    if req.quantum is not None:
        return float(max((circuit_width(item.circuit) for item in req.quantum.items), default=1))
    return 1.0


_WIDTHS: dict[bytes, int] = {}
_WIDTHS_LOCK = threading.Lock()
WIDTHS_KEPT = 1024
"""Circuit widths remembered, by the SHA-256 of the circuit's text (not the text: a
circuit may be a megabyte); all are forgotten when this many are."""


def circuit_width(text: str) -> int:
    """The qubits of an OpenQASM circuit (1 if it does not parse: a task's size is no place
    to refuse it). A loop's steps repeat their circuits, and admission remembers the widths
    it found (:func:`remember_width`), so each circuit is parsed once."""
    key = hashlib.sha256(text.encode()).digest()
    with _WIDTHS_LOCK:
        found = _WIDTHS.get(key)
    if found is None:
        try:
            found = max(Circuit.from_qasm(text).num_qubits, 1)
        except CircuitError:
            found = 1
        _keep(key, found)
    return found


def remember_width(text: str, width: int) -> None:
    """Remember the width of a circuit parsed elsewhere (admission's circuit check)."""
    _keep(hashlib.sha256(text.encode()).digest(), max(width, 1))


def _keep(key: bytes, width: int) -> None:
    with _WIDTHS_LOCK:
        if len(_WIDTHS) >= WIDTHS_KEPT:
            _WIDTHS.clear()
        _WIDTHS[key] = width


def backend_for(spec: JobSpec, req: TaskRequest) -> str:
    """The backend a task of ``spec`` runs on: its own, else the job's of its kind."""
    return req.backend or (spec.backend if req.kind == "quantum" else spec.classical_backend)


def task_queue(kind: str, backend: str, proposal: str, policy: Callable[[], Policy]) -> str:
    """The queue of a task of ``proposal``: on a hosted backend, a controlled security
    domain's work goes to pilots of that domain only (``policy()`` gives the policy as last
    seen: this runs in the caller's write transaction)."""
    domain = None
    if registry.is_hosted(backend):
        # No such proposal any more: its tasks fail when they start.
        with contextlib.suppress(BrokerError):
            domain = controlled_domain(policy(), proposal)
    return queue_for(kind, backend, domain)
