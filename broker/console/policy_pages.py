"""The committee's policy page: the revision in force, its history with diffs, and an
editor that validates (every error at its line), replays the recent workload under the
edited text (what-if), and applies it with a reason. Committee and admins only, as
``/v1/policy``."""

from __future__ import annotations

import re
import tempfile
from datetime import timedelta
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from broker.accounting.trace_export import export_trace
from broker.api.service import Service
from broker.console.sessions import Session
from broker.console.web import PREFIX, checked_form, current, page, service
from broker.store import revisions
from broker.store.audit import record_audit
from broker.store.db import utcnow
from policies.diff import diff_policies, format_diff
from policies.errors import PolicyError
from policies.loader import LoadedPolicy, parse_policy
from policies.simreport import Delta, compare
from policies.simulate import simulate
from policies.trace import Trace

router = APIRouter()

WHAT_IF_DAYS = 30
"""How far back the what-if replay takes the recorded workload."""

_LINE = re.compile(r"\s*\(line (\d+)\)$")


def _committee(request: Request, svc: Service, session: Session) -> None:
    if not session.principal.governs_policy:
        message = "only the allocation committee and admins may see and change the policy"
        raise svc.forbid(request, session.principal, message)


def problems_at_lines(exc: PolicyError) -> list[tuple[int | None, str]]:
    """A policy's errors as (line, what), in the order of their lines."""
    found = []
    for error in exc.errors:
        match = _LINE.search(error)
        found.append((int(match.group(1)) if match else None, _LINE.sub("", error)))
    return sorted(found, key=lambda p: (p[0] or 0, p[1]))


def _history(svc: Service) -> list[dict[str, Any]]:
    """Every revision, newest first, each with the diff from the one before it."""
    _ = svc.broker.policy  # records the policy file's revision if it is new
    with svc.broker.db.read() as conn:
        found = revisions.history(conn)
    out: list[dict[str, Any]] = []
    before: LoadedPolicy | None = None
    server_file = str(svc.settings.policy_file)
    for rev in found:
        loaded = parse_policy(rev.text, f"revision {rev.id}")
        change = format_diff(diff_policies(before.policy, loaded.policy)) if before else ""
        reason = rev.reason.replace(server_file, Path(server_file).name)  # never its path
        out.append({"rev": rev, "diff": change, "reason": reason})
        before = loaded
    return out[::-1]


def _view(svc: Service, **extra: Any) -> dict[str, Any]:
    loaded = svc.broker.policy
    return {
        "section": "policy",
        "in_force": loaded,
        "history": _history(svc),
        "text": extra.pop("text", loaded.text),
        **extra,
    }


@router.get("/policy")
async def policy_page(request: Request) -> Response:
    """The policy in force, its history and the editor."""
    session = await current(request)
    svc = service(request)
    await run_in_threadpool(_committee, request, svc, session)
    view = await run_in_threadpool(_view, svc, note=request.query_params.get("applied"))
    return page(request, "policy.html", session, **view)


def what_if(svc: Service, new: LoadedPolicy, days: int = WHAT_IF_DAYS) -> dict[str, Any]:
    """The recent workload replayed under the policy in force and under ``new``."""
    old = svc.broker.policy
    since = utcnow() - timedelta(days=days)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "trace.jsonl"
        jobs, tasks = export_trace(svc.broker, path, since=since)
        trace = Trace.open(path)
        reports = [simulate(p.policy, trace, revision=p.revision) for p in (old, new)]
    deltas: list[Delta] = compare(*reports)
    return {"jobs": jobs, "tasks": tasks, "days": days, "deltas": deltas, "old": old.revision}


def _act(svc: Service, session: Session, fields: dict[str, str]) -> dict[str, Any]:
    """Validate the edited text, then what the button asked: a diff, a what-if, or apply
    (which needs a reason)."""
    text, action = fields.get("text", ""), fields.get("action", "validate")
    try:
        new = parse_policy(text, "the edited policy")
    except PolicyError as exc:
        return {"text": text, "problems": problems_at_lines(exc), "status": 422}
    changes = format_diff(diff_policies(svc.broker.policy.policy, new.policy))
    out: dict[str, Any] = {"text": text, "checked": new, "changes": changes}
    if action == "whatif":
        out["what_if"] = what_if(svc, new)
    elif action == "apply":
        reason = fields.get("reason", "").strip()
        if not reason:
            return {**out, "status": 422, "reason_missing": True}
        who = session.principal
        number, loaded = svc.broker.policy_source.apply_loaded(new, author=who.user, reason=reason)
        with svc.broker.db.write() as conn:
            record_audit(conn, who.user, "policy-apply", loaded.revision, number=number)
        return {"applied": number}
    return out


@router.post("/policy")
async def policy_action(request: Request) -> Response:
    """Validate, what-if or apply the edited text (the page again, with what was found)."""
    session = await current(request)
    fields = await checked_form(request, session, documents=("text",))
    svc = service(request)
    await run_in_threadpool(_committee, request, svc, session)
    found = await run_in_threadpool(_act, svc, session, fields)
    if "applied" in found:
        return RedirectResponse(f"{PREFIX}/policy?applied={found['applied']}", status_code=303)
    status = found.pop("status", 200)
    view = await run_in_threadpool(_view, svc, **found)
    return page(request, "policy.html", session, status=status, **view)


__all__ = ["problems_at_lines", "router", "what_if"]
