"""The policy file schema (``apiVersion: qcbroker/v1``, ``kind: Policy``).

A policy holds backends with their units, charge factors and capacity; security domains;
QOS levels; priority weights; fair-share settings; optional overrun bands and
use-it-or-lose-it checkpoints; and the proposals with their budgets. The sections live in
:mod:`policies.sections` and :mod:`policies.proposals`; checks between sections in
:mod:`policies.crosscheck`.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, PrivateAttr

from policies.proposals import Budget, Proposal
from policies.sections import (
    QOS,
    BackendPolicy,
    Checkpoint,
    Effective,
    FairShare,
    Metadata,
    Overrun,
    Priority,
    SecurityDomain,
    Strict,
)
from policies.types import UNITS, Unit

__all__ = [
    "QOS",
    "UNITS",
    "BackendPolicy",
    "Budget",
    "Checkpoint",
    "Effective",
    "FairShare",
    "Metadata",
    "Overrun",
    "Policy",
    "Priority",
    "Proposal",
    "SecurityDomain",
    "Unit",
]

DEFAULT_DOMAINS = {"open": SecurityDomain(backends=["*"])}
DEFAULT_QOS = {"normal": QOS()}


class Policy(Strict):
    """A whole policy file."""

    api_version: Literal["qcbroker/v1"] = Field(alias="apiVersion")
    kind: Literal["Policy"]
    metadata: Metadata
    effective: Effective | None = None
    backends: dict[str, BackendPolicy]
    security_domains: dict[str, SecurityDomain] = Field(
        default_factory=lambda: dict(DEFAULT_DOMAINS)
    )
    qos: dict[str, QOS] = Field(default_factory=lambda: dict(DEFAULT_QOS), min_length=1)
    default_qos: str | None = Field(
        default=None, description="QOS of a job that names none; default: the first level."
    )
    priority: Priority = Field(default_factory=Priority)
    fairshare: FairShare = Field(default_factory=FairShare)
    overrun: Overrun = Field(default_factory=Overrun)
    checkpoints: list[Checkpoint] = Field(default_factory=list)
    proposals: list[Proposal]

    _by_id: dict[str, Proposal] | None = PrivateAttr(default=None)

    def proposal(self, proposal_id: str) -> Proposal | None:
        """The proposal with that id, if any."""
        return self._proposals().get(proposal_id)

    def _proposals(self) -> dict[str, Proposal]:
        if self._by_id is None:
            self._by_id = {p.id: p for p in self.proposals}
        return self._by_id

    def qos_of(self, proposal: Proposal, requested: str | None) -> str:
        """The QOS a job of ``proposal`` runs at when it asks for ``requested`` (or none)."""
        if requested is not None:
            return requested
        if proposal.allowed_qos:
            return proposal.allowed_qos[0]
        return self.default_qos or next(iter(self.qos))

    def allowed_qos(self, proposal: Proposal) -> list[str]:
        """The QOS levels a proposal's jobs may use."""
        return list(proposal.allowed_qos) or [self.default_qos or next(iter(self.qos))]

    def domain_allows(self, proposal: Proposal, backend: str) -> bool:
        """Whether the proposal's security domain lets its jobs run on ``backend``."""
        domain = self.security_domains.get(proposal.security_domain)
        return domain is not None and domain.allows(backend)

    def cross_check(self) -> list[str]:
        """Problems between sections, each with its path (empty when consistent)."""
        from policies.crosscheck import cross_check

        return cross_check(self)
