"""``ionq``: IonQ's trapped-ion QPUs and cloud simulator, through the REST API v0.4 (httpx).

A sampled batch becomes one circuit per run and parameter set (:func:`sampling_plan`),
translated to IonQ's ``qis`` gates and sent as few multi-circuit jobs as IonQ's limits allow
(usually one). The native id is the IonQ job id (ids joined by commas when a batch needs
several jobs). The batch itself travels, compressed, in the first job's metadata, so that a
worker in another process can follow the job and fold its results by id alone
(``reattach``). The ideal simulator returns exact probabilities; counts are sampled from
them with the batch's seed. QPUs and noisy simulation return frequencies of real shots,
which are turned back into counts.

Credentials come from the backend's options only (``api_key``, or ``api_key_file``, re-read
once when IonQ refuses the key); they are never logged, repr'd or put in results. The HTTP
side (retries, back-off, the key) is :mod:`backends.ionq_http`; the payloads and answers
:mod:`backends.ionq_protocol`.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import uuid
from collections import OrderedDict
from typing import Any, ClassVar
from urllib.parse import quote

import numpy as np
from pydantic import Field, SecretStr, field_validator, model_validator

from backends import ionq_protocol as proto
from backends.base import BackendStatus, Capabilities, QuantumBackend, QuantumBatch, QuantumResult
from backends.errors import BackendError, NativeJobLost
from backends.ionq_http import IonQClient
from backends.options import BackendOptions, PositiveCount
from backends.runs import SamplingPlan, sampling_plan
from backends.states import TaskState
from circuits.ir import GATES, NON_UNITARY

log = logging.getLogger(__name__)

DEFAULT_URL = "https://api.ionq.co/v0.4"
# Qubits per backend as IonQ publishes them (GET /backends); ``max_qubits`` overrides.
QUBITS = {"simulator": 29, "qpu.aria-1": 25, "qpu.aria-2": 25, "qpu.forte-1": 36}
QUBITS["qpu.forte-enterprise-1"] = 36
_KEEP_BATCHES = 256


def _ids(native_id: str) -> list[str]:
    return [part for part in native_id.split(",") if part]


class IonQOptions(BackendOptions):
    """Options of ``ionq``. The key is never logged, repr'd or put in results."""

    url: str = DEFAULT_URL
    """The API's base URL."""
    api_key: SecretStr | None = None
    """The IonQ Quantum Cloud API key (or give ``api_key_file``)."""
    api_key_file: str | None = None
    """A file holding the key, re-read once when IonQ refuses it (a rotated key)."""
    target: str = "simulator"
    """``simulator`` or a QPU such as ``qpu.aria-1``."""
    noise_model: str | None = None
    """The simulator's noise model, e.g. ``aria-1`` (simulator only)."""
    max_retries: int = Field(default=5, ge=0)
    """Retries of a call refused with 429 or 5xx, or not answered."""
    backoff_seconds: float = Field(default=1.0, ge=0)
    """The first wait between retries (doubled per retry)."""
    timeout_s: float = Field(default=30.0, gt=0)
    """Timeout of one HTTP call."""
    poll_seconds: float = Field(default=1.0, ge=0)
    """Shortest interval between status calls."""
    max_qubits: PositiveCount | None = None
    """The widest circuit taken (default: the target's published width)."""

    @field_validator("url")
    @classmethod
    def _http_url(cls, url: str) -> str:
        if not url.startswith(("https://", "http://")):
            raise ValueError(f"must be an http(s) URL, not {url!r}")
        return url.rstrip("/")

    @model_validator(mode="after")
    def _a_key(self) -> IonQOptions:
        if self.api_key is None and not self.api_key_file:
            raise ValueError(
                "IonQ needs an API key: give api_key_file (a file holding it) or api_key "
                "in the backends file's ionq section"
            )
        return self

    @model_validator(mode="after")
    def _noise_on_simulator(self) -> IonQOptions:
        if self.noise_model and self.target != "simulator":
            raise ValueError(
                f"noise_model applies to the IonQ simulator only, not to target {self.target!r}"
            )
        return self


class IonQBackend(QuantumBackend):
    """IonQ through its REST API, with the options of :class:`IonQOptions`."""

    name = "ionq"
    Options: ClassVar[type[IonQOptions]] = IonQOptions
    config: IonQOptions

    def __init__(self, config: BackendOptions | None = None, /, **options: Any) -> None:
        super().__init__(config, **options)
        self.url = self.config.url
        self.target = self.config.target
        self.noise_model = self.config.noise_model or None
        self.poll_seconds = self.config.poll_seconds
        self.max_qubits = self.config.max_qubits or QUBITS.get(self.target)
        self._client = IonQClient(
            self.url,
            target=self.target,
            api_key=self.config.api_key,
            api_key_file=self.config.api_key_file,
            max_retries=self.config.max_retries,
            backoff_seconds=self.config.backoff_seconds,
            timeout_s=self.config.timeout_s,
        )
        self._batches: OrderedDict[str, QuantumBatch] = OrderedDict()

    def __repr__(self) -> str:
        return f"IonQBackend(url={self.url!r}, target={self.target!r}, api_key=<hidden>)"

    def capabilities(self) -> Capabilities:
        """Sampling only (no exact mode); every canonical gate; re-attachable native ids."""
        return Capabilities(
            kind="quantum",
            version=f"ionq-api {proto.API_VERSION}",
            max_qubits=self.max_qubits,
            basis_gates=sorted(name for name in GATES if name not in NON_UNITARY),
            exact=False,
            max_shots=proto.MAX_SHOTS,
            max_concurrency=4,
            reattach=True,
            poll_seconds=self.poll_seconds,
            details={"url": self.url, "target": self.target, "noise_model": self.noise_model},
        )

    # --- the contract ------------------------------------------------------------------

    def _circuits(self, plan: SamplingPlan) -> list[proto.QisCircuit]:
        return [
            proto.translate(run.circuit.ir, values) for run in plan.runs for values in run.values
        ]

    def submit(self, batch: QuantumBatch, *, task_id: str) -> str:
        """Create the IonQ job(s) for ``batch``; the native id is their id(s)."""
        if batch.shots is None:
            raise BackendError(
                "IonQ samples circuits and cannot compute exact expectation values; "
                f"set the batch's shots (1 to {proto.MAX_SHOTS})"
            )
        if batch.shots > proto.MAX_SHOTS:
            raise BackendError(f"IonQ takes at most {proto.MAX_SHOTS} shots, not {batch.shots}")
        plan = sampling_plan(batch)
        circuits = self._circuits(plan)
        widest = max(c.qubits for c in circuits)
        if self.max_qubits is not None and widest > self.max_qubits:
            raise BackendError(
                f"a circuit needs {widest} qubits; IonQ {self.target} has {self.max_qubits}"
            )
        noise: dict[str, Any] | None = None
        if self.target == "simulator" and self.noise_model:
            noise = {"model": self.noise_model}
            if batch.seed is not None:
                noise["seed"] = batch.seed % 2**31
        metadata = {"qcb_task": task_id[:400], **proto.encode_record(batch.model_dump_json())}
        payloads = proto.job_payloads(
            circuits,
            backend=self.target,
            shots=batch.shots,
            name=f"qcb-{task_id}-{uuid.uuid4().hex[:8]}",  # unique: see _create
            noise=noise,
            metadata=metadata,
        )
        ids: list[str] = []
        try:
            for body in payloads:
                ids.append(self._client.create(body))
        except BackendError:
            if ids:  # nothing may be left running when submit raises
                with contextlib.suppress(BackendError):
                    self.cancel(",".join(ids))
            raise
        native_id = ",".join(ids)
        self._remember(native_id, batch)
        log.info(
            "task %s: IonQ job(s) %s on %s, %d circuits",
            task_id,
            native_id,
            self.target,
            len(circuits),
        )
        return native_id

    def status(self, native_id: str) -> BackendStatus:
        """The batch's state from ``GET /jobs/{id}``; :class:`NativeJobLost` on 404."""
        return proto.combined_status([self._client.job(i, native_id) for i in _ids(native_id)])

    def cancel(self, native_id: str) -> None:
        """``PUT /jobs/{id}/status/cancel`` for every job not yet final (idempotent)."""
        for job_id in _ids(native_id):
            path = f"/jobs/{quote(job_id, safe='')}"
            try:
                if proto.job_status(self._client.job(job_id, native_id)).state.final:
                    continue
                self._client.request("PUT", f"{path}/status/cancel", lost=native_id)
            except NativeJobLost:
                continue
            except BackendError as exc:
                # Refused because it finished meanwhile: nothing left to stop.
                if (
                    exc.transient
                    or not proto.job_status(self._client.job(job_id, native_id)).state.final
                ):
                    raise

    def _remember(self, native_id: str, batch: QuantumBatch) -> None:
        while len(self._batches) >= _KEEP_BATCHES:
            self._batches.popitem(last=False)
        self._batches[native_id] = batch

    def _batch(self, native_id: str, job: dict[str, Any]) -> QuantumBatch:
        if native_id in self._batches:
            return self._batches[native_id]
        record = proto.decode_record(job.get("metadata"))
        if record is None:
            raise BackendError(
                f"IonQ job {job.get('id')} has no qcbroker batch record in its metadata; "
                "it was not submitted by this backend"
            )
        batch = QuantumBatch.model_validate_json(record)
        self._remember(native_id, batch)
        return batch

    def result(self, native_id: str) -> QuantumResult:
        """Counts or expectation values of a completed batch; for a failed or canceled one,
        an empty result that says why."""
        ids = _ids(native_id)
        jobs = [self._client.job(job_id, native_id) for job_id in ids]
        status = proto.combined_status(jobs)
        batch = self._batch(native_id, jobs[0])
        device = str(jobs[0].get("backend") or self.target)
        model = (jobs[0].get("noise") or {}).get("model")
        common: dict[str, Any] = {
            "backend": self.name,
            "backend_version": f"ionq-api {proto.API_VERSION}",
            "method": device,
            "device": device,
            "shots": batch.shots,
            "seed": batch.seed,
            "native_ids": ids,
            "calls": len(ids),
            "queue_seconds": proto.queue_seconds(jobs),
            "run_seconds": proto.run_seconds(jobs),
        }
        meta = {"ionq_status": status.native_state, "noise_model": model}
        if not status.state.final:
            raise BackendError(f"IonQ job(s) {native_id} not finished: {status.native_state}")
        if status.state is not TaskState.COMPLETED:
            meta["message"] = status.message
            return QuantumResult(items=[], circuit_evaluations=0, metadata=meta, **common)
        assert batch.shots is not None  # submit refuses exact batches
        plan = sampling_plan(batch)
        ideal = device == "simulator" and model in (None, "ideal")
        counts = self._counts(native_id, jobs, plan, batch, ideal)
        return QuantumResult(
            items=plan.assemble(counts),
            circuit_evaluations=plan.executions,
            shots_total=plan.executions * batch.shots,
            metadata=meta,
            **common,
        )

    def _counts(
        self,
        native_id: str,
        jobs: list[dict[str, Any]],
        plan: SamplingPlan,
        batch: QuantumBatch,
        ideal: bool,
    ) -> list[list[dict[str, int]]]:
        """Counts per run and parameter set, from the jobs' probabilities: sampled with the
        batch's seed from the ideal simulator's exact ones, else real shots' frequencies."""
        assert batch.shots is not None
        circuits = self._circuits(plan)
        probabilities: list[dict[str, float]] = []
        for job_id, job in zip(_ids(native_id), jobs, strict=True):
            path = f"/jobs/{quote(job_id, safe='')}/results/probabilities"
            data = self._client.request("GET", path, lost=native_id)
            probabilities.extend(proto.split_probabilities(data, job))
        if len(probabilities) != len(circuits):
            raise BackendError(
                f"IonQ returned results for {len(probabilities)} circuits, not {len(circuits)}"
            )
        rng = None
        if ideal:
            seed = batch.seed
            if seed is None:  # the same counts each time the result is fetched
                seed = int.from_bytes(hashlib.sha256(native_id.encode()).digest()[:8], "big")
            rng = np.random.default_rng(seed)
        flat = [
            proto.to_counts(proto.clbit_distribution(p, c), batch.shots, rng)
            for p, c in zip(probabilities, circuits, strict=True)
        ]
        counts, start = [], 0
        for run in plan.runs:
            counts.append(flat[start : start + run.executions])
            start += run.executions
        return counts
