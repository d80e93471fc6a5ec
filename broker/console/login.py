"""Logging in and out of the console.

The login form takes a token (``qcb token create``) and turns it into a session cookie:
HttpOnly (no script reads it), SameSite=Strict (no other site's page sends it), Secure
when the console is served over HTTPS, and limited to the console's paths. The form itself
carries a one-time secret in a cookie of its own, so another site cannot log a browser in
under someone else's token (login CSRF).
"""

from __future__ import annotations

import hmac
import secrets

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from broker.console import sessions
from broker.console.sessions import COOKIE
from broker.console.web import PREFIX, checked_form, current, form, page, service
from broker.errors import Unauthenticated
from broker.store.db import utcnow

router = APIRouter()

LOGIN_COOKIE = "qcb_login"


def _safe_next(target: str | None) -> str:
    """Where to go after login: a console path only (never another site)."""
    if (
        target
        and target.startswith(f"{PREFIX}/")
        and "//" not in target
        and "\\" not in target
        and not any(ord(c) < 32 for c in target)
    ):
        return target
    return f"{PREFIX}/"


def _form(request: Request, problem: str | None = None, status: int = 200) -> Response:
    nonce = secrets.token_urlsafe(24)
    response = page(
        request,
        "login.html",
        None,
        status=status,
        nonce=nonce,
        problem=problem,
        expired=request.query_params.get("expired") == "1",
        bye=request.query_params.get("bye") == "1",
        next=_safe_next(request.query_params.get("next")),
    )
    secure = request.url.scheme == "https"
    response.set_cookie(
        LOGIN_COOKIE,
        nonce,
        max_age=3600,
        path=f"{PREFIX}/login",
        httponly=True,
        samesite="strict",
        secure=secure,
    )
    return response


@router.get("/login")
def login_form(request: Request) -> Response:
    """The login form."""
    return _form(request)


@router.post("/login")
async def login(request: Request) -> Response:
    """Check the token and open a session; the form again, with the reason, if refused."""
    fields = await form(request)
    nonce = request.cookies.get(LOGIN_COOKIE, "")
    sent = fields.get("nonce", "")
    if not nonce or not hmac.compare_digest(nonce.encode(), sent.encode()):
        problem = "The login form expired or did not come from this console; try again."
        return _form(request, problem, status=403)
    svc = service(request)
    try:
        cookie, session = await run_in_threadpool(
            sessions.login, svc.broker.db, fields.get("token", "")
        )
    except Unauthenticated as exc:
        await run_in_threadpool(svc.deny, request, "anonymous", exc)
        return _form(request, f"{exc.message[:1].upper()}{exc.message[1:]}.", status=401)
    target = _safe_next(fields.get("next"))
    response = RedirectResponse(target, status_code=303)
    seconds = max(int((session.expires_at - utcnow()).total_seconds()), 1)
    response.set_cookie(
        COOKIE,
        cookie,
        max_age=seconds,
        path=PREFIX,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )
    response.delete_cookie(LOGIN_COOKIE, path=f"{PREFIX}/login")
    return response


@router.post("/logout")
async def logout(request: Request) -> Response:
    """End the session (its CSRF token required, so no other page can log you out)."""
    session = await current(request)
    await checked_form(request, session)
    svc = service(request)
    await run_in_threadpool(sessions.logout, svc.broker.db, request.cookies.get(COOKIE, ""))
    response = RedirectResponse(f"{PREFIX}/login?bye=1", status_code=303)
    response.delete_cookie(COOKIE, path=PREFIX)
    return response


__all__ = ["LOGIN_COOKIE", "router"]
