"""Will every task of a job fit its backend? Checked at submission, before anything is held.

A task that can never run — a circuit wider than its quantum backend, a classical task that
breaks a partition's limits — would otherwise wait for ever. The job is refused instead,
with the limit it breaks and, for circuits, the widest backend the proposal may use.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from backends import registry
from backends.base import Backend, ClassicalBackend, QuantumBackend
from backends.errors import BackendError
from broker.errors import BrokerError, JobRefused, RuntimeUnavailable
from broker.models import JobSpec, TaskRequest
from circuits.canonical import Circuit
from policies.schema import Policy


def check_classical(
    spec: JobSpec, requests: list[TaskRequest], backend: Callable[[str], Backend]
) -> None:
    """Refuse a job whose classical tasks break a limit of their backend (partition size,
    time, memory)."""
    for req in requests:
        if req.classical is None:
            continue
        name = req.backend or spec.classical_backend
        instance = backend(name)
        assert isinstance(instance, ClassicalBackend)
        try:
            refusal = instance.refusal(req.classical)
        except BackendError as exc:
            raise RuntimeUnavailable(
                f"cannot check the job against backend {name!r}: {exc}", hint=exc.hint
            ) from None
        if refusal:
            raise JobRefused(
                f"job refused: its classical task {req.key!r} on {name} {refusal}; "
                "ask for less in classical_resources"
            )


def circuit_widths(spec: JobSpec, requests: list[TaskRequest]) -> dict[str, int]:
    """The widest circuit each quantum backend gets among ``requests``."""
    widths: dict[str, int] = {}
    for req in requests:
        if req.quantum is None:
            continue
        name = req.backend or spec.backend
        for item in req.quantum.items:
            widths[name] = max(widths.get(name, 0), Circuit(qasm=item.circuit).num_qubits)
    return widths


def max_qubits(instance: Backend) -> int | None:
    """The most qubits a quantum backend takes (None: no stated limit)."""
    return instance.capabilities().max_qubits


def widest(names: Iterable[str], backend: Callable[[str], Backend]) -> tuple[str, int] | None:
    """The quantum backend with the most qubits among ``names`` (those that load here)."""
    best: tuple[str, int] | None = None
    for name in sorted(set(names)):
        try:
            if not issubclass(registry.load_class(name), QuantumBackend):
                continue
            limit = max_qubits(backend(name))
        except (BackendError, BrokerError):
            continue  # not installed or not configured here: not a choice for this job
        if limit is not None and (best is None or limit > best[1]):
            best = (name, limit)
    return best


def check_quantum(
    spec: JobSpec,
    widths: dict[str, int],
    policy: Policy,
    backend: Callable[[str], Backend],
) -> None:
    """Refuse a job whose circuits are wider than their backend, naming the widest backend
    the proposal may use (those it has a budget on)."""
    for name, width in sorted(widths.items()):
        try:
            limit = max_qubits(backend(name))
        except BackendError as exc:
            raise RuntimeUnavailable(f"backend {name!r} is not usable: {exc}") from None
        if limit is None or width <= limit:
            continue
        proposal = policy.proposal(spec.proposal)
        allowed = {b.backend for b in proposal.budgets} if proposal else set()
        best = widest(allowed, backend)
        if best is None:
            advice = f"proposal {spec.proposal!r} may use no quantum backend that takes it"
        elif best[1] >= width:
            advice = f"the widest backend proposal {spec.proposal!r} may use is {best[0]} "
            advice += f"({best[1]} qubits): choose it with --backend {best[0]}"
        else:
            advice = f"the widest backend proposal {spec.proposal!r} may use is {best[0]} "
            advice += f"with {best[1]} qubits"
        raise JobRefused(
            f"job refused: a circuit has {width} qubits but backend {name} takes at most "
            f"{limit}; {advice}"
        )
