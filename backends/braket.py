"""Amazon Braket: ``braket`` runs batches on Braket's local simulators or on an AWS device.

Option ``device``: ``local`` or ``braket_sv`` (state vector, the default), ``braket_dm``
(density matrix), both run inside the worker; or an AWS device ARN (``arn:aws:braket:...``).
AWS credentials come only from the environment or ``aws_profile``; results go to
``s3_bucket``/``s3_prefix`` (default: the account's Braket bucket).

Circuits are translated and bound by :mod:`backends.braket_convert`. Batching:

- Sampled mode: every (circuit, parameter set) of :func:`~backends.batching.sampling_plan`
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

Native ids: a local batch is finished inside ``submit`` and kept in this process
(``reattach=False``) under the Braket task id of its first call. An AWS batch is
``ARN|ARN|...|s3://manifest``: the ARNs re-attach from any process, and the manifest (the
batch, written to S3 before any task is created) lets ``result`` fold the counts back into
items. The AWS path is untested here (no network or account).
"""

from __future__ import annotations

import json
import threading
import uuid
import warnings
from collections.abc import Sequence
from datetime import datetime
from importlib.metadata import version
from typing import Any, ClassVar

import numpy as np
from braket.default_simulator import DensityMatrixSimulator, StateVectorSimulator
from braket.devices import LocalSimulator
from braket.program_sets import ProgramSet

from backends.base import (
    BackendStatus,
    Capabilities,
    ItemResult,
    QuantumBackend,
    QuantumBatch,
    QuantumResult,
    refuse_unknown_options,
)
from backends.batching import ResultCache, Stopwatch
from backends.braket_convert import (
    Work,
    exact_work,
    program_set_size,
    raw_results,
    sampled_work,
)
from backends.errors import BackendError, NativeJobLost
from backends.states import TaskState
from circuits.canonical import Circuit

OPTIONS = (
    "device",
    "s3_bucket",
    "s3_prefix",
    "aws_profile",
    "region",
    "max_qubits",
    "poll_seconds",
)
LOCAL = {"local": "braket_sv", "braket_sv": "braket_sv", "braket_dm": "braket_dm"}
EXACT_AWS = ("/quantum-simulator/amazon/sv1", "/quantum-simulator/amazon/dm1")
STATES = {
    "CREATED": TaskState.QUEUED,
    "QUEUED": TaskState.QUEUED,
    "RUNNING": TaskState.RUNNING,
    "CANCELLING": TaskState.RUNNING,
    "COMPLETED": TaskState.COMPLETED,
    "FAILED": TaskState.FAILED,
    "CANCELLED": TaskState.CANCELLED,
}
"""Braket task states to ours (CANCELLING is not final yet)."""


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


class BraketBackend(QuantumBackend):
    """Amazon Braket. Options: ``device`` (``local``, ``braket_sv``, ``braket_dm`` or an AWS
    device ARN), ``s3_bucket``, ``s3_prefix``, ``aws_profile``, ``region`` (AWS only),
    ``max_qubits``, ``poll_seconds``."""

    name = "braket"
    OPTIONS: ClassVar[tuple[str, ...]] = OPTIONS

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        refuse_unknown_options(self.name, options, self.OPTIONS)
        self.device_name = str(options.get("device", "local"))
        self.local = self.device_name in LOCAL
        if not self.local and not self.device_name.startswith("arn:aws:braket:"):
            raise BackendError(
                f"unknown Braket device {self.device_name!r}; choose one of "
                f"{', '.join(LOCAL)} or an AWS device ARN (arn:aws:braket:...)"
            )
        self.sdk_version = f"amazon-braket-sdk {version('amazon-braket-sdk')}"
        self._results = ResultCache(self.name)
        self._lock = threading.Lock()
        self._capabilities: Capabilities | None = None
        self._sessions: dict[str | None, Any] = {}
        self._simulator: _Seeded | None = None
        self._device: Any = None
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
            limit = self.options.get("max_qubits")
            details: dict[str, Any] = {"device": self.device_name}
            if limit is None:
                props = self._device_handle().properties
                limit = props.paradigm.qubitCount
            self._capabilities = Capabilities(
                kind="quantum",
                version=self.sdk_version,
                max_qubits=int(limit),
                exact=self.exact,
                reattach=not self.local,
                poll_seconds=float(self.options.get("poll_seconds", 0.0 if self.local else 2.0)),
                details=details,
            )
        return self._capabilities

    def submit(self, batch: QuantumBatch, *, task_id: str) -> str:
        """Local: run the batch now, keep the result. AWS: create the tasks, return their ARNs."""
        clock = Stopwatch()
        if batch.shots is None and not self.exact:
            raise BackendError(
                f"{self.device_name} cannot compute exact expectation values; set shots to "
                "sample (exact mode runs on the local simulators and on sv1/dm1)"
            )
        width = max(Circuit(qasm=item.circuit).num_qubits for item in batch.items)
        limit = self.capabilities().max_qubits
        if limit is not None and width > limit:
            raise BackendError(f"a circuit has {width} qubits; {self.name} takes at most {limit}")
        work = exact_work(batch) if batch.shots is None else sampled_work(batch, batch.shots)
        if not self.local and work.circuits:
            return self._submit_aws(batch, work, task_id)
        try:
            with self._lock:  # one seeded generator per simulator: one batch at a time
                raw, ids, calls = self._run_local(work, batch.seed)
        except Exception as exc:  # the SDK's own errors: the batch cannot run as given
            raise BackendError(f"Braket could not run the batch: {exc}") from exc
        native_id = ids[0] if ids else f"braket-{uuid.uuid4()}"
        self._results.put(native_id, self._result(batch, work, raw, ids, calls, clock.seconds()))
        return native_id

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

    def _result(
        self,
        batch: QuantumBatch,
        work: Work,
        raw: list[Any],
        ids: list[str],
        calls: int,
        run_s: float,
    ) -> QuantumResult:
        return QuantumResult(
            items=work.finish(raw),
            backend=self.name,
            backend_version=self.sdk_version,
            method=self.method,
            shots=batch.shots,
            seed=batch.seed,
            circuit_evaluations=work.evaluations,
            shots_total=work.evaluations * (batch.shots or 0),
            run_seconds=run_s,
            native_ids=ids,
            calls=calls,
            device=self._model if self.local else self.device_name,
            calibration_time=None if self.local or not ids else self._calibration_time(),
            metadata={"mechanism": self._mechanism(work)},
        )

    def _mechanism(self, work: Work) -> str:
        if not work.circuits:
            return "none"
        if work.shots == 0:
            return "run_batch" if len(work.circuits) > 1 else "run"
        size = program_set_size(self._device_handle().properties, work.shots)
        return "program_set" if size > 1 else "run"

    def status(self, native_id: str) -> BackendStatus:
        """Local: COMPLETED for a batch this process ran, ``NativeJobLost`` otherwise. AWS: the
        least advanced state over the batch's tasks (a failed or cancelled one decides)."""
        if self.local or not native_id.startswith("arn:aws:braket:"):
            self._results.get(native_id)
            return BackendStatus(state=TaskState.COMPLETED, native_state="COMPLETED")
        arns, _ = _split_id(native_id)
        words = [self._task(arn).state() for arn in arns]
        states = [STATES.get(w, TaskState.RUNNING) for w in words]
        for final in (TaskState.FAILED, TaskState.CANCELLED):
            if final in states:
                return BackendStatus(state=final, native_state=words[states.index(final)])
        if all(s is TaskState.COMPLETED for s in states):
            return BackendStatus(state=TaskState.COMPLETED, native_state="COMPLETED")
        started = any(s is not TaskState.QUEUED for s in states)
        word = "RUNNING" if started else "QUEUED"
        return BackendStatus(state=TaskState[word], native_state=word)

    def cancel(self, native_id: str) -> None:
        """Local: nothing to stop. AWS: cancel every task not yet final."""
        if self.local or not native_id.startswith("arn:aws:braket:"):
            return
        for arn in _split_id(native_id)[0]:
            task = self._task(arn)
            if STATES.get(task.state(), TaskState.RUNNING) in (TaskState.QUEUED, TaskState.RUNNING):
                task.cancel()

    def result(self, native_id: str) -> QuantumResult:
        """The batch's results (local: kept in this process; AWS: read back from S3)."""
        if self.local or not native_id.startswith("arn:aws:braket:"):
            return self._results.get(native_id)
        return self._result_aws(native_id)

    # --- AWS (thin; not exercised without an account) ------------------------------------

    def _session(self, region: str | None) -> Any:
        region = self.options.get("region") or region
        if region not in self._sessions:
            import boto3  # type: ignore[import-untyped]
            from braket.aws import AwsSession

            boto = boto3.Session(profile_name=self.options.get("aws_profile"), region_name=region)
            self._sessions[region] = AwsSession(boto_session=boto)
        return self._sessions[region]

    def _device_handle(self) -> Any:
        if self._device is None:
            from braket.aws import AwsDevice

            self._device = AwsDevice(
                self.device_name, aws_session=self._session(_region(self.device_name))
            )
        return self._device

    def _task(self, arn: str) -> Any:
        from braket.aws import AwsQuantumTask

        return AwsQuantumTask(arn, aws_session=self._session(_region(arn)))

    def _submit_aws(self, batch: QuantumBatch, work: Work, task_id: str) -> str:
        device = self._device_handle()
        session = self._session(_region(self.device_name))
        bucket = self.options.get("s3_bucket") or session.default_bucket()
        prefix = str(self.options.get("s3_prefix", "qcbroker")).strip("/")
        key = f"{prefix}/batches/{task_id}-{uuid.uuid4().hex[:8]}.json"
        body = json.dumps({"batch": batch.model_dump(mode="json")})
        session.s3_client.put_object(Bucket=bucket, Key=key, Body=body.encode())
        folder = (bucket, prefix)
        size = program_set_size(device.properties, work.shots)
        arns: list[str] = []
        try:
            if size > 1:
                for start in range(0, len(work.circuits), size):
                    chunk = work.circuits[start : start + size]
                    ps = ProgramSet(chunk, shots_per_executable=work.shots)
                    arns.append(device.run(ps, folder, shots=work.shots * len(chunk)).id)
            elif work.circuits:
                tasks = device.run_batch(work.circuits, folder, shots=work.shots).tasks
                arns.extend(task.id for task in tasks)
        except Exception as exc:
            for arn in arns:
                self._task(arn).cancel()
            raise BackendError(f"Braket refused the batch: {exc}", transient=False) from exc
        return "|".join([*arns, f"s3://{bucket}/{key}"])

    def _result_aws(self, native_id: str) -> QuantumResult:
        arns, manifest = _split_id(native_id)
        bucket, _, key = manifest.removeprefix("s3://").partition("/")
        body = self._session(_region(arns[0])).retrieve_s3_object_body(bucket, key)
        batch = QuantumBatch.model_validate(json.loads(body)["batch"])
        work = exact_work(batch) if batch.shots is None else sampled_work(batch, batch.shots)
        tasks = [self._task(arn) for arn in arns]
        meta = [task.metadata() for task in tasks]
        failed = [m for m in meta if m.get("status") != "COMPLETED"]
        span = _span(meta)
        if failed:
            reasons = [str(m.get("failureReason", m.get("status"))) for m in failed]
            items = [ItemResult() for _ in batch.items]
            return QuantumResult(
                items=items, backend=self.name, backend_version=self.sdk_version,
                method=self.device_name, shots=batch.shots, seed=batch.seed,
                circuit_evaluations=0, run_seconds=span, native_ids=arns, calls=len(arns),
                device=self.device_name, metadata={"failures": reasons},
            )  # fmt: skip
        raw = [r for task in tasks for r in raw_results(task.result(), batch.shots is None)]
        return self._result(batch, work, raw, arns, len(arns), span)

    def _calibration_time(self) -> str | None:
        props = self._device_handle().properties
        if "/qpu/" not in self.device_name:
            return None
        when = getattr(getattr(props, "service", None), "updatedAt", None)
        return when.isoformat() if isinstance(when, datetime) else None


def _region(arn: str) -> str | None:
    """The region field of an ARN (empty for the global on-demand simulators)."""
    parts = arn.split(":")
    return parts[3] or None if len(parts) > 3 else None


def _split_id(native_id: str) -> tuple[list[str], str]:
    parts = native_id.split("|")
    if len(parts) < 2 or not parts[-1].startswith("s3://"):
        raise NativeJobLost(native_id, "not a native id of the braket backend")
    return parts[:-1], parts[-1]


def _span(meta: list[dict[str, Any]]) -> float:
    """Seconds from the first task's creation to the last one's end (Braket reports no start
    time, so queueing is included)."""
    created = [m["createdAt"] for m in meta if isinstance(m.get("createdAt"), datetime)]
    ended = [m["endedAt"] for m in meta if isinstance(m.get("endedAt"), datetime)]
    return (max(ended) - min(created)).total_seconds() if created and ended else 0.0
