"""The admission pipeline: the ordered checks a job passes before anything is held.

Each check is a small function of a :class:`Candidate` that returns a :class:`Refusal` or
None; :func:`run` calls them in order and turns the first refusal into ``JobRefused``
naming the check (``job refused by backend-width: ...``). A check that finds malformed input
raises ``InvalidJob`` itself (exit code 2, not a refusal). Checks marked ``in_store`` read the
ledger: they run inside the write transaction that then records the job and its holds.

A job passes :data:`JOB_CHECKS`; a task that a driver program adds to its running job passes
:data:`DRIVER_TASK_CHECKS` (its budget was held when the driver's job was admitted; what it
may use is its step's allowance).

To add a rule: write a function ``(Candidate) -> Refusal | None`` and put a :class:`Check`
for it in the lists where it applies.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, select

from backends import registry
from backends.base import Backend, ClassicalBackend, QuantumBackend, QuantumBatch
from backends.errors import BackendError
from broker.algorithms.taskgraph.model import DriverStep
from broker.core.models import JobSpec, TaskRequest
from broker.core.placement import remember_width
from broker.errors import BrokerError, InvalidJob, JobRefused, RuntimeUnavailable
from broker.limits import Limits, check_tasks
from broker.store import ledger
from broker.store.schema import tasks
from circuits import resources
from circuits.canonical import Circuit
from circuits.errors import CircuitError
from circuits.validation import Limits as CircuitLimits
from circuits.validation import check_circuit
from policies.admission import Need, admit
from policies.schema import Policy


@dataclass(frozen=True)
class Refusal:
    """Why a check refuses the job, and what to do about it."""

    reason: str
    hint: str | None = None
    details: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class DriverTask:
    """A quantum task that a running driver step adds to its job, and what it may use."""

    job_id: str
    step: DriverStep
    backend: str
    need: Mapping[str, float]


@dataclass
class Candidate:
    """What the checks look at: the job, the tasks to admit, and the deployment."""

    spec: JobSpec
    user: str
    requests: Sequence[TaskRequest]
    policy: Policy
    backend: Callable[[str], Backend]
    limits: Limits
    now: float
    needs: Sequence[Need] = ()
    declared_widths: Mapping[str, int] = field(default_factory=dict)
    driver: DriverTask | None = None
    conn: Connection | None = None
    widths: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Check:
    """One named rule; ``in_store`` rules read the ledger in the admitting transaction."""

    name: str
    run: Callable[[Candidate], Refusal | None]
    in_store: bool = False


def run(checks: Sequence[Check], candidate: Candidate, *, in_store: bool = False) -> None:
    """Run the checks of one phase (``in_store`` or not) in order; ``JobRefused`` naming the
    first that refuses."""
    for check in checks:
        if check.in_store != in_store:
            continue
        refusal = check.run(candidate)
        if refusal is not None:
            raise JobRefused(
                f"job refused by {check.name}: {refusal.reason}",
                hint=refusal.hint,
                details={"check": check.name, **refusal.details},
            )


# --- the checks -----------------------------------------------------------------------------


def job_size(c: Candidate) -> Refusal | None:
    """Observables and results per quantum task and per step (``QCB_MAX_*``)."""
    check_tasks(c.requests, c.limits)
    return None


def circuits(c: Candidate) -> Refusal | None:
    """Every circuit parses and is within the deployment's circuit limits; records the
    widest circuit per backend for :func:`backend_width`."""
    limits = CircuitLimits(max_depth=c.limits.circuit_depth)
    seen: dict[str, int] = {}  # a sweep sends one circuit with many points: checked once
    for req in c.requests:
        if req.quantum is None:
            continue
        name = req.backend or c.spec.backend
        for index, item in enumerate(req.quantum.items):
            try:
                if item.circuit not in seen:
                    seen[item.circuit] = check_circuit(item.circuit, limits).num_qubits
                    remember_width(item.circuit, seen[item.circuit])  # for the task's size
                width = seen[item.circuit]
            except CircuitError as exc:
                raise InvalidJob(f"task {req.key!r} items[{index}].circuit: {exc}") from None
            c.widths[name] = max(c.widths.get(name, 0), width)
    for name, width in c.declared_widths.items():
        c.widths[name] = max(c.widths.get(name, 0), width)
    return None


def sampling(c: Candidate) -> Refusal | None:
    """No exact (shot-less) quantum task on a backend that only samples (IonQ, a QPU):
    refused at submission, not when the task runs."""
    for req in c.requests:
        if req.quantum is None or req.quantum.shots is not None:
            continue
        name = req.backend or c.spec.backend
        try:
            exact = c.backend(name).capabilities().exact
        except BackendError as exc:
            raise RuntimeUnavailable(f"backend {name!r} is not usable: {exc}") from None
        if not exact:
            raise InvalidJob.at(
                "algorithm.inputs.shots",
                f"backend {name!r} samples circuits and gives no exact expectation values; "
                "set shots (e.g. shots: 1000), or choose an exact simulator such as aer",
            )
    return None


def classical_fit(c: Candidate) -> Refusal | None:
    """Each classical task within the limits of its backend (partition size, time, memory)."""
    for req in c.requests:
        if req.classical is None:
            continue
        name = req.backend or c.spec.classical_backend
        instance = c.backend(name)
        assert isinstance(instance, ClassicalBackend)
        try:
            refusal = instance.refusal(req.classical)
        except BackendError as exc:
            raise RuntimeUnavailable(
                f"cannot check the job against backend {name!r}: {exc}", hint=exc.hint
            ) from None
        if refusal:
            return Refusal(
                f"its classical task {req.key!r} on {name} {refusal}; "
                "ask for less in classical_resources"
            )
    return None


def backend_width(c: Candidate) -> Refusal | None:
    """No circuit wider than its quantum backend; the refusal names the widest backend the
    proposal may use (those it has a budget on)."""
    for name, width in sorted(c.widths.items()):
        try:
            limit = _max_qubits(c.backend(name))
        except BackendError as exc:
            raise RuntimeUnavailable(f"backend {name!r} is not usable: {exc}") from None
        if limit is None or width <= limit:
            continue
        proposal = c.policy.proposal(c.spec.proposal)
        allowed = {b.backend for b in proposal.budgets} if proposal else set()
        best = widest(allowed, c.backend)
        who = f"proposal {c.spec.proposal!r}"
        if best is None:
            advice = f"{who} may use no quantum backend that takes it"
        elif best[1] >= width:
            advice = f"the widest backend {who} may use is {best[0]} ({best[1]} qubits): "
            advice += f"choose it with --backend {best[0]}"
        else:
            advice = f"the widest backend {who} may use is {best[0]} with {best[1]} qubits"
        return Refusal(
            f"a circuit has {width} qubits but backend {name} takes at most {limit}; {advice}"
        )
    return None


def membership_and_budget(c: Candidate) -> Refusal | None:
    """The policy's rules (:func:`policies.admission.admit`): the proposal, its members,
    dates, QOS, security domain, backends and budgets, against the ledger now."""
    assert c.conn is not None, "an in-store check runs in the admitting transaction"
    book, held = ledger.standing_inputs(c.conn, c.spec.proposal)
    decision = admit(
        c.policy,
        user=c.user,
        proposal_id=c.spec.proposal,
        needs=list(c.needs),
        book=book,
        held=held,
        now=c.now,
        qos=c.spec.qos,
        backends={c.spec.backend, *(n.backend for n in c.needs)},
    )
    if decision.admitted:
        return None
    amounts = {
        "needs": [{"backend": n.backend, "unit": n.unit, "amount": n.amount} for n in c.needs],
        "remaining": [
            {"backend": backend, "unit": unit, "amount": amount}
            for (backend, unit), amount in sorted(decision.remaining.items())
        ],
    }
    return Refusal(decision.reason, details=amounts)


def driver_allowance(c: Candidate) -> Refusal | None:
    """A driver's task within what is left of its step's allowance on its backend, counting
    every task the step added before (in the transaction that adds this one)."""
    assert c.conn is not None and c.driver is not None, "a driver's task, in the store"
    d = c.driver
    allowance = d.step.quantum.get(d.backend)
    if allowance is None:
        return Refusal(
            f"driver step {d.step.name!r} may run nothing on {d.backend}; its allowance "
            f"names {', '.join(sorted(d.step.quantum))}",
            hint=f"add {d.backend} to the step's quantum: section",
        )
    earlier = c.conn.execute(
        select(tasks.c.payload).where(
            tasks.c.job_id == d.job_id,
            tasks.c.backend == d.backend,
            tasks.c.key.startswith(f"{d.step.name}/", autoescape=True),
        )
    ).scalars()
    used = {"evaluations": 0.0, "shots": 0.0}
    for payload in earlier:
        for unit, amount in batch_need(QuantumBatch.model_validate(payload)).items():
            used[unit] += amount
    limits = {"evaluations": float(allowance.evaluations), "shots": float(allowance.shots)}
    for unit in ("evaluations", "shots"):
        if d.need[unit] and used[unit] + d.need[unit] > limits[unit]:
            return Refusal(
                f"driver step {d.step.name!r}: this task needs {d.need[unit]:g} {unit} on "
                f"{d.backend} but its allowance has {limits[unit] - used[unit]:g} of "
                f"{limits[unit]:g} left"
            )
    return None


def batch_need(batch: QuantumBatch) -> dict[str, float]:
    """What a batch may use: circuit evaluations, and shots over all measurement groups."""
    evaluations = 0.0
    shots = 0.0
    for item in batch.items:
        points = len(item.parameter_values) or 1
        evaluations += points
        if batch.shots:
            cost = resources.estimate(
                Circuit.from_qasm(item.circuit), points, batch.shots, item.observables
            )
            shots += float(cost.total_shots or 0)
    return {"evaluations": evaluations, "shots": shots}


JOB_CHECKS: tuple[Check, ...] = (
    Check("job-size", job_size),
    Check("circuits", circuits),
    Check("sampling", sampling),
    Check("classical-fit", classical_fit),
    Check("backend-width", backend_width),
    Check("membership-and-budget", membership_and_budget, in_store=True),
)
"""What a job passes, in order."""

DRIVER_TASK_CHECKS: tuple[Check, ...] = (
    Check("job-size", job_size),
    Check("circuits", circuits),
    Check("sampling", sampling),
    Check("backend-width", backend_width),
    Check("driver-allowance", driver_allowance, in_store=True),
)
"""What a task added by a driver program passes."""


# --- helpers --------------------------------------------------------------------------------


def _max_qubits(instance: Backend) -> int | None:
    return instance.capabilities().max_qubits


def widest(names: set[str], backend: Callable[[str], Backend]) -> tuple[str, int] | None:
    """The quantum backend with the most qubits among ``names`` (those that load here)."""
    best: tuple[str, int] | None = None
    for name in sorted(set(names)):
        try:
            if not issubclass(registry.load_class(name), QuantumBackend):
                continue
            limit = _max_qubits(backend(name))
        except (BackendError, BrokerError):
            continue  # not installed or not configured here: not a choice for this job
        if limit is not None and (best is None or limit > best[1]):
            best = (name, limit)
    return best
