"""Everything but jobs: who am I, backends, usage, the policy (committee), tokens (admin)
and workload traces."""

from __future__ import annotations

import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import PlainTextResponse

from broker import catalog
from broker.accounting import shares, usage
from broker.accounting.trace_export import export_trace
from broker.accounting.usage import ProposalUsage
from broker.api.deps import Svc, Who
from broker.api.service import Service
from broker.api.wire import PolicyApply, PolicyDiff, PolicyText, TokenRequest, TraceRequest
from broker.catalog import BackendInfo
from broker.errors import NotFound
from broker.service import tokens
from broker.service.access import (
    Principal,
    is_pi,
    may_see_job,
    may_see_usage,
    visible_proposals,
)
from broker.store import revisions
from broker.store.audit import record_audit
from policies.diff import diff_policies, format_diff
from policies.loader import parse_policy

router = APIRouter()


@router.get("/whoami", tags=["service"])
def whoami(svc: Svc, who: Who) -> dict[str, Any]:
    """Your user name, role, and the proposals you belong to and lead."""
    policy = svc.broker.policy.policy
    mine = [p.id for p in policy.proposals if p.admits(who.user)]
    return {
        "user": who.user,
        "role": who.role.value,
        "proposals": mine,
        "pi_of": [p for p in mine if is_pi(policy, who.user, p)],
        "policy_revision": svc.broker.policy.revision,
    }


@router.get("/backends", tags=["service"])
def backends(svc: Svc, _: Who) -> list[BackendInfo]:
    """The backends of this service: usable or not (and why), qubits, software."""
    return catalog.describe(svc.broker)


def _proposals(request: Request, svc: Service, who: Principal, proposal: str | None) -> list[str]:
    policy = svc.broker.policy.policy
    if proposal is None:
        return visible_proposals(policy, who)
    if policy.proposal(proposal) is None and who.governs_policy:
        raise NotFound(f"no proposal {proposal!r} in the policy in force")
    if not may_see_usage(policy, who, proposal):  # unknown ones too: no hint they exist
        raise svc.forbid(request, who, f"you are not a member of proposal {proposal!r}")
    return [proposal]


@router.get("/usage", tags=["allocations"])
def usage_of(
    request: Request, svc: Svc, who: Who, proposal: str | None = None
) -> list[ProposalUsage]:
    """Used, held and remaining per budget of your proposals (committee: of every one)."""
    policy = svc.broker.policy.policy
    with svc.broker.db.read() as conn:
        return [
            usage.proposal_usage(conn, policy, policy.proposal(p))  # type: ignore[arg-type]
            for p in _proposals(request, svc, who, proposal)
        ]


@router.get("/fairshare", tags=["allocations"])
def fairshare(svc: Svc, who: Who, backend: str | None = None) -> list[shares.ShareRow]:
    """Each backend's Fair Tree (or ``backend``'s), as ``sshare -l`` shows Slurm's: shares,
    decayed usage, level fair share and each user's factor. Programs and the root for
    everyone; proposals and their users for their members (a committee: all)."""
    policy = svc.broker.policy.policy
    return shares.fairshare(svc.broker, lambda p: may_see_usage(policy, who, p), backend)


@router.get("/priority", tags=["allocations"])
def priority(svc: Svc, who: Who) -> list[shares.PriorityRow]:
    """Each pending task's priority and its factors, best first, as ``sprio -l`` shows a
    job's: your tasks, your proposals' if you are their PI, every one for a committee."""
    policy = svc.broker.policy.policy

    def visible(proposal: str, user: str) -> bool:
        return who.governs_policy or may_see_job(policy, who, proposal, user)

    return shares.priorities(svc.broker, visible)


@router.get("/usage/burn-down", tags=["allocations"])
def burn_down(
    request: Request, svc: Svc, who: Who, proposal: str | None = None
) -> list[dict[str, Any]]:
    """Cumulative charges of each budget over its current period, for plots."""
    found = usage_of(request, svc, who, proposal)
    with svc.broker.db.read() as conn:
        return [
            {
                "key": [b.proposal, b.backend, b.unit, b.period],
                "points": [p.model_dump(mode="json") for p in usage.burn_down(conn, b)],
            }
            for u in found
            for b in u.budgets
        ]


def _committee(request: Request, svc: Service, who: Principal) -> None:
    if not who.governs_policy:
        raise svc.forbid(request, who, "only the allocation committee and admins may do this")


@router.get("/policy", tags=["policy"])
def policy(request: Request, svc: Svc, who: Who) -> dict[str, str]:
    """The revision in force and its text (committee, admin)."""
    _committee(request, svc, who)
    loaded = svc.broker.policy
    return {"revision": loaded.revision, "sha256": loaded.sha256, "text": loaded.text,
            "source": _name_only(loaded.source)}  # fmt: skip


def _name_only(source: str) -> str:
    """A policy's source as answers show it: a file's name, never the server's path."""
    return Path(source).name or source


@router.get("/policy/history", tags=["policy"])
def history(request: Request, svc: Svc, who: Who) -> list[dict[str, Any]]:
    """Every revision, oldest first; the last is in force (committee, admin)."""
    _committee(request, svc, who)
    _ = svc.broker.policy  # records the policy file's revision if it is new
    with svc.broker.db.read() as conn:
        found = [
            {k: getattr(r, k) for k in revisions.Revision.__dataclass_fields__}
            for r in revisions.history(conn)
        ]
    server_file = str(svc.settings.policy_file)
    for line in found:  # the server's own file is named, never its path
        line["source"] = _name_only(str(line["source"]))
        line["reason"] = str(line["reason"]).replace(server_file, _name_only(server_file))
    return found


@router.post("/policy/validate", tags=["policy"])
def validate(request: Request, svc: Svc, who: Who, body: PolicyText) -> dict[str, Any]:
    """Check a policy text: its revision id, or 422 listing every error with its path."""
    _committee(request, svc, who)
    loaded = parse_policy(body.text, body.source)
    return {"valid": True, "revision": loaded.revision,
            "proposals": len(loaded.policy.proposals)}  # fmt: skip


@router.post("/policy/diff", tags=["policy"])
def diff(request: Request, svc: Svc, who: Who, body: PolicyDiff) -> dict[str, Any]:
    """What changes from ``old`` (default: the revision in force) to ``new``."""
    _committee(request, svc, who)
    new = parse_policy(body.new.text, body.new.source)
    old = parse_policy(body.old.text, body.old.source) if body.old else svc.broker.policy
    changes = diff_policies(old.policy, new.policy)
    return {"old": old.revision, "new": new.revision, "text": format_diff(changes),
            "changes": [c.as_dict() for c in changes]}  # fmt: skip


@router.post("/policy/apply", tags=["policy"])
def apply(request: Request, svc: Svc, who: Who, body: PolicyApply) -> dict[str, Any]:
    """Put a policy revision in force, recorded with your name and reason (committee,
    admin). An invalid text changes nothing (422 lists every error)."""
    _committee(request, svc, who)
    loaded = parse_policy(body.text, body.source)
    number, loaded = svc.broker.policy_source.apply_loaded(
        loaded, author=who.user, reason=body.reason
    )
    with svc.broker.db.write() as conn:
        record_audit(conn, who.user, "policy-apply", loaded.revision, number=number)
    return {"number": number, "revision": loaded.revision}


@router.post("/trace", tags=["policy"], response_class=PlainTextResponse)
def trace(request: Request, svc: Svc, who: Who, body: TraceRequest) -> PlainTextResponse:
    """Finished jobs as a workload trace (JSON lines) for ``qcb policy simulate``."""
    _committee(request, svc, who)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "trace.jsonl"
        since, until = (_utc(t) for t in (body.since, body.until))
        jobs, tasks = export_trace(svc.broker, path, since=since, until=until)
        text = path.read_text()
    return PlainTextResponse(text, headers={"X-Qcb-Jobs": str(jobs), "X-Qcb-Tasks": str(tasks)})


def _utc(at: datetime | None) -> datetime | None:
    """A time as the store keeps it: UTC, without a zone."""
    return at.astimezone(UTC).replace(tzinfo=None) if at is not None else None


def _admin(request: Request, svc: Service, who: Principal) -> None:
    if not who.is_admin:
        raise svc.forbid(request, who, "only admins manage tokens")


@router.post("/tokens", tags=["admin"], status_code=201)
def create_token(request: Request, svc: Svc, who: Who, body: TokenRequest) -> dict[str, str]:
    """Create a token; the secret is in this answer only (admin)."""
    _admin(request, svc, who)
    token_id, secret = tokens.create(
        svc.broker.db, user=body.user, role=body.role, created_by=who.user, note=body.note,
        expires_days=body.expires_days,
    )  # fmt: skip
    return {"id": token_id, "token": secret}


@router.get("/tokens", tags=["admin"])
def list_tokens(request: Request, svc: Svc, who: Who) -> list[dict[str, Any]]:
    """Every token, without secrets (admin)."""
    _admin(request, svc, who)
    return [vars(t) for t in tokens.listing(svc.broker.db)]


@router.delete("/tokens/{token_id}", tags=["admin"])
def revoke_token(request: Request, svc: Svc, who: Who, token_id: str) -> dict[str, str]:
    """Revoke a token at once (admin)."""
    _admin(request, svc, who)
    tokens.revoke(svc.broker.db, token_id, by=who.user)
    return {"id": token_id, "revoked": "true"}


@router.get("/audit", tags=["admin"])
def audit_log(
    request: Request, svc: Svc, who: Who, limit: int = Query(default=100, ge=1, le=10000)
) -> list[dict[str, Any]]:
    """The newest audit lines: who did what, when (admin)."""
    from sqlalchemy import select

    from broker.store.schema import audit

    _admin(request, svc, who)
    with svc.broker.db.read() as conn:
        rows = conn.execute(select(audit).order_by(audit.c.id.desc()).limit(limit)).all()
    return [dict(r._mapping) for r in rows]
