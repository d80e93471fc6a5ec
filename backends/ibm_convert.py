"""The ``ibm`` backend's conversions: a batch to V2 primitive PUBs on ISA circuits, and the
primitives' results back to items, in item order.

Items with observables become ``EstimatorV2`` PUBs (kind ``e``), items without ``SamplerV2``
PUBs over their sampling plan (kind ``s``); a :class:`~backends.ibm_jobs.Handle` remembers the
kinds so that results fold back in order whichever process reads them.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import numpy as np
from qiskit import QuantumCircuit

from backends import runs
from backends.base import ItemResult, QuantumBatch, QuantumResult
from backends.errors import BackendError
from backends.ibm_jobs import Handle, calibration_time
from circuits.canonical import Circuit

_ITEM = re.compile(r"^item (\d+):")


def isa_pubs(batch: QuantumBatch, kinds: str, pass_manager: Any) -> tuple[list[Any], list[Any]]:
    """Estimator and sampler PUBs on circuits transpiled by ``pass_manager``, each in item
    order; observables mapped onto their circuit's physical qubits."""
    isa: dict[str, QuantumCircuit] = {}

    def prepared(circuit: Circuit, rows: np.ndarray) -> tuple[QuantumCircuit, np.ndarray]:
        if circuit.qasm not in isa:
            isa[circuit.qasm] = pass_manager.run(circuit.to_qiskit())
        qc = isa[circuit.qasm]
        # PUB values follow the ISA circuit's parameter order, not the canonical one.
        return qc, rows[:, [circuit.parameters.index(p.name) for p in qc.parameters]]

    estimator_pubs, sampler_pubs = [], []
    for run in of_kind(runs.exact_runs, batch, kinds, "e"):
        qc, values = prepared(run.circuit, run.values)
        layout = [
            o.to_sparse_pauli_op().apply_layout(qc.layout, qc.num_qubits) for o in run.observables
        ]
        estimator_pubs.append((qc, [layout], values[:, None]))
    for sample in of_kind(lambda b: runs.sampling_plan(b).runs, batch, kinds, "s"):
        sampler_pubs.append(prepared(sample.circuit, sample.values))
    return estimator_pubs, sampler_pubs


def of_kind(
    prepare: Callable[[QuantumBatch], Any], batch: QuantumBatch, kinds: str, kind: str
) -> list[Any]:
    """``prepare`` (a helper of :mod:`backends.runs`) over the items of one kind, its
    ``item N:`` messages numbered as in the whole batch."""
    index = [i for i, k in enumerate(kinds) if k == kind]
    if not index:
        return []
    try:
        return list(prepare(batch.model_copy(update={"items": [batch.items[i] for i in index]})))
    except BackendError as exc:
        message = _ITEM.sub(lambda m: f"item {index[int(m.group(1))]}:", exc.message)
        raise BackendError(message, transient=exc.transient, hint=exc.hint) from None


def assemble(
    handle: Handle,
    jobs: list[Any],
    outputs: list[Any],
    times: tuple[float, float | None],
    **labels: Any,
) -> QuantumResult:
    """Fold the primitive results (estimator's first) back into items, in item order.

    ``times``: run and queue seconds; ``labels``: the result's ``backend``,
    ``backend_version``, ``device`` and ``metadata``.
    """
    items: list[ItemResult] = []
    evaluations = 0
    pubs = {"e": iter(outputs[0]), "s": iter(outputs[-1])} if outputs else {}
    for kind in handle.kinds if outputs else "":
        pub = next(pubs[kind])
        if kind == "e":
            evs = np.asarray(pub.data.evs, dtype=float)
            stds = np.asarray(pub.data.stds, dtype=float).tolist()
            items.append(ItemResult(expectation_values=evs.tolist(), std_errors=stds))
            evaluations += evs.shape[0]
        else:
            data = pub.join_data()
            rows = [data.get_counts(i) for i in range(data.size)]
            counts = {"counts": rows, "quasi_probabilities": runs.quasi_probabilities(rows)}
            items.append(ItemResult(**counts))
            evaluations += data.size
    return QuantumResult(
        items=items,
        method="+".join(m for k, m in (("e", "estimator"), ("s", "sampler")) if k in handle.kinds),
        shots=handle.shots,
        seed=handle.seed,
        circuit_evaluations=evaluations,
        # Shots per parameter set as asked: the estimator spends them on each measurement
        # basis it needs, which only the provider knows.
        shots_total=evaluations * handle.shots,
        run_seconds=times[0],
        queue_seconds=times[1],
        native_ids=list(handle.job_ids),
        calls=len(handle.job_ids),
        calibration_time=calibration_time(jobs),
        **labels,
    )
