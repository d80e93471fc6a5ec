"""What backends this installation offers: ``qcb backends`` and ``Client.backends()``."""

from __future__ import annotations

from pydantic import BaseModel, Field

from backends import registry
from backends.base import QuantumBackend
from backends.errors import BackendError
from broker.core.orchestrator import Broker
from broker.errors import BrokerError


class BackendInfo(BaseModel):
    """One registered backend as a user sees it: usable here or not, and what it takes."""

    name: str
    kind: str | None = None
    available: bool
    reason: str = Field(default="", description="Why it is not usable here, and what to do.")
    version: str | None = None
    max_qubits: int | None = None
    exact: bool | None = None
    reattach: bool | None = None


def describe(broker: Broker) -> list[BackendInfo]:
    """Every backend registered on this machine, configured as the broker would use it."""
    infos = []
    for name in registry.names():
        try:
            cls = registry.load_class(name)
            kind = "quantum" if issubclass(cls, QuantumBackend) else "classical"
            caps = broker.backend(name).capabilities()
        except (BackendError, BrokerError) as exc:
            infos.append(BackendInfo(name=name, available=False, reason=str(exc)))
            continue
        infos.append(
            BackendInfo(
                name=name,
                kind=kind,
                available=True,
                version=caps.version,
                max_qubits=caps.max_qubits,
                exact=caps.exact if kind == "quantum" else None,
                reattach=caps.reattach,
            )
        )
    return infos
