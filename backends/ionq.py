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
once when IonQ refuses the key); they are never logged, repr'd or put in results.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import time
import uuid
from collections import OrderedDict
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import numpy as np

from backends import ionq_protocol as proto
from backends.base import BackendStatus, Capabilities, QuantumBackend, QuantumBatch, QuantumResult
from backends.batching import SamplingPlan, sampling_plan
from backends.errors import BackendError, NativeJobLost
from backends.states import TaskState
from circuits.ir import GATES, NON_UNITARY

log = logging.getLogger(__name__)

OPTIONS: tuple[str, ...] = ("url", "api_key", "api_key_file", "target", "noise_model")
OPTIONS += ("max_retries", "backoff_seconds", "timeout_s", "poll_seconds", "max_qubits")
DEFAULT_URL = "https://api.ionq.co/v0.4"
# Qubits per backend as IonQ publishes them (GET /backends); ``max_qubits`` overrides.
QUBITS = {"simulator": 29, "qpu.aria-1": 25, "qpu.aria-2": 25, "qpu.forte-1": 36}
QUBITS["qpu.forte-enterprise-1"] = 36
_MAX_WAIT_S = 120.0
_KEEP_BATCHES = 256
_KEY_HINT = (
    "check the ionq backend's api_key or api_key_file option: the key must be a current "
    "IonQ Quantum Cloud API key (not revoked) of a project allowed to use target {target}"
)


class _Unanswered(BackendError):
    """A job POST reached IonQ but its answer was lost: the job may exist."""


def _ids(native_id: str) -> list[str]:
    return [part for part in native_id.split(",") if part]


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return None


def _words(response: httpx.Response) -> str:
    """IonQ's own words for an error answer (``{"error", "message", "statusCode"}``)."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and (body.get("message") or body.get("error")):
        text = str(body.get("message") or body.get("error"))
        keys = (body.get("validation") or {}).get("keys")
        return f"{text} (fields: {', '.join(map(str, keys))})" if keys else text
    return response.reason_phrase or f"HTTP {response.status_code}"


class IonQBackend(QuantumBackend):
    """IonQ through its REST API. Options: ``url`` (default :data:`DEFAULT_URL`), ``api_key``
    or ``api_key_file``, ``target`` (``simulator`` or a QPU such as ``qpu.aria-1``),
    ``noise_model`` (simulator only, e.g. ``aria-1``), ``max_retries`` (5),
    ``backoff_seconds`` (1.0, doubled per retry), ``timeout_s`` (30), ``poll_seconds`` (1.0)
    and ``max_qubits``."""

    name = "ionq"

    def __init__(self, **options: Any) -> None:
        unknown = sorted(set(options) - set(OPTIONS))
        if unknown:
            raise BackendError(
                f"unknown ionq option(s) {', '.join(unknown)}; valid options: {', '.join(OPTIONS)}"
            )
        super().__init__(**{k: "<hidden>" if k == "api_key" else v for k, v in options.items()})
        self.url = str(options.get("url") or DEFAULT_URL).rstrip("/")
        if not self.url.startswith(("https://", "http://")):
            raise BackendError(f"the ionq url option must be an http(s) URL, not {self.url!r}")
        self.target = str(options.get("target") or "simulator")
        noise = options.get("noise_model")
        self.noise_model = str(noise) if noise else None
        if self.noise_model and self.target != "simulator":
            raise BackendError(
                f"noise_model applies to the IonQ simulator only, not to target {self.target!r}"
            )
        try:
            self.max_retries = int(options.get("max_retries", 5))
            self.backoff_seconds = float(options.get("backoff_seconds", 1.0))
            self.timeout_s = float(options.get("timeout_s", 30.0))
            self.poll_seconds = float(options.get("poll_seconds", 1.0))
            limit = options.get("max_qubits") or QUBITS.get(self.target)
            self.max_qubits = int(limit) if limit is not None else None
        except (TypeError, ValueError) as exc:
            raise BackendError(f"bad ionq option value: {exc}") from None
        if min(self.max_retries, self.backoff_seconds, self.poll_seconds) < 0:
            raise BackendError("max_retries, backoff_seconds and poll_seconds cannot be negative")
        self._key: str | None = options.get("api_key") or None
        self._key_file = options.get("api_key_file")
        self._http = httpx.Client(timeout=self.timeout_s)
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

    # --- HTTP --------------------------------------------------------------------------

    def _api_key(self, reread: bool = False) -> str:
        if self._key_file and (self._key is None or reread):
            try:
                self._key = Path(self._key_file).read_text().strip() or None
            except OSError as exc:
                raise BackendError(f"cannot read the IonQ api_key_file: {exc}") from None
        if not self._key:
            raise BackendError(
                "the ionq backend has no API key",
                hint="set its api_key or api_key_file option in the backends file",
            )
        return self._key

    def _request(self, method: str, path: str, *, body: Any = None, lost: str | None = None) -> Any:
        """One API call, retried on 429 (after Retry-After), 5xx and connection errors.

        ``lost``: the native id to name in :class:`NativeJobLost` when IonQ answers 404.
        """
        attempt, reread = 0, False
        while True:
            headers = {
                "Authorization": f"apiKey {self._api_key()}",
                "Accept": "application/json",
                "User-Agent": "qcbroker-ionq",
            }
            try:
                response = self._http.request(method, self.url + path, json=body, headers=headers)
            except httpx.TransportError as exc:
                # A job POST that may have reached IonQ is not repeated blindly: see submit.
                sent = not isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout)
                if (method == "POST" and sent) or attempt >= self.max_retries:
                    error = _Unanswered if method == "POST" and sent else BackendError
                    raise error(
                        f"cannot reach IonQ at {self.url} ({method} {path}): "
                        f"{type(exc).__name__}: {exc}",
                        transient=True,
                    ) from None
                wait = self.backoff_seconds * 2**attempt
                log.warning("IonQ %s %s: %s; retrying in %.1fs", method, path, exc, wait)
            else:
                code = response.status_code
                if code < 400:
                    try:
                        return response.json() if response.content else {}
                    except ValueError:
                        raise BackendError(
                            f"IonQ answered {method} {path} with something other than JSON",
                            transient=True,
                        ) from None
                if code in (401, 403):
                    if self._key_file and not reread:
                        reread = True
                        self._api_key(reread=True)
                        continue
                    raise BackendError(
                        f"IonQ refused the API key (HTTP {code}: {_words(response)})",
                        hint=_KEY_HINT.format(target=self.target),
                    )
                if code == 404 and lost is not None:
                    raise NativeJobLost(lost, f"IonQ does not know it ({_words(response)})")
                if code != 429 and code < 500:
                    raise BackendError(
                        f"IonQ refused {method} {path}: HTTP {code}: {_words(response)}"
                    )
                if attempt >= self.max_retries:
                    raise BackendError(
                        f"IonQ answered HTTP {code} to {method} {path} {attempt + 1} times: "
                        f"{_words(response)}",
                        transient=True,
                        hint="IonQ is rate limiting or unavailable; see status.ionq.co",
                    )
                wait = (_retry_after(response) if code == 429 else None) or (
                    self.backoff_seconds * 2**attempt
                )
                log.warning("IonQ %s %s: HTTP %d; retrying in %.1fs", method, path, code, wait)
            time.sleep(min(wait, _MAX_WAIT_S))
            attempt += 1

    def _job(self, job_id: str, native_id: str) -> dict[str, Any]:
        data = self._request("GET", f"/jobs/{quote(job_id, safe='')}", lost=native_id)
        if not isinstance(data, dict):
            raise BackendError(f"IonQ returned no job record for {job_id}", transient=True)
        return data

    def _create(self, body: dict[str, Any]) -> str:
        try:
            created = self._request("POST", "/jobs", body=body)
        except _Unanswered:
            # The answer was lost after the body was sent: adopt the job if IonQ made it.
            found = self._find(str(body["name"]))
            if found is None:
                raise
            return found
        job_id = created.get("id") if isinstance(created, dict) else None
        if not job_id:
            raise BackendError(f"IonQ created a job but returned no id: {created!r}")
        return str(job_id)

    def _find(self, name: str) -> str | None:
        listing = self._request("GET", "/jobs?limit=25")
        for job in listing.get("jobs", []) if isinstance(listing, dict) else []:
            if job.get("name") == name and job.get("id"):
                return str(job["id"])
        return None

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
                ids.append(self._create(body))
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
        return proto.combined_status([self._job(i, native_id) for i in _ids(native_id)])

    def cancel(self, native_id: str) -> None:
        """``PUT /jobs/{id}/status/cancel`` for every job not yet final (idempotent)."""
        for job_id in _ids(native_id):
            path = f"/jobs/{quote(job_id, safe='')}"
            try:
                if proto.job_status(self._job(job_id, native_id)).state.final:
                    continue
                self._request("PUT", f"{path}/status/cancel", lost=native_id)
            except NativeJobLost:
                continue
            except BackendError as exc:
                # Refused because it finished meanwhile: nothing left to stop.
                if exc.transient or not proto.job_status(self._job(job_id, native_id)).state.final:
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
        jobs = [self._job(job_id, native_id) for job_id in ids]
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
        circuits = self._circuits(plan)
        probabilities: list[dict[str, float]] = []
        for job_id, job in zip(ids, jobs, strict=True):
            data = self._request(
                "GET", f"/jobs/{quote(job_id, safe='')}/results/probabilities", lost=native_id
            )
            probabilities.extend(proto.split_probabilities(data, job))
        if len(probabilities) != len(circuits):
            raise BackendError(
                f"IonQ returned results for {len(probabilities)} circuits, not {len(circuits)}"
            )
        rng = None
        if device == "simulator" and model in (None, "ideal"):
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
        return QuantumResult(
            items=plan.assemble(counts),
            circuit_evaluations=plan.executions,
            shots_total=plan.executions * batch.shots,
            metadata=meta,
            **common,
        )
