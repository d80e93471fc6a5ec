"""PennyLane simulators: ``pennylane`` (``default.qubit``), ``lightning`` (``lightning.qubit``)
and ``lightning-gpu`` (``lightning.gpu``, NVIDIA GPUs only).

Circuits reach PennyLane through :mod:`circuits.pennylane_convert` (no pennylane-qiskit). A
batch becomes one quantum script per circuit and parameter set, and all of them run in one
``qml.execute`` call: in exact mode each script measures ``expval`` of every observable of its
item (double precision); in sampled mode the scripts are the runs of
:func:`backends.runs.sampling_plan`, sampled with ``qml.sample`` on a device seeded with
the batch's seed. The simulator runs inside the worker, so native ids do not survive it
(``reattach=False``): a redelivered task runs again, with the same seed.
"""

from __future__ import annotations

import math
from importlib.metadata import PackageNotFoundError, version
from typing import Any, ClassVar, Literal, get_args

import numpy as np
import pennylane as qml
import psutil
from pennylane.tape import QuantumScript

from backends.base import Capabilities, QuantumBatch
from backends.errors import BackendUnavailable
from backends.inprocess import InProcessSimulator, ResultLabels, SimulatorRun
from backends.options import BackendOptions, PositiveCount, validate
from backends.runs import exact_items, exact_runs, sampling_plan
from circuits.pennylane_convert import counts_from_samples, pauli_observable, to_pennylane

McmMethod = Literal["deferred", "one-shot", "tree-traversal"]
MCM_METHODS: tuple[str, ...] = get_args(McmMethod)
"""How circuits with mid-circuit measurements or resets are simulated (option ``mcm_method``)."""

_BYTES_PER_AMPLITUDE = 16  # complex128


def _version(distribution: str) -> str:
    try:
        return version(distribution)
    except PackageNotFoundError:
        return "not installed"


class PennyLaneOptions(BackendOptions):
    """Options of ``pennylane``, ``lightning`` and ``lightning-gpu``."""

    max_qubits: PositiveCount | None = None
    """The widest circuit taken (default: what memory allows, at most the device's cap)."""
    mcm_method: McmMethod = "deferred"
    """How mid-circuit measurements and resets are simulated."""


class PennyLaneBatchOptions(BackendOptions):
    """What a batch's ``options`` may set on the PennyLane backends."""

    mcm_method: McmMethod | None = None
    """How mid-circuit measurements and resets are simulated (default: the backend's)."""


class PennyLaneBackend(InProcessSimulator):
    """PennyLane's ``default.qubit``, with the options of :class:`PennyLaneOptions`; a batch's
    ``options`` may set ``mcm_method`` too."""

    name = "pennylane"
    engine = "default.qubit"
    width_hint = "set the backend option max_qubits if this machine has the memory"
    Options: ClassVar[type[PennyLaneOptions]] = PennyLaneOptions
    config: PennyLaneOptions
    BatchOptions = PennyLaneBatchOptions
    device_name: ClassVar[str] = "default.qubit"
    lightning_distribution: ClassVar[str] = "pennylane_lightning"
    qubit_cap: ClassVar[int] = 26
    # State vectors the simulator holds at once while applying a gate.
    state_copies: ClassVar[int] = 4

    def __init__(self, config: BackendOptions | None = None, /, **options: Any) -> None:
        super().__init__(config, **options)
        self.mcm_method: str = self.config.mcm_method
        self.max_qubits = self.config.max_qubits or self._memory_bound()
        self._make_device(None)

    def _memory_bound(self) -> int:
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

    def labels(self) -> ResultLabels:
        """``pennylane X / lightning Y``; the device is also the method."""
        return ResultLabels(version=self.version, method=self.device_name, device=self.device_name)

    def _mcm(self, batch: QuantumBatch) -> str:
        chosen = validate(PennyLaneBatchOptions, self.name, batch.options, what="batch option")
        return chosen.mcm_method or self.mcm_method

    def _execute(
        self, scripts: list[QuantumScript], seed: int | None, mcm: str | None
    ) -> list[Any]:
        """All scripts in one native call on a fresh device."""
        device = self._make_device(seed)
        return list(qml.execute(scripts, device, diff_method=None, mcm_method=mcm))

    def run_exact(self, batch: QuantumBatch) -> SimulatorRun:
        """One script per circuit and parameter set measuring ``expval`` of each observable,
        all in one ``qml.execute``."""
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
        return SimulatorRun(
            items=exact_items(values),
            evaluations=len(scripts),
            calls=1 if scripts else 0,
            metadata={"mcm_method": self._mcm(batch)},
        )

    def run_sampled(self, batch: QuantumBatch, shots: int) -> SimulatorRun:
        """The sampling plan's runs, one script per parameter set, in one ``qml.execute``
        on a device seeded with the batch's seed."""
        mcm_method = self._mcm(batch)
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
        return SimulatorRun(
            items=plan.assemble(counts),
            evaluations=plan.executions,
            calls=1 if scripts else 0,
            metadata={"mcm_method": mcm_method},
        )


class LightningBackend(PennyLaneBackend):
    """``lightning``: PennyLane Lightning's C++ state-vector simulator (``lightning.qubit``)."""

    name = "lightning"
    engine = device_name = "lightning.qubit"
    qubit_cap = 30
    state_copies = 2


class LightningGPUBackend(PennyLaneBackend):
    """``lightning-gpu``: PennyLane Lightning on an NVIDIA GPU through cuStateVec
    (``lightning.gpu``, from the pennylane-lightning-gpu package)."""

    name = "lightning-gpu"
    engine = device_name = "lightning.gpu"
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
