"""What every console page shares: templates, the session behind a request, its CSRF
check, form bodies, and errors shown as pages.

Pages are rendered on the server (Jinja2, autoescaped) and carry a strict Content Security
Policy: scripts and styles only from the console's own files, no inline script, no other
origin, no framing.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException

from broker.api.service import Service
from broker.api.wire import status_of
from broker.console import sessions
from broker.console.sessions import COOKIE, Session
from broker.errors import BrokerError, InvalidRequest, NotFound, Unauthenticated
from broker.limits import has_control
from policies.errors import format_loc

HERE = Path(__file__).parent
STATIC = HERE / "static"
PREFIX = "/ui"

HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}
"""Headers on every page."""

MAX_FIELDS = 20
"""The most fields a console form may send."""

_env = Environment(
    loader=FileSystemLoader(HERE / "templates"),
    autoescape=select_autoescape(default=True, default_for_string=True),
    trim_blocks=True,
    lstrip_blocks=True,
)


def _when(value: datetime | None) -> str:
    """A stored time as ``2026-12-08 14:03:05 UTC`` (blank for none)."""
    if value is None:
        return ""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


_env.filters["when"] = _when


class LoginNeeded(Exception):
    """The request has no live session: the page sends the browser to the login form."""

    def __init__(self, expired: bool) -> None:
        super().__init__("login needed")
        self.expired = expired


def page(
    request: Request,
    template: str,
    session: Session | None,
    status: int = 200,
    **context: Any,
) -> HTMLResponse:
    """A rendered page (``session`` gives the user, the role and the forms' CSRF secret)."""
    html = _env.get_template(template).render(
        request=request, session=session, prefix=PREFIX, **context
    )
    return HTMLResponse(html, status_code=status, headers=HEADERS)


def fragment(template: str, **context: Any) -> HTMLResponse:
    """A part of a page, for the console's script to put in place."""
    html = _env.get_template(template).render(prefix=PREFIX, **context)
    return HTMLResponse(html, headers=HEADERS)


def service(request: Request) -> Service:
    """The process's service."""
    found: Service = request.app.state.service
    return found


async def current(request: Request) -> Session:
    """The request's live session; :class:`LoginNeeded` when it has none (an old or
    ended cookie says the session expired)."""
    cookie = request.cookies.get(COOKIE, "")
    db = service(request).broker.db

    def find() -> Session | None:
        with db.read() as conn:
            return sessions.lookup(conn, cookie)

    found = await run_in_threadpool(find) if cookie else None
    if found is None:
        raise LoginNeeded(expired=bool(cookie))
    return found


FORM = "application/x-www-form-urlencoded"


async def _fields(request: Request) -> dict[str, str]:
    """A URL-encoded form's fields, each its first value; ``InvalidRequest`` for more than
    :data:`MAX_FIELDS` (the body's size is bounded by the service's guard)."""
    body = (await request.body()).decode("utf-8", errors="replace")
    try:
        fields = parse_qs(body, keep_blank_values=True, max_num_fields=MAX_FIELDS)
    except ValueError:
        raise InvalidRequest(f"a console form has at most {MAX_FIELDS} fields") from None
    return {name: values[0] for name, values in fields.items()}


def _refuse_control(fields: dict[str, str]) -> None:
    """What the API's guard refuses in a JSON body, refused in a form: a field holding a
    control character (tab, newline and CR are text), named with its line."""
    for name, value in fields.items():
        if has_control(value):
            at = next(i for i, c in enumerate(value) if has_control(c))
            line = value.count("\n", 0, at) + 1
            raise InvalidRequest(
                f"{name[:40]}: line {line} holds a control character "
                f"(U+{ord(value[at]):04X}); text may hold only tab, newline and printable "
                "characters"
            )


def _is_form(request: Request) -> bool:
    return request.headers.get("content-type", "").split(";")[0].strip().lower() == FORM


async def form(request: Request) -> dict[str, str]:
    """A URL-encoded form's fields; ``InvalidRequest`` for any other body, too many
    fields, or a control character in a field."""
    if not _is_form(request):
        raise InvalidRequest("a console form is sent URL-encoded", hint="use the page's form")
    fields = await _fields(request)
    _refuse_control(fields)
    return fields


async def checked_form(
    request: Request, session: Session, documents: tuple[str, ...] = ()
) -> dict[str, str]:
    """A form of ``session`` whose CSRF secret matches (``Forbidden``, recorded in the
    audit log, otherwise: a body that is not a form carries none), then checked as
    :func:`form` checks it, but for the ``documents``: fields whose own parser refuses
    control characters at their line, and whose page keeps the text to fix."""
    fields = await _fields(request) if _is_form(request) else {}
    if not sessions.csrf_ok(session, fields.get("csrf") or request.headers.get("x-csrf-token")):
        message = "the form did not carry this session's CSRF token; reload the page and try again"
        svc = service(request)
        raise await run_in_threadpool(svc.forbid, request, session.principal, message)
    _refuse_control({k: v for k, v in fields.items() if k not in documents})
    return fields


def login_redirect(request: Request, expired: bool) -> RedirectResponse:
    """To the login form, coming back here afterwards (a GET's own page, else the start)."""
    back = request.url.path if request.method == "GET" else f"{PREFIX}/"
    query = f"?next={quote(back, safe='/')}" + ("&expired=1" if expired else "")
    response = RedirectResponse(f"{PREFIX}/login{query}", status_code=303)
    if expired:
        response.delete_cookie(COOKIE, path=PREFIX)
    return response


def html_error(request: Request, exc: Exception) -> Response:
    """An error on a console path, as a page: the same words as the API's error, its hint,
    and a way back. Someone else's job is a plain "not found", as one that does not exist."""
    if isinstance(exc, LoginNeeded):
        return login_redirect(request, exc.expired)
    if isinstance(exc, Unauthenticated):
        return login_redirect(request, False)
    status = 500
    if isinstance(exc, BrokerError):
        status = status_of(exc)
    elif isinstance(exc, HTTPException):
        status = exc.status_code
    elif isinstance(exc, RequestValidationError):
        status = 422
        lines = "; ".join(f"{format_loc(e['loc'])}: {e['msg']}" for e in exc.errors())
        exc = InvalidRequest(f"the request is not valid: {lines}", hint="use the page's links")
    title = {404: "Not found", 403: "Not allowed", 409: "Refused", 429: "Too many requests"}
    message = getattr(exc, "message", "the console failed on this request; it was logged")
    hint = getattr(exc, "hint", None)
    if isinstance(exc, NotFound) or status == 404:
        message, hint = "There is nothing here, or it is not yours to see.", None
    return page(
        request,
        "error.html",
        None,
        status=status,
        title=title.get(status, "Error" if status < 500 else "Something failed"),
        message=message,
        hint=hint,
    )


__all__ = [
    "HEADERS",
    "PREFIX",
    "STATIC",
    "LoginNeeded",
    "checked_form",
    "current",
    "form",
    "fragment",
    "html_error",
    "login_redirect",
    "page",
    "service",
]
