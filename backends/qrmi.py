"""``qrmi``: IBM QPUs through QRMI, the Quantum Resource Management Interface that HPC centres
use to reach quantum computers from Slurm (qiskit-community/qrmi).

A sampled batch becomes one Qiskit Runtime ``sampler`` task: the runs of
:func:`backends.runs.sampling_plan`, transpiled to the device's ISA when QRMI gives its
target, as version-2 sampler PUBs encoded with qiskit-ibm-runtime's ``RuntimeEncoder`` (QPY
circuits, numpy parameter arrays), sent as a ``Payload.QiskitPrimitive``. The task id is the
native id. The service answers with a RuntimeEncoder-encoded ``PrimitiveResult``, decoded with
``RuntimeDecoder`` into counts and folded back into items by :meth:`SamplingPlan.assemble`.
Exact mode is refused: hardware samples.

Resource types, options and the settings QRMI gets: :mod:`backends.qrmi_protocol`. Settings
and credentials come from the options only; they are never logged, never in results, and
``repr`` and :attr:`options` show ``***`` for secrets.

Each submitted batch is recorded in ``state_dir`` (default ``$QCB_HOME/qrmi``) under its task
id, so a restarted worker re-attaches (``reattach=True``) and still assembles its result.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import logging
import os
import re
import threading
import time
from collections.abc import Callable
from importlib.metadata import version
from pathlib import Path
from typing import Any, ClassVar, TypeVar

import platformdirs

from backends.base import BackendStatus, Capabilities, QuantumBackend, QuantumBatch, QuantumResult
from backends.errors import BackendError, BackendUnavailable, NativeJobLost
from backends.options import BackendOptions
from backends.qrmi_protocol import (
    TYPES,
    QRMIOptions,
    counts,
    decode_result,
    device_description,
    sampler_input,
    task_state,
)
from backends.runs import SamplingPlan, sampling_plan
from backends.states import TaskState

# qrmi's compiled module has no type stubs.
qrmi: Any = importlib.import_module("qrmi")
log = logging.getLogger(__name__)
T = TypeVar("T")

TARGET_RETRY_S = 60.0
DEVICE_TTL_S = 3600.0
PLANS_KEPT = 256

__all__ = ["QRMIBackend", "QRMIOptions", "task_state"]


class QRMIBackend(QuantumBackend):
    """A QPU behind QRMI, with the options of :class:`~backends.qrmi_protocol.QRMIOptions`."""

    name = "qrmi"
    Options: ClassVar[type[QRMIOptions]] = QRMIOptions
    config: QRMIOptions

    def __init__(self, config: BackendOptions | None = None, /, **options: Any) -> None:
        super().__init__(config, **options)
        assert self.config.resource is not None and self.config.type is not None
        self.type: str = self.config.type
        self.resource = self.config.resource
        self.optimization_level = self.config.optimization_level
        self.poll_seconds = self.config.poll_seconds
        self.max_concurrency = self.config.max_concurrency
        self._settings = self.config.settings()
        self._secrets = self.config.secrets()
        home = os.environ.get("QCB_HOME") or (  # as broker.config.default_home
            "/var/lib/qcbroker" if os.geteuid() == 0 else platformdirs.user_data_path("qcbroker")
        )
        self.state_dir = Path(self.config.state_dir or Path(home) / "qrmi")
        self._lock = threading.RLock()
        self._qrmi: Any = None
        self._device: tuple[dict[str, Any], float] | None = None
        self._device_error: tuple[float, BackendError] | None = None
        self._plans: dict[str, tuple[dict[str, Any], SamplingPlan]] = {}

    def __repr__(self) -> str:
        shown = ", ".join(f"{k}={v!r}" for k, v in sorted(self.options.items()))
        return f"QRMIBackend({shown})"

    # --- qrmi ---------------------------------------------------------------------------

    def _hide(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return text

    def _call(self, what: str, fn: Callable[[], T], native_id: str | None = None) -> T:
        """``fn()`` under the lock, qrmi's errors turned into :class:`BackendError`."""
        with self._lock:
            try:
                return fn()
            except BackendError:
                raise
            except Exception as exc:
                raise self._error(what, exc, native_id) from None

    def _error(self, what: str, exc: Exception, native_id: str | None) -> BackendError:
        kind = type(exc).__name__
        message = self._hide(f"qrmi {what} on {self.resource} failed: {kind}: {exc}")
        if kind == "TaskNotFoundError" and native_id is not None:
            return NativeJobLost(native_id, self._hide(str(exc)))
        if kind == "AuthenticationFailedError":
            return BackendError(
                message, hint="check api_key, service_crn and iam_endpoint for this resource"
            )
        if kind in ("ConfigError", "EnvVarNotSetError"):
            return BackendError(message, hint="check the backend's options")
        if kind == "TaskNotReadyError":
            return BackendError(message, transient=True)
        text = str(exc)
        # Connection failures, throttling and server errors arrive as plain QrmiError text.
        transient = bool(
            re.search(r"error (in|sending) (reqwest|request)|timed out|body: (429|5\d\d)\b", text)
        )
        return BackendError(message, transient=transient)

    def _resource(self) -> Any:
        with self._lock:
            if self._qrmi is None:
                if not hasattr(qrmi.QuantumResource, "from_config"):
                    raise BackendUnavailable(
                        "this qrmi cannot be configured per resource (no from_config)",
                        hint="pip install 'qrmi[ibm]>=0.26.4'",
                    )
                kind = getattr(qrmi.ResourceType, TYPES[self.type][0])
                self._qrmi = self._call(
                    "configuration",
                    lambda: qrmi.QuantumResource.from_config(self.resource, kind, self._settings),
                )
            return self._qrmi

    # --- device -------------------------------------------------------------------------

    def _describe_device(self) -> dict[str, Any]:
        """The device's target, version, shot limit and calibration time, from ``target()``.

        Kept :data:`DEVICE_TTL_S` (calibrations change); a failure is remembered (and raised
        again) for :data:`TARGET_RETRY_S`, so that ``capabilities`` does not call an
        unreachable provider every time.
        """
        with self._lock:
            now = time.monotonic()
            if self._device is not None and now - self._device[1] < DEVICE_TTL_S:
                return self._device[0]
            if self._device_error and now - self._device_error[0] < TARGET_RETRY_S:
                raise self._device_error[1]
            try:
                self._device = (self._read_target(), now)
            except BackendError as exc:
                self._device_error = (now, exc)
                raise
            return self._device[0]

    def _read_target(self) -> dict[str, Any]:
        data = json.loads(self._call("target", lambda: self._resource().target().value))
        conf = data.get("configuration")
        if not conf:
            # qrmi hides why (a refused key, an unknown backend); status() raises the reason.
            self._call("status", lambda: self._resource().status())
            raise BackendError(f"QRMI gave no target for {self.resource}", transient=True)
        return device_description(data, self.resource)

    def capabilities(self) -> Capabilities:
        """Sampling only (``exact=False``); qubits, gates and shot limit from the device's
        target when QRMI gives it, else from the options."""
        device: dict[str, Any] | None = None
        try:
            device = self._describe_device()
        except BackendError as exc:
            log.warning("%s", exc)
        max_qubits = self.config.max_qubits
        max_shots = self.config.max_shots
        basis = None
        details: dict[str, Any] = {"resource": self.resource, "type": self.type}
        if device is not None:
            target = device["target"]
            max_qubits = min(max_qubits or target.num_qubits, target.num_qubits)
            if device["max_shots"]:
                max_shots = min(max_shots or device["max_shots"], int(device["max_shots"]))
            basis = sorted(target.operation_names)
            details["device_version"] = device["version"]
        return Capabilities(
            kind="quantum",
            version=f"qrmi {version('qrmi')}",
            max_qubits=max_qubits,
            basis_gates=basis,
            exact=False,
            max_shots=max_shots,
            max_concurrency=self.max_concurrency,
            reattach=True,
            poll_seconds=self.poll_seconds,
            details=details,
        )

    # --- submit -------------------------------------------------------------------------

    def submit(self, batch: QuantumBatch, *, task_id: str) -> str:
        """Start one sampler task for the whole batch; its task id is the native id."""
        if batch.shots is None:
            raise BackendError(
                f"{self.name} runs on a QPU, which samples: set shots (exact mode, shots=None, "
                "is only for simulators)"
            )
        plan = sampling_plan(batch)
        device = self._describe_device()
        caps = self.capabilities()
        width = max(run.circuit.num_qubits for run in plan.runs)
        if caps.max_qubits is not None and width > caps.max_qubits:
            raise BackendError(
                f"a circuit has {width} qubits; {self.resource} has {caps.max_qubits}"
            )
        if caps.max_shots is not None and batch.shots > caps.max_shots:
            raise BackendError(
                f"{batch.shots} shots; {self.resource} takes at most {caps.max_shots}"
            )
        try:
            text = sampler_input(batch, plan, device["target"], self.optimization_level)
        except BackendError:
            raise
        except Exception as exc:
            raise BackendError(f"cannot build the sampler task for {self.resource}: {exc}") from exc
        payload = qrmi.Payload.QiskitPrimitive(input=text, program_id="sampler")
        native_id = str(self._call("task_start", lambda: self._resource().task_start(payload)))
        record = {
            "batch": batch.model_dump(mode="json"),
            "submitted": time.time(),
            "resource": self.resource,
            "device_version": device["version"],
            "calibration_time": device["calibration_time"],
        }
        self._remember(native_id, record, plan)
        try:
            self.state_dir.mkdir(parents=True, exist_ok=True)
            self._record_path(native_id).write_text(json.dumps(record))
        except OSError as exc:
            log.warning("cannot record %s in %s (no re-attach): %s", native_id, self.state_dir, exc)
        return native_id

    def _record_path(self, native_id: str) -> Path:
        safe = re.sub(r"[^A-Za-z0-9_.-]", "_", native_id)
        return self.state_dir / f"{safe}.json"

    def _plan(self, native_id: str) -> tuple[dict[str, Any], SamplingPlan]:
        if native_id not in self._plans:
            try:
                record = json.loads(self._record_path(native_id).read_text())
            except (OSError, ValueError):
                raise NativeJobLost(
                    native_id, f"its batch is not recorded in {self.state_dir}"
                ) from None
            batch = QuantumBatch.model_validate(record["batch"])
            self._remember(native_id, record, sampling_plan(batch))
        return self._plans[native_id]

    def _remember(self, native_id: str, record: dict[str, Any], plan: SamplingPlan) -> None:
        while len(self._plans) >= PLANS_KEPT:
            self._plans.pop(next(iter(self._plans)))
        self._plans[native_id] = (record, plan)

    # --- follow -------------------------------------------------------------------------

    def status(self, native_id: str) -> BackendStatus:
        """The task's state at the provider (``NativeJobLost`` if neither it nor our record of
        its batch exists)."""
        self._plan(native_id)
        native = self._call(
            "task_status", lambda: self._resource().task_status(native_id), native_id
        )
        state = task_state(native)
        message = self._logs(native_id) if state is TaskState.FAILED else ""
        return BackendStatus(state=state, message=message, native_state=str(native).rsplit(".")[-1])

    def _logs(self, native_id: str) -> str:
        try:
            text = self._call("task_logs", lambda: self._resource().task_logs(native_id))
        except BackendError as exc:
            return exc.message
        return self._hide(str(text))[-2000:]

    def cancel(self, native_id: str) -> None:
        """Stop the task (qrmi cancels only queued or running ones: idempotent)."""
        with contextlib.suppress(NativeJobLost):
            self._call("task_stop", lambda: self._resource().task_stop(native_id), native_id)

    def result(self, native_id: str) -> QuantumResult:
        """Counts or expectation values per item; for a failed task, no items and the reason."""
        record, plan = self._plan(native_id)
        batch = plan.batch
        native = self._call(
            "task_status", lambda: self._resource().task_status(native_id), native_id
        )
        state = task_state(native)
        common: dict[str, Any] = {
            "backend": self.name,
            "backend_version": f"qrmi {version('qrmi')}",
            "method": "sampler",
            "shots": batch.shots,
            "seed": batch.seed,
            "native_ids": [native_id],
            "calls": 1,
            "device": self.resource,
            "calibration_time": record.get("calibration_time"),
        }
        meta = {"resource_type": self.type, "device_version": record.get("device_version")}
        if state is not TaskState.COMPLETED:
            meta.update(state=state.value, message=self._logs(native_id))
            return QuantumResult(
                items=[], circuit_evaluations=0, run_seconds=0.0, metadata=meta, **common
            )
        raw = self._call("task_result", lambda: self._resource().task_result(native_id).value)
        try:
            decoded = decode_result(raw)
            items = plan.assemble([counts(pub) for pub in decoded])
        except BackendError:
            raise
        except Exception as exc:
            raise BackendError(f"cannot read the result of task {native_id}: {exc}") from exc
        spans = (getattr(decoded, "metadata", {}).get("execution") or {}).get("execution_spans")
        run_seconds = float(spans.duration) if spans is not None and len(spans) else None
        if run_seconds is None:
            run_seconds = max(0.0, time.time() - float(record["submitted"]))
            meta["run_seconds"] = "upper bound: submission to result"
        return QuantumResult(
            items=items,
            circuit_evaluations=plan.executions,
            shots_total=plan.executions * int(batch.shots or 0),
            run_seconds=run_seconds,
            metadata=meta,
            **common,
        )
