"""Amazon Braket: ``braket`` runs batches on Braket's local simulators or on an AWS device.

Option ``device``: ``local`` or ``braket_sv`` (state vector, the default), ``braket_dm``
(density matrix), both run inside the worker; or an AWS device ARN (``arn:aws:braket:...``).
AWS credentials come only from the environment or ``aws_profile``; results go to
``s3_bucket``/``s3_prefix`` (default: the account's Braket bucket).

Circuits are translated and bound by :mod:`backends.braket_convert`. Batching:

- Sampled mode: every (circuit, parameter set) of :func:`~backends.runs.sampling_plan`
  becomes one executable of a Braket *program set* (``braket.program_sets.ProgramSet``),
  one native call per ``maximumExecutables`` executables (and ``maximumTotalShots``), the
  limits the device advertises (local simulators: 100 and 200,000). A device without program
  sets (or shots above the total limit) takes one task per executable.
- Exact mode (``shots=None``, local simulators and the sv1/dm1 AWS simulators): program sets
  refuse shots=0, so each executable is a circuit with expectation result types, all sent in
  one ``run_batch`` call. Locally that call runs in this process, one circuit after the other
  (Braket's own forks a process pool per call, see ``_Seeded.run_multiple``); on AWS it
  creates one task per circuit.

Seeds: ``LocalSimulator.run`` takes no seed, and the simulators draw samples from
``np.random.default_rng()`` per simulation, so ``np.random.seed`` has no effect. Local
simulators here are subclasses that hand every simulation one generator seeded from the
batch's seed, which makes sampled counts reproducible. AWS devices cannot be seeded.

Native ids: a local batch is finished inside ``submit`` (the template of
:class:`~backends.inprocess.InProcessSimulator`) and kept in this process (``reattach=False``)
under the Braket task id of its first call. An AWS batch is ``ARN|ARN|...|s3://manifest``
(:mod:`backends.braket_aws`). Options: :class:`~backends.braket_options.BraketOptions`.
"""

from __future__ import annotations

import threading
import warnings
from collections.abc import Sequence
from importlib.metadata import version
from typing import Any, ClassVar

import numpy as np
from braket.default_simulator import DensityMatrixSimulator, StateVectorSimulator
from braket.devices import LocalSimulator
from braket.program_sets import ProgramSet

from backends.base import BackendStatus, Capabilities, QuantumBatch, QuantumResult
from backends.braket_aws import BraketAws, is_aws_id
from backends.braket_convert import Work, exact_work, program_set_size, raw_results, sampled_work
from backends.braket_options import EXACT_AWS, LOCAL, BraketOptions
from backends.errors import BackendError
from backends.inprocess import InProcessSimulator, ResultLabels, SimulatorRun
from backends.options import BackendOptions

__all__ = ["LOCAL", "BraketBackend", "BraketOptions"]


class _Seeded:
    """Mixin for Braket's simulators: every simulation samples from ``rng`` when it is set."""

    rng: np.random.Generator | None = None

    def initialize_simulation(self, **kwargs: Any) -> Any:
        """The parent's simulation, drawing its samples from ``rng``."""
        simulation = super().initialize_simulation(**kwargs)  # type: ignore[misc]
        if self.rng is not None:
            # The simulators keep their generator in a private attribute; test_braket's
            # seed test fails if a new SDK renames it.
            simulation._rng_generator = self.rng
        return simulation

    def run_multiple(
        self, programs: Sequence[Any], max_parallel: int | None = None, *args: Any, **kwargs: Any
    ) -> list[Any]:
        """Run ``programs`` one after the other in this process.

        Braket's version forks a process pool per call: unsafe in a threaded worker, every
        child pays the simulator's first-run cost again, and a wide state is copied per core.
        The broker runs tasks side by side instead.
        """
        return [self.run(program, *args, **kwargs) for program in programs]  # type: ignore[attr-defined]


class _SeededStateVector(_Seeded, StateVectorSimulator):  # type: ignore[misc]
    """Braket's state-vector simulator, seedable."""


class _SeededDensityMatrix(_Seeded, DensityMatrixSimulator):  # type: ignore[misc]
    """Braket's density-matrix simulator, seedable."""


class BraketBackend(BraketAws, InProcessSimulator):
    """Amazon Braket, with the options of :class:`~backends.braket_options.BraketOptions`:
    the local simulators through the in-process template, AWS devices through
    :class:`~backends.braket_aws.BraketAws`."""

    name = "braket"
    engine = "Braket"
    Options: ClassVar[type[BraketOptions]] = BraketOptions
    config: BraketOptions

    def __init__(self, config: BackendOptions | None = None, /, **options: Any) -> None:
        super().__init__(config, **options)
        self.device_name = self.config.device
        self.local = self.device_name in LOCAL
        self.sdk_version = f"amazon-braket-sdk {version('amazon-braket-sdk')}"
        self._lock = threading.Lock()
        self._capabilities: Capabilities | None = None
        self._sessions = {}
        self._simulator: _Seeded | None = None
        self._device = None
        self.method = self.device_name.rsplit("/", 1)[-1]
        if self.local:
            self.method = LOCAL[self.device_name]
            sv = self.method == "braket_sv"
            self._simulator = _SeededStateVector() if sv else _SeededDensityMatrix()
            self._model = "StateVectorSimulator" if sv else "DensityMatrixSimulator"
            self._device = LocalSimulator(self._simulator)

    @property
    def exact(self) -> bool:
        """Whether the device computes exact expectation values (shots=0)."""
        return self.local or self.device_name.endswith(EXACT_AWS)

    def capabilities(self) -> Capabilities:
        """Local: the simulator's own qubit limit (26 state vector, 13 density matrix). AWS:
        the device's, read once from AWS unless ``max_qubits`` is set."""
        if self._capabilities is None:
            limit = self.config.max_qubits
            if limit is None:
                limit = self._device_handle().properties.paradigm.qubitCount
            poll = self.config.poll_seconds
            self._capabilities = Capabilities(
                kind="quantum",
                version=self.sdk_version,
                max_qubits=int(limit),
                exact=self.exact,
                reattach=not self.local,
                poll_seconds=(0.0 if self.local else 2.0) if poll is None else poll,
                details={"device": self.device_name},
            )
        return self._capabilities

    def refuse(self, batch: QuantumBatch) -> None:
        """The template's refusals, exact mode on a sampling device worded for Braket."""
        if batch.shots is None and not self.exact:
            raise BackendError(
                f"{self.device_name} cannot compute exact expectation values; set shots to "
                "sample (exact mode runs on the local simulators and on sv1/dm1)"
            )
        super().refuse(batch)

    def submit(self, batch: QuantumBatch, *, task_id: str) -> str:
        """Local: run the batch now, keep the result. AWS: create the tasks, return their
        ARNs (a batch with nothing to run, identity observables only, finishes here)."""
        if not self.local:
            self.refuse(batch)
            work = _work(batch)
            if work.circuits:
                return self._submit_aws(batch, work, task_id)
        return super().submit(batch, task_id=task_id)

    def run_exact(self, batch: QuantumBatch) -> SimulatorRun:
        """Expectation result types, all circuits in one ``run_batch``."""
        return self._simulate(batch)

    def run_sampled(self, batch: QuantumBatch, shots: int) -> SimulatorRun:
        """Program sets of the sampling plan's executables."""
        return self._simulate(batch)

    def labels(self) -> ResultLabels:
        """The SDK's version, the simulator's method and model."""
        device = self._model if self.local else self.device_name
        return ResultLabels(version=self.sdk_version, method=self.method, device=device)

    def _simulate(self, batch: QuantumBatch) -> SimulatorRun:
        work = _work(batch)
        with self._lock:  # one seeded generator per simulator: one batch at a time
            raw, ids, calls = self._run_local(work, batch.seed)
        return SimulatorRun(
            items=work.finish(raw),
            evaluations=work.evaluations,
            calls=calls,
            native_ids=ids,
            metadata={"mechanism": self.mechanism(work)},
        )

    def _run_local(self, work: Work, seed: int | None) -> tuple[list[Any], list[str], int]:
        """Raw results per executable, the Braket task ids and the number of calls."""
        raw: list[Any] = []
        ids: list[str] = []
        circuits = work.circuits
        if not circuits:  # identity observables only: nothing to simulate
            return raw, ids, 0
        assert self._simulator is not None
        self._simulator.rng = None if seed is None else np.random.default_rng(seed)
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*noise-free circuit on the density")
            if work.shots == 0 and len(circuits) > 1:
                results = self._device.run_batch(circuits, shots=0).results()
                ids = [str(r.task_metadata.id) for r in results]
                return [list(r.values) for r in results], ids, 1
            size = program_set_size(self._device.properties, work.shots)
            step = size if size > 1 else 1
            for start in range(0, len(circuits), step):
                chunk = circuits[start : start + step]
                spec = ProgramSet(chunk, shots_per_executable=work.shots) if size > 1 else chunk[0]
                task = self._device.run(spec, shots=work.shots * len(chunk))
                ids.append(task.id)
                raw.extend(raw_results(task.result(), work.shots == 0))
        return raw, ids, len(ids)

    def status(self, native_id: str) -> BackendStatus:
        """Local: COMPLETED for a batch this process ran, ``NativeJobLost`` otherwise. AWS: the
        least advanced state over the batch's tasks (a failed or cancelled one decides)."""
        if self.local or not is_aws_id(native_id):
            return super().status(native_id)
        return self._status_aws(native_id)

    def cancel(self, native_id: str) -> None:
        """Local: nothing to stop. AWS: cancel every task not yet final."""
        if not self.local and is_aws_id(native_id):
            self._cancel_aws(native_id)

    def result(self, native_id: str) -> QuantumResult:
        """The batch's results (local: kept in this process; AWS: read back from S3)."""
        if self.local or not is_aws_id(native_id):
            return super().result(native_id)
        return self._result_aws(native_id)


def _work(batch: QuantumBatch) -> Work:
    return exact_work(batch) if batch.shots is None else sampled_work(batch, batch.shots)
