"""What running a circuit costs: its size and how many executions and shots a request needs.

Admission compares a :class:`ResourceEstimate` with a proposal's limits, and charging bills
from it. Executions count what the backends run (see ``backends/runs.py``): one per
parameter set, and when observables are estimated from shots, one per parameter set and per
measurement group of each observable (:func:`circuits.measurement.measurement_groups`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from pydantic import BaseModel, ConfigDict, Field

from circuits.canonical import Circuit
from circuits.coerce import CircuitPub
from circuits.errors import CircuitError, ObservableError
from circuits.measurement import measurement_groups
from circuits.observables import PauliSum

__all__ = ["ResourceEstimate", "estimate", "estimate_pub"]


class ResourceEstimate(BaseModel):
    """Size of a circuit and the work of one request to run it.

    ``shots`` is ``None`` for exact (statevector) results, and then ``total_shots`` is too.
    ``executions`` is circuits x parameter sets x measurement groups (the groups only count
    when observables are sampled); ``total_shots`` is ``executions * shots``.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    qubits: int
    clbits: int
    depth: int
    two_qubit_gates: int
    gates: dict[str, int] = Field(description="operations by name, as Qiskit's count_ops")
    parameters: int
    parameter_sets: int
    shots: int | None
    executions: int
    total_shots: int | None


def estimate(
    circuit: Circuit,
    parameter_sets: int = 1,
    shots: int | None = None,
    observables: Sequence[PauliSum] = (),
) -> ResourceEstimate:
    """The :class:`ResourceEstimate` of running ``circuit`` for ``parameter_sets`` value sets.

    With ``shots`` and ``observables``, each observable is measured group by group; without
    shots, one exact evaluation per parameter set gives every observable.
    """
    if isinstance(parameter_sets, bool) or not isinstance(parameter_sets, int):
        raise CircuitError(f"parameter_sets must be an integer, not {parameter_sets!r}")
    if parameter_sets < 1:
        raise CircuitError(f"parameter_sets must be at least 1, not {parameter_sets}")
    if shots is not None and (isinstance(shots, bool) or not isinstance(shots, int) or shots < 1):
        raise CircuitError(f"shots must be a positive integer or None, not {shots!r}")
    for index, observable in enumerate(observables):
        if observable.num_qubits != circuit.num_qubits:
            raise ObservableError(
                f"observable {index} acts on {observable.num_qubits} qubits but the circuit "
                f"has {circuit.num_qubits}"
            )
    executions = parameter_sets
    if shots is not None and observables:
        executions *= sum(len(measurement_groups(o)) for o in observables)
    counts = Counter(op.name for op in circuit.ir.ops)
    return ResourceEstimate(
        qubits=circuit.num_qubits,
        clbits=circuit.num_clbits,
        depth=circuit.depth,
        two_qubit_gates=circuit.two_qubit_gates,
        gates=dict(sorted(counts.items())),
        parameters=len(circuit.parameters),
        parameter_sets=parameter_sets,
        shots=shots,
        executions=executions,
        total_shots=None if shots is None else executions * shots,
    )


def estimate_pub(pub: CircuitPub) -> ResourceEstimate:
    """:func:`estimate` for a coerced PUB (see :func:`circuits.coerce.coerce_pub`)."""
    return estimate(pub.circuit, len(pub.parameter_values), pub.shots, pub.observables)
