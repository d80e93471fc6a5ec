"""Who may see and do what, in service mode.

A request acts for a :class:`Principal`: a user name and the global role of their token.
Roles:

- ``researcher``: sees and cancels their own jobs, in the proposals they belong to, and
  reads those proposals' usage.
- ``pi``: not a token role but a relation from the policy in force: the PI of a proposal
  sees and cancels every job of that proposal. A researcher token of a PI acts as PI.
- ``committee``: reads the usage of every proposal and the policy history; validates,
  diffs and applies policy revisions. Sees jobs only where also a member.
- ``admin``: everything, and creates and revokes tokens.
- ``driver``: a driver program's token (:mod:`broker.drivers.service`), made by the worker that
  starts the program and revoked when its job ends. It acts for the job's owner but only
  within that one job: read it, follow its events, submit quantum tasks to it and read them.

Membership always comes from the policy in force (``Proposal.admits``), so a committee that
removes a member removes their access with the next revision.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from policies.schema import Policy


class Role(StrEnum):
    """A token's global role."""

    RESEARCHER = "researcher"
    COMMITTEE = "committee"
    ADMIN = "admin"
    DRIVER = "driver"


@dataclass(frozen=True)
class Principal:
    """Who a request acts for."""

    user: str
    role: Role
    token_id: str = ""
    job_id: str | None = None

    @property
    def is_admin(self) -> bool:
        """Whether this principal may do everything."""
        return self.role is Role.ADMIN

    @property
    def governs_policy(self) -> bool:
        """Whether this principal may validate, diff, apply and read policy revisions."""
        return self.role in (Role.COMMITTEE, Role.ADMIN)


def is_pi(policy: Policy, user: str, proposal: str) -> bool:
    """Whether ``user`` is the PI of ``proposal`` in ``policy``."""
    found = policy.proposal(proposal)
    return found is not None and found.pi == user


def belongs(policy: Policy, user: str, proposal: str) -> bool:
    """Whether ``user`` is a member (or the PI) of ``proposal`` in ``policy``."""
    found = policy.proposal(proposal)
    return found is not None and found.admits(user)


def may_see_job(policy: Policy, who: Principal, proposal: str, owner: str) -> bool:
    """Whether ``who`` may read a job of ``owner`` under ``proposal`` (and cancel it).

    A driver token's scope to its one job is checked where the job id is known
    (:func:`within_scope`)."""
    if who.is_admin:
        return True
    if not belongs(policy, who.user, proposal):
        return False
    return owner == who.user or is_pi(policy, who.user, proposal)


def within_scope(who: Principal, job_id: str) -> bool:
    """Whether ``who`` may act on job ``job_id`` at all: always, but for a driver token,
    which acts only within its own job."""
    return who.job_id is None or who.job_id == job_id


def may_see_usage(policy: Policy, who: Principal, proposal: str) -> bool:
    """Whether ``who`` may read the usage and budgets of ``proposal``."""
    if who.role is Role.DRIVER:
        return False
    return who.role in (Role.ADMIN, Role.COMMITTEE) or belongs(policy, who.user, proposal)


def visible_proposals(policy: Policy, who: Principal) -> list[str]:
    """The proposals whose usage ``who`` may read."""
    return [p.id for p in policy.proposals if may_see_usage(policy, who, p.id)]


def job_scope(policy: Policy, who: Principal) -> tuple[str | None, list[str] | None]:
    """What a job listing shows ``who``: ``(user, pi_proposals)``.

    ``(None, None)`` means every job (admin). Otherwise their own jobs in proposals they
    belong to, plus every job of the proposals they lead.
    """
    if who.is_admin:
        return None, None
    led = [p.id for p in policy.proposals if p.pi == who.user]
    return who.user, led
