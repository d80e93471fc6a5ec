"""What the ``qrmi`` backend says to QRMI, and reads back: its options and the QRMI settings
of one resource made from them, the sampler task's input, the device's target, and task
states and results.

Resource types (option ``type``), each with the prefix of the QRMI settings it reads:
``ibm-quantum-compute-service`` (``QRMI_IBM_QCS_``), its former name
``qiskit-runtime-service`` (``QRMI_IBM_QRS_``), and ``ibm-quantum-system`` or its former name
``direct-access`` (``QRMI_IBM_QS_``, results through S3).
"""

from __future__ import annotations

import json
from typing import Any, Literal, get_args

import numpy as np
from pydantic import Field, SecretStr, model_validator
from qiskit.transpiler import generate_preset_pass_manager
from qiskit_ibm_runtime import RuntimeDecoder, RuntimeEncoder
from qiskit_ibm_runtime.utils.backend_converter import convert_to_target
from qiskit_ibm_runtime.utils.backend_decoder import (
    configuration_from_server_data,
    properties_from_server_data,
)

from backends.base import QuantumBatch
from backends.errors import BackendError
from backends.options import BackendOptions, PositiveCount
from backends.runs import SamplingPlan
from backends.states import TaskState

ResourceType = Literal[
    "ibm-quantum-compute-service", "qiskit-runtime-service", "ibm-quantum-system", "direct-access"
]
#: Resource type -> (qrmi ``ResourceType`` member, prefix of its settings).
TYPES: dict[str, tuple[str, str]] = {
    "ibm-quantum-compute-service": ("IBMQuantumComputeService", "QRMI_IBM_QCS_"),
    "qiskit-runtime-service": ("IBMQiskitRuntimeService", "QRMI_IBM_QRS_"),
    "ibm-quantum-system": ("IBMQuantumSystem", "QRMI_IBM_QS_"),
    "direct-access": ("IBMQuantumSystem", "QRMI_IBM_QS_"),
}
assert set(TYPES) == set(get_args(ResourceType))
REQUIRED = ("resource", "type", "endpoint", "iam_endpoint", "api_key", "service_crn")
S3 = ("s3_endpoint", "s3_bucket", "s3_region", "aws_access_key_id", "aws_secret_access_key")
#: Option -> QRMI setting, after the type's prefix (``api_key`` -> ``QRMI_IBM_QCS_IAM_APIKEY``).
SETTINGS: dict[str, str] = {
    **{k: k.upper() for k in (*REQUIRED[2:], "session_id", "timeout_seconds", *S3)},
    "api_key": "IAM_APIKEY",
}
#: qrmi ``TaskStatus`` names (qrmi folds IBM's "Cancelled - Ran too long" into Cancelled).
STATES = {
    n: TaskState[n.upper()] for n in ("Queued", "Running", "Completed", "Failed", "Cancelled")
}


class QRMIOptions(BackendOptions):
    """Options of ``qrmi``. Settings and credentials go to QRMI as the configuration of this
    one resource, never to logs or results."""

    resource: str | None = None
    """The QRMI resource id: the IBM backend's name."""
    type: ResourceType | None = None
    """The resource type."""
    endpoint: str | None = None
    """The service's endpoint."""
    iam_endpoint: str | None = None
    """The IAM token endpoint."""
    api_key: SecretStr | None = None
    """The IAM API key."""
    service_crn: str | None = None
    """The service instance's CRN."""
    session_id: str | None = None
    """A session opened elsewhere (e.g. by Slurm's QRMI plugin)."""
    timeout_seconds: int | None = Field(default=None, ge=1)
    """The job's cost limit (ibm-quantum-system: its timeout, default 3600)."""
    s3_endpoint: str | None = None
    """ibm-quantum-system: the S3 endpoint for payloads and results."""
    s3_bucket: str | None = None
    """ibm-quantum-system: the S3 bucket."""
    s3_region: str | None = None
    """ibm-quantum-system: the S3 region."""
    aws_access_key_id: SecretStr | None = None
    """ibm-quantum-system: the S3 access key id."""
    aws_secret_access_key: SecretStr | None = None
    """ibm-quantum-system: the S3 secret access key."""
    optimization_level: int = Field(default=1, ge=0, le=3)
    """The transpiler's optimization level."""
    max_qubits: PositiveCount | None = None
    """The widest circuit taken (at most the device's width)."""
    max_shots: PositiveCount | None = None
    """The most shots taken (at most the device's limit)."""
    max_concurrency: PositiveCount = 3
    """Tasks kept at the provider at once."""
    poll_seconds: float = Field(default=2.0, ge=0)
    """Shortest interval between status calls."""
    state_dir: str | None = None
    """Where submitted batches are recorded for re-attaching (default ``$QCB_HOME/qrmi``)."""

    @model_validator(mode="after")
    def _complete(self) -> QRMIOptions:
        system = self.type is not None and TYPES[self.type][0] == "IBMQuantumSystem"
        needed = REQUIRED + (S3 if system else ())
        missing = [k for k in needed if _text(getattr(self, k)) in (None, "")]
        if missing:
            what = f"a resource of type {self.type}" if self.type else "a resource"
            raise ValueError(f"{what} needs option(s): {', '.join(missing)}")
        return self

    def settings(self) -> dict[str, str]:
        """The QRMI settings of this resource (``QRMI_IBM_QCS_ENDPOINT``...), secrets in the
        clear: for QRMI only."""
        assert self.type is not None
        system = TYPES[self.type][0] == "IBMQuantumSystem"
        prefix = TYPES[self.type][1]
        settings = {
            prefix + setting: value
            for key, setting in SETTINGS.items()
            if (value := _text(getattr(self, key))) is not None
        }
        if system:
            # ibm-quantum-system reads the job timeout (required) under the generic name.
            timeout = settings.pop(prefix + "TIMEOUT_SECONDS", "3600")
            settings["QRMI_JOB_TIMEOUT_SECONDS"] = timeout
        return settings

    def secrets(self) -> list[str]:
        """The credentials' values, to blank out of every message."""
        values = [_text(getattr(self, k)) for k in self.secret_fields()]
        return [value for value in values if value]


def _text(value: Any) -> str | None:
    if value is None:
        return None
    return value.get_secret_value() if isinstance(value, SecretStr) else str(value)


def task_state(native: Any) -> TaskState:
    """The :class:`TaskState` of a qrmi ``TaskStatus`` (``TaskStatus.Running`` -> RUNNING)."""
    name = str(native).rsplit(".", 1)[-1]
    try:
        return STATES[name]
    except KeyError:
        raise BackendError(f"qrmi reported an unknown task status {native!r}") from None


def sampler_input(
    batch: QuantumBatch, plan: SamplingPlan, target: Any, optimization_level: int
) -> str:
    """The sampler's version-2 input JSON: one PUB per run, transpiled to ``target``."""
    pm = generate_preset_pass_manager(
        target=target, optimization_level=optimization_level, seed_transpiler=batch.seed
    )
    pubs = []
    for run in plan.runs:
        qc = pm.run(run.circuit.to_qiskit())
        # Transpiling keeps parameter names; values follow qc.parameters' order.
        order = [run.circuit.parameters.index(p.name) for p in qc.parameters]
        pubs.append((qc, np.ascontiguousarray(run.values[:, order])))
    options: dict[str, Any] = {}
    if batch.seed is not None:
        options["simulator"] = {"seed_simulator": batch.seed}
    body = {"pubs": pubs, "shots": batch.shots, "options": options, "version": 2}
    # support_qiskit: the service answers with RuntimeEncoder-typed Qiskit objects.
    return json.dumps({**body, "support_qiskit": True}, cls=RuntimeEncoder)


def device_description(data: dict[str, Any], resource: str) -> dict[str, Any]:
    """The target, version, shot limit and calibration time from QRMI's ``target()`` JSON
    (which has a ``configuration``)."""
    conf = data["configuration"]
    try:
        config = configuration_from_server_data(conf)
        props = properties_from_server_data(data.get("properties"))
        target = convert_to_target(configuration=config, properties=props)
    except Exception as exc:
        raise BackendError(f"cannot read the target of {resource}: {exc}") from exc
    when = getattr(props, "last_update_date", None)
    return {
        "target": target,
        "version": str(conf.get("backend_version", "")),
        "max_shots": conf.get("max_shots"),
        "calibration_time": when.isoformat() if when is not None else None,
    }


def decode_result(raw: str) -> Any:
    """A sampler task's result: the service's RuntimeEncoder JSON as a ``PrimitiveResult``."""
    return json.loads(raw, cls=RuntimeDecoder)


def counts(pub: Any) -> list[dict[str, int]]:
    """Counts per parameter set of one sampler PUB result (all registers joined, Qiskit
    order)."""
    bits = pub.join_data()
    if bits.shape == ():
        return [dict(bits.get_counts())]
    return [dict(bits.get_counts(i)) for i in range(bits.shape[0])]
