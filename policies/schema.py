"""The policy file schema (``apiVersion: qcbroker/v1``, ``kind: Policy``).

This is the minimal form the embedded path needs: backends with their units, and proposals
with members, dates and budgets. Unknown fields are errors, so a misspelt key never silently
changes a committee's intent.
"""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

UNITS = ("shots", "evaluations", "qpu_seconds", "node_hours", "core_hours", "credits")
Unit = Literal["shots", "evaluations", "qpu_seconds", "node_hours", "core_hours", "credits"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Metadata(_Strict):
    """Who wrote this revision of the policy."""

    name: str
    revision: str = Field(default="1", description="The committee's label for this revision.")


class BackendPolicy(_Strict):
    """How one backend is charged: the units its usage is counted in."""

    units: list[Unit] = Field(min_length=1)
    charge_factor: float = Field(default=1.0, gt=0)


class Budget(_Strict):
    """An amount of one unit on one backend for a proposal."""

    backend: str
    unit: Unit
    amount: float = Field(ge=0)


class Proposal(_Strict):
    """An allocation award: who may use it, when, and how much."""

    id: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_.-]+$")
    title: str = ""
    pi: str
    members: list[str] = Field(
        min_length=1, description="User names; '*' admits every user (local use only)."
    )
    start: date | None = None
    expires: date | None = None
    budgets: list[Budget] = Field(default_factory=list)

    @model_validator(mode="after")
    def _dates_in_order(self) -> Proposal:
        if self.start and self.expires and self.expires < self.start:
            raise ValueError(f"expires ({self.expires}) is before start ({self.start})")
        return self

    def admits(self, user: str) -> bool:
        """Whether ``user`` is a member (or the PI)."""
        return user == self.pi or user in self.members or "*" in self.members


class Policy(_Strict):
    """A whole policy file."""

    api_version: Literal["qcbroker/v1"] = Field(alias="apiVersion")
    kind: Literal["Policy"]
    metadata: Metadata
    backends: dict[str, BackendPolicy]
    proposals: list[Proposal]

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    def proposal(self, proposal_id: str) -> Proposal | None:
        """The proposal with that id, if any."""
        return next((p for p in self.proposals if p.id == proposal_id), None)

    def cross_check(self) -> list[str]:
        """Problems between sections, each with its path (empty when consistent)."""
        problems: list[str] = []
        seen: set[str] = set()
        for i, prop in enumerate(self.proposals):
            if prop.id in seen:
                problems.append(f"proposals[{i}].id: duplicate proposal id {prop.id!r}")
            seen.add(prop.id)
            for j, budget in enumerate(prop.budgets):
                path = f"proposals[{i}].budgets[{j}]"
                backend = self.backends.get(budget.backend)
                if backend is None:
                    problems.append(
                        f"{path}.backend: unknown backend {budget.backend!r}; "
                        f"the policy's backends are: {', '.join(sorted(self.backends))}"
                    )
                elif budget.unit not in backend.units:
                    problems.append(
                        f"{path}.unit: backend {budget.backend!r} is counted in "
                        f"{', '.join(backend.units)}, not {budget.unit!r}"
                    )
        return problems
