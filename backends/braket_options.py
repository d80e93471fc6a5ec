"""The ``braket`` backend's options and device names (no SDK import: safe to read anywhere)."""

from __future__ import annotations

from pydantic import Field, field_validator

from backends.options import BackendOptions, PositiveCount

LOCAL = {"local": "braket_sv", "braket_sv": "braket_sv", "braket_dm": "braket_dm"}
"""Local simulator names and the method each runs."""
EXACT_AWS = ("/quantum-simulator/amazon/sv1", "/quantum-simulator/amazon/dm1")
"""The AWS devices that compute exact expectation values (ARN endings)."""
ARN_PREFIX = "arn:aws:braket:"


class BraketOptions(BackendOptions):
    """Options of ``braket``."""

    device: str = "local"
    """``local`` or ``braket_sv`` (state vector), ``braket_dm`` (density matrix), run in the
    worker; or an AWS device ARN (``arn:aws:braket:...``)."""
    s3_bucket: str | None = None
    """AWS only: the bucket for results (default: the account's Braket bucket)."""
    s3_prefix: str = "qcbroker"
    """AWS only: the key prefix for results and batch manifests."""
    aws_profile: str | None = None
    """AWS only: the credentials profile (default: the environment's credentials)."""
    region: str | None = None
    """AWS only: the region (default: the device ARN's)."""
    max_qubits: PositiveCount | None = None
    """The widest circuit taken (default: the device's own limit)."""
    poll_seconds: float | None = Field(default=None, ge=0)
    """Shortest interval between status calls (default: 0 locally, 2 on AWS)."""

    @field_validator("device")
    @classmethod
    def _known_device(cls, device: str) -> str:
        if device not in LOCAL and not device.startswith(ARN_PREFIX):
            raise ValueError(
                f"unknown Braket device {device!r}; choose one of {', '.join(LOCAL)} or an AWS "
                f"device ARN ({ARN_PREFIX}...)"
            )
        return device
