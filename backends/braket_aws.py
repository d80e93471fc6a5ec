"""The ``braket`` backend's AWS side: sessions, devices, tasks and their bookkeeping.

An AWS batch's native id is ``ARN|ARN|...|s3://manifest``: the ARNs re-attach from any
process, and the manifest (the batch, written to S3 before any task is created) lets
``result`` fold the counts back into items. Thin, and untested against AWS itself (no
network or account here): ``tests/unit/backends/test_braket.py`` drives it through a fake.
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Any, ClassVar

from braket.program_sets import ProgramSet

from backends.base import BackendStatus, ItemResult, QuantumBatch, QuantumResult
from backends.braket_convert import Work, exact_work, program_set_size, raw_results, sampled_work
from backends.braket_options import ARN_PREFIX, BraketOptions
from backends.errors import BackendError, NativeJobLost
from backends.states import TaskState

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


def is_aws_id(native_id: str) -> bool:
    """Whether ``native_id`` names AWS tasks (not a local batch of this process)."""
    return native_id.startswith(ARN_PREFIX)


class BraketAws:
    """What :class:`~backends.braket.BraketBackend` does on AWS (a mixin: the tests replace
    ``_session``, ``_device_handle`` and ``_task`` on the backend class)."""

    name: ClassVar[str]
    config: BraketOptions
    device_name: str
    method: str
    sdk_version: str
    _sessions: dict[str | None, Any]
    _device: Any

    def _session(self, region: str | None) -> Any:
        region = self.config.region or region
        if region not in self._sessions:
            import boto3  # type: ignore[import-untyped]
            from braket.aws import AwsSession

            boto = boto3.Session(profile_name=self.config.aws_profile, region_name=region)
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

    def mechanism(self, work: Work) -> str:
        """How ``work`` reaches the device: ``program_set``, ``run_batch``, ``run``, ``none``."""
        if not work.circuits:
            return "none"
        if work.shots == 0:
            return "run_batch" if len(work.circuits) > 1 else "run"
        size = program_set_size(self._device_handle().properties, work.shots)
        return "program_set" if size > 1 else "run"

    def _submit_aws(self, batch: QuantumBatch, work: Work, task_id: str) -> str:
        device = self._device_handle()
        session = self._session(_region(self.device_name))
        bucket = self.config.s3_bucket or session.default_bucket()
        prefix = self.config.s3_prefix.strip("/")
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

    def _status_aws(self, native_id: str) -> BackendStatus:
        """The least advanced state over the batch's tasks (a failed or cancelled one
        decides)."""
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

    def _cancel_aws(self, native_id: str) -> None:
        for arn in _split_id(native_id)[0]:
            task = self._task(arn)
            if STATES.get(task.state(), TaskState.RUNNING) in (TaskState.QUEUED, TaskState.RUNNING):
                task.cancel()

    def _result_aws(self, native_id: str) -> QuantumResult:
        arns, manifest = _split_id(native_id)
        bucket, _, key = manifest.removeprefix("s3://").partition("/")
        body = self._session(_region(arns[0])).retrieve_s3_object_body(bucket, key)
        batch = QuantumBatch.model_validate(json.loads(body)["batch"])
        work = exact_work(batch) if batch.shots is None else sampled_work(batch, batch.shots)
        tasks = [self._task(arn) for arn in arns]
        meta = [task.metadata() for task in tasks]
        failed = [m for m in meta if m.get("status") != "COMPLETED"]
        common: dict[str, Any] = {
            "backend": self.name,
            "backend_version": self.sdk_version,
            "shots": batch.shots,
            "seed": batch.seed,
            "run_seconds": _span(meta),
            "native_ids": arns,
            "calls": len(arns),
            "device": self.device_name,
        }
        if failed:
            reasons = [str(m.get("failureReason", m.get("status"))) for m in failed]
            return QuantumResult(
                items=[ItemResult() for _ in batch.items],
                method=self.device_name,
                circuit_evaluations=0,
                metadata={"failures": reasons},
                **common,
            )
        raw = [r for task in tasks for r in raw_results(task.result(), batch.shots is None)]
        return QuantumResult(
            items=work.finish(raw),
            method=self.method,
            circuit_evaluations=work.evaluations,
            shots_total=work.evaluations * (batch.shots or 0),
            calibration_time=self._calibration_time(),
            metadata={"mechanism": self.mechanism(work)},
            **common,
        )

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
