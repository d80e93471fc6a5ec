"""PennyLane simulators: ``pennylane`` (``default.qubit``), ``lightning`` (``lightning.qubit``)
and ``lightning-gpu`` (``lightning.gpu``, NVIDIA GPUs only).

Circuits reach PennyLane through :mod:`circuits.pennylane_convert` (no pennylane-qiskit). A
batch becomes one quantum script per circuit and parameter set, and all of them run in one
``qml.execute`` call: in exact mode each script measures ``expval`` of every observable of its
item (double precision); in sampled mode the scripts are the runs of
:func:`backends.batching.sampling_plan`, sampled with ``qml.sample`` on a device seeded with
the batch's seed. The simulator runs inside the worker, so native ids do not survive it
(``reattach=False``): a redelivered task runs again, with the same seed.
"""

from __future__ import annotations

import math
import uuid
from importlib.metadata import PackageNotFoundError, version
from typing import Any, ClassVar

import numpy as np
import pennylane as qml
import psutil
from pennylane.tape import QuantumScript

from backends.base import (
    Capabilities,
    ItemResult,
    QuantumBatch,
    QuantumResult,
    refuse_unknown_options,
)
from backends.batching import Stopwatch, exact_items, exact_runs, sampling_plan
from backends.errors import BackendError, BackendUnavailable
from backends.inprocess import InProcessSimulator
from circuits.pennylane_convert import counts_from_samples, pauli_observable, to_pennylane

MCM_METHODS = ("deferred", "one-shot", "tree-traversal")
"""How circuits with mid-circuit measurements or resets are simulated (option ``mcm_method``)."""

_BYTES_PER_AMPLITUDE = 16  # complex128


def _version(distribution: str) -> str:
    try:
        return version(distribution)
    except PackageNotFoundError:
        return "not installed"


class PennyLaneBackend(InProcessSimulator):
    """PennyLane's ``default.qubit``. Options: ``max_qubits`` (default: what memory allows, at
    most :attr:`qubit_cap`) and ``mcm_method`` (one of :data:`MCM_METHODS`, default
    ``deferred``); a batch's ``options`` may set ``mcm_method`` too."""

    name = "pennylane"
    device_name: ClassVar[str] = "default.qubit"
    lightning_distribution: ClassVar[str] = "pennylane_lightning"
    qubit_cap: ClassVar[int] = 26
    # State vectors the simulator holds at once while applying a gate.
    state_copies: ClassVar[int] = 4
    OPTIONS: ClassVar[tuple[str, ...]] = ("max_qubits", "mcm_method")
    BATCH_OPTIONS: ClassVar[tuple[str, ...]] = ("mcm_method",)

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        refuse_unknown_options(self.name, options, self.OPTIONS)
        self.mcm_method = _mcm_method(options.get("mcm_method", "deferred"))
        self.max_qubits = self._max_qubits(options.get("max_qubits"))
        self._make_device(None)

    def _max_qubits(self, value: Any) -> int:
        if value is not None:
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise BackendError(f"max_qubits must be a positive integer, not {value!r}")
            return value
        per_state = psutil.virtual_memory().total / (self.state_copies * _BYTES_PER_AMPLITUDE)
        return max(1, min(self.qubit_cap, int(math.log2(per_state))))

    def _make_device(self, seed: int | None) -> Any:
        """A fresh device (wires allocated per script), seeded for sampling."""
        return qml.device(self.device_name, seed=seed)

    @property
    def version(self) -> str:
        """``pennylane X / lightning Y``."""
        lightning = _version(self.lightning_distribution)
        return f"pennylane {_version('pennylane')} / lightning {lightning}"

    def capabilities(self) -> Capabilities:
        """Exact and sampled simulation on a state vector; the qubit limit is memory bound."""
        return Capabilities(
            kind="quantum",
            version=self.version,
            max_qubits=self.max_qubits,
            exact=True,
            max_concurrency=1,
            reattach=False,
            details={"device": self.device_name, "mcm_method": self.mcm_method},
        )

    def submit(self, batch: QuantumBatch, *, task_id: str) -> str:
        """Run the batch now (simulation is local); the result waits under the native id."""
        clock = Stopwatch()
        unknown = sorted(set(batch.options) - set(self.BATCH_OPTIONS))
        if unknown:
            raise BackendError(
                f"unknown batch option(s) for {self.name}: {', '.join(unknown)}; "
                f"valid options: {', '.join(self.BATCH_OPTIONS)}"
            )
        mcm_method = _mcm_method(batch.options.get("mcm_method", self.mcm_method))
        self.refuse_too_wide(
            batch,
            self.max_qubits,
            hint="set the backend option max_qubits if this machine has the memory",
        )
        native_id = f"{self.name}-{uuid.uuid4().hex}"
        try:
            if batch.shots is None:
                items, evaluations, shots_total = self._exact(batch)
            else:
                items, evaluations, shots_total = self._sampled(batch, batch.shots, mcm_method)
        except BackendError:
            raise
        except Exception as exc:  # PennyLane's own errors: the batch cannot run as given
            raise BackendError(f"{self.device_name} could not run the batch: {exc}") from exc
        self._results.put(
            native_id,
            QuantumResult(
                items=items,
                backend=self.name,
                backend_version=self.version,
                method=self.device_name,
                shots=batch.shots,
                seed=batch.seed,
                circuit_evaluations=evaluations,
                shots_total=shots_total,
                run_seconds=clock.seconds(),
                native_ids=[native_id] if evaluations else [],
                calls=1 if evaluations else 0,
                device=self.device_name,
                metadata={"task_id": task_id, "mcm_method": mcm_method},
            ),
        )
        return native_id

    def _execute(
        self, scripts: list[QuantumScript], seed: int | None, mcm: str | None
    ) -> list[Any]:
        """All scripts in one native call on a fresh device."""
        device = self._make_device(seed)
        return list(qml.execute(scripts, device, diff_method=None, mcm_method=mcm))

    def _exact(self, batch: QuantumBatch) -> tuple[list[ItemResult], int, int]:
        runs = exact_runs(batch)
        scripts: list[QuantumScript] = []
        for run in runs:
            measurements = [qml.expval(pauli_observable(obs)) for obs in run.observables]
            scripts += [
                to_pennylane(run.circuit.ir, row.tolist(), measurements=measurements)
                for row in run.values
            ]
        results = self._execute(scripts, None, None) if scripts else []
        values, start = [], 0
        for run in runs:
            sets, width = run.values.shape[0], len(run.observables)
            block = [
                np.asarray(r, dtype=float).reshape(width) for r in results[start : start + sets]
            ]
            values.append(np.asarray(block, dtype=float).reshape(sets, width))
            start += sets
        return exact_items(values), len(scripts), 0

    def _sampled(
        self, batch: QuantumBatch, shots: int, mcm_method: str
    ) -> tuple[list[ItemResult], int, int]:
        plan = sampling_plan(batch)
        scripts = [
            to_pennylane(run.circuit.ir, row.tolist(), shots=shots)
            for run in plan.runs
            for row in run.values
        ]
        results = self._execute(scripts, batch.seed, mcm_method) if scripts else []
        counts, start = [], 0
        for run in plan.runs:
            samples = results[start : start + run.executions]
            counts.append([counts_from_samples(run.circuit.ir, s) for s in samples])
            start += run.executions
        return plan.assemble(counts), plan.executions, plan.executions * shots


def _mcm_method(value: Any) -> str:
    if value not in MCM_METHODS:
        raise BackendError(f"unknown mcm_method {value!r}; choose one of: {', '.join(MCM_METHODS)}")
    return str(value)


class LightningBackend(PennyLaneBackend):
    """``lightning``: PennyLane Lightning's C++ state-vector simulator (``lightning.qubit``)."""

    name = "lightning"
    device_name = "lightning.qubit"
    qubit_cap = 30
    state_copies = 2


class LightningGPUBackend(PennyLaneBackend):
    """``lightning-gpu``: PennyLane Lightning on an NVIDIA GPU through cuStateVec
    (``lightning.gpu``, from the pennylane-lightning-gpu package)."""

    name = "lightning-gpu"
    device_name = "lightning.gpu"
    lightning_distribution = "pennylane_lightning_gpu"
    qubit_cap = 30
    state_copies = 2

    def _make_device(self, seed: int | None) -> Any:
        try:
            return super()._make_device(seed)
        except Exception as exc:  # missing plugin, no GPU, no CUDA: all mean "not here"
            raise BackendUnavailable(
                f"cannot create the lightning.gpu device: {exc}",
                hint="pip install pennylane-lightning-gpu on a machine with an NVIDIA GPU",
            ) from exc
