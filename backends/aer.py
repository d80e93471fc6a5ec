"""``aer``: Qiskit Aer simulators (statevector by default; MPS and density matrix by option).

A batch runs in one primitive call: exact expectation values through Aer's ``EstimatorV2``
(one PUB per circuit with all its parameter sets and observables), sampled ones through
``SamplerV2`` over the observables' qubit-wise commuting measurement groups. The simulator
runs inside the worker, so a native id lives only as long as the worker process
(``reattach=False``): a redelivered task simply runs again, with the same seed.
"""

from __future__ import annotations

import time
import uuid
from collections import OrderedDict
from importlib.metadata import version
from typing import Any

import numpy as np
from qiskit import QuantumCircuit
from qiskit_aer import AerSimulator
from qiskit_aer.primitives import EstimatorV2, SamplerV2

from backends.base import (
    BackendStatus,
    Capabilities,
    ItemResult,
    QuantumBackend,
    QuantumBatch,
    QuantumItem,
    QuantumResult,
)
from backends.errors import BackendError, NativeJobLost
from backends.states import TaskState
from circuits.canonical import Circuit
from circuits.measurement import estimate, measurement_groups, with_measurements
from circuits.observables import PauliSum

METHODS = ("statevector", "matrix_product_state", "density_matrix")
# Results kept per worker: enough for every task in flight; older ones were already stored.
_KEEP_RESULTS = 256


def _values(circuit: Circuit, qc: QuantumCircuit, item: QuantumItem) -> np.ndarray:
    """Parameter values re-ordered from the canonical order to ``qc.parameters`` order."""
    values = np.asarray(item.parameter_values, dtype=float).reshape(len(item.parameter_values), -1)
    if values.shape[1] != len(circuit.parameters):
        raise BackendError(
            f"circuit {circuit.sha256[:12]} has {len(circuit.parameters)} parameters, "
            f"got {values.shape[1]} values per set"
        )
    order = [circuit.parameters.index(p.name) for p in qc.parameters]
    return values[:, order]


def _as_dict(obs: PauliSum) -> dict[str, float]:
    """An observable as Qiskit's ``{pauli: coeff}`` form, repeated terms summed."""
    out: dict[str, float] = {}
    for term in obs.terms:
        out[term.pauli] = out.get(term.pauli, 0.0) + term.coeff
    return out


class AerBackend(QuantumBackend):
    """Qiskit Aer. Options: ``method`` (one of :data:`METHODS`), ``max_qubits``."""

    name = "aer"

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.method = str(options.get("method", "statevector"))
        if self.method not in METHODS:
            raise BackendError(
                f"unknown Aer method {self.method!r}; choose one of: {', '.join(METHODS)}"
            )
        self._results: OrderedDict[str, QuantumResult] = OrderedDict()
        self._capabilities: Capabilities | None = None

    def capabilities(self) -> Capabilities:
        """Exact and sampled simulation; the qubit limit comes from Aer (memory bound)."""
        if self._capabilities is None:
            self._capabilities = self._describe()
        return self._capabilities

    def _describe(self) -> Capabilities:
        limit = self.options.get("max_qubits") or AerSimulator(method=self.method).num_qubits
        return Capabilities(
            kind="quantum",
            version=f"qiskit-aer {version('qiskit-aer')}",
            max_qubits=int(limit),
            exact=True,
            max_concurrency=1,
            reattach=False,
            details={"method": self.method},
        )

    def submit(self, batch: QuantumBatch, *, task_id: str) -> str:
        """Run the batch now (simulation is local); the result waits under the native id."""
        started = time.perf_counter()
        circuits = [Circuit(qasm=item.circuit) for item in batch.items]
        try:
            if batch.shots is None:
                items, evaluations, shots_total = self._exact(batch, circuits)
            else:
                items, evaluations, shots_total = self._sampled(batch, circuits, batch.shots)
        except BackendError:
            raise
        except Exception as exc:  # Aer's own errors: the batch cannot run as given
            raise BackendError(f"Aer could not run the batch: {exc}") from exc
        native_id = f"aer-{uuid.uuid4().hex}"
        while len(self._results) >= _KEEP_RESULTS:
            self._results.popitem(last=False)
        self._results[native_id] = QuantumResult(
            items=items,
            backend=self.name,
            backend_version=f"qiskit-aer {version('qiskit-aer')}",
            method=self.method,
            shots=batch.shots,
            seed=batch.seed,
            circuit_evaluations=evaluations,
            shots_total=shots_total,
            run_seconds=time.perf_counter() - started,
            metadata={"native_id": native_id, "primitive_calls": 1},
        )
        return native_id

    def _exact(
        self, batch: QuantumBatch, circuits: list[Circuit]
    ) -> tuple[list[ItemResult], int, int]:
        options: dict[str, Any] = {
            "default_precision": 0.0,
            "backend_options": {"method": self.method},
            "run_options": {"seed": batch.seed} if batch.seed is not None else {},
        }
        pubs = []
        for circuit, item in zip(circuits, batch.items, strict=True):
            if not item.observables:
                raise BackendError(
                    "exact simulation returns expectation values: give the item observables, "
                    "or set shots to sample counts"
                )
            qc = circuit.to_qiskit().remove_final_measurements(inplace=False)
            values = _values(circuit, qc, item)
            observables = [[_as_dict(obs) for obs in item.observables]]
            pubs.append((qc, observables, values[:, None, :]))
        results = EstimatorV2(options=options).run(pubs).result()
        items = []
        for pub in results:
            evs = np.asarray(pub.data.evs, dtype=float)
            items.append(
                ItemResult(expectation_values=evs.tolist(), std_errors=np.zeros_like(evs).tolist())
            )
        evaluations = sum(len(item.parameter_values) for item in batch.items)
        return items, evaluations, 0

    def _sampled(
        self, batch: QuantumBatch, circuits: list[Circuit], shots: int
    ) -> tuple[list[ItemResult], int, int]:
        pubs: list[tuple[QuantumCircuit, np.ndarray]] = []
        plan: list[list[list[int]]] = []  # per item, per observable: indices of its pubs
        for circuit, item in zip(circuits, batch.items, strict=True):
            if not item.observables:
                if not circuit.has_measurements:
                    raise BackendError(f"circuit {circuit.sha256[:12]} has no measurements")
                qc = circuit.to_qiskit()
                pubs.append((qc, _values(circuit, qc, item)))
                plan.append([[len(pubs) - 1]])
                continue
            per_obs = []
            for obs in item.observables:
                indices = []
                for group in measurement_groups(obs):
                    measured = Circuit.from_ir(with_measurements(circuit.ir, group))
                    qc = measured.to_qiskit()
                    pubs.append((qc, _values(measured, qc, item)))
                    indices.append(len(pubs) - 1)
                per_obs.append(indices)
            plan.append(per_obs)
        sampler = SamplerV2(default_shots=shots, seed=batch.seed)
        results = sampler.run(pubs).result()
        counts = [
            [res.join_data().get_counts(i) for i in range(len(pub[1]))]
            for res, pub in zip(results, pubs, strict=True)
        ]
        items = []
        for item, per_obs in zip(batch.items, plan, strict=True):
            sets = range(len(item.parameter_values))
            if not item.observables:
                items.append(ItemResult(counts=[counts[per_obs[0][0]][s] for s in sets]))
                continue
            groups = [measurement_groups(obs) for obs in item.observables]
            evs, stds = [], []
            for s in sets:
                row = [
                    estimate(g, [counts[i][s] for i in idx])
                    for g, idx in zip(groups, per_obs, strict=True)
                ]
                evs.append([v for v, _ in row])
                stds.append([e for _, e in row])
            items.append(ItemResult(expectation_values=evs, std_errors=stds))
        executions = sum(len(pub[1]) for pub in pubs)
        return items, executions, executions * shots

    def status(self, native_id: str) -> BackendStatus:
        """COMPLETED for a batch this process ran; ``NativeJobLost`` otherwise."""
        if native_id not in self._results:
            raise NativeJobLost(native_id, "Aer results live in the worker that ran them")
        return BackendStatus(state=TaskState.COMPLETED, native_state="DONE")

    def cancel(self, native_id: str) -> None:
        """Nothing to stop: a batch has finished by the time ``submit`` returns."""

    def result(self, native_id: str) -> QuantumResult:
        """The batch's results (kept once; a second call still returns them)."""
        self.status(native_id)
        return self._results[native_id]
