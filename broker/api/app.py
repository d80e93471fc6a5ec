"""The FastAPI application: error handling, authentication, and the routers."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Receive, Scope, Send

from backends.errors import BackendError
from broker import console
from broker.api import admin, driver, jobs
from broker.api.guard import BodyGuard
from broker.api.schema import http_error, openapi_document
from broker.api.service import Service
from broker.api.wire import API_PREFIX, encode, status_of
from broker.config import Settings
from broker.console.web import LoginNeeded
from broker.errors import BrokerError, TooManyRequests, Unauthenticated
from circuits.errors import CircuitError
from policies.errors import PolicyError, format_loc

log = logging.getLogger(__name__)


PUBLIC = ("/healthz", f"{API_PREFIX}/openapi.json", f"{API_PREFIX}/docs", console.PREFIX)
"""Paths without a bearer token: the console's pages check their session cookie."""


EXPECTED = (BrokerError, PolicyError, LoginNeeded, HTTPException, RequestValidationError)
"""Errors that are answers, not failures (the rest are logged with their traceback)."""


def _console(handler: Callable[[Request, Exception], Any]) -> Callable[[Request, Exception], Any]:
    """``handler`` for the API's paths; the console's paths get the error as a page."""

    async def handle(request: Request, exc: Exception) -> Any:
        if request.url.path.startswith(console.PREFIX):
            if not isinstance(exc, EXPECTED):
                log.error("%s %s failed", request.method, request.url.path, exc_info=exc)
            return console.html_error(request, exc)
        found = handler(request, exc)
        return await found if hasattr(found, "__await__") else found

    return handle


def _error(_: Request, exc: Exception) -> JSONResponse:
    status = status_of(exc)
    headers = {"WWW-Authenticate": "Bearer"} if isinstance(exc, Unauthenticated) else None
    if isinstance(exc, TooManyRequests):
        headers = {"Retry-After": str(exc.retry_after)}
    return JSONResponse(encode(exc), status_code=status, headers=headers)


def _invalid_request(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    lines = [f"  {format_loc(e['loc'])}: {e['msg']}" for e in exc.errors()]
    body: dict[str, Any] = {
        "error": "InvalidJob",
        "message": "the request is not valid:\n" + "\n".join(lines),
        "hint": f"see {API_PREFIX}/docs for the request bodies",
    }
    return JSONResponse(body, status_code=422)


def _internal(request: Request, exc: Exception) -> JSONResponse:
    """Anything unforeseen: logged with its traceback, answered as a plain 500 (naming no
    server detail) instead of a dropped connection."""
    log.error("%s %s failed", request.method, request.url.path, exc_info=exc)
    body = {
        "error": "InternalError",
        "message": "the service failed on this request; it was logged",
        "hint": "tell the facility's staff the time of the request",
    }
    return JSONResponse(body, status_code=500)


class Authenticate:
    """Finds the request's principal from its bearer token before anything else (the body
    is not even read for an anonymous request); refuses the request otherwise. A plain ASGI
    middleware: one thread hop for the token's lookup, nothing more per request."""

    def __init__(self, app: ASGIApp, service: Callable[[], Service]) -> None:
        self.app = app
        self.service = service

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Authenticate an HTTP request (the public paths excepted), then pass it on."""
        if scope["type"] != "http" or scope["path"].startswith(PUBLIC):
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        svc = self.service()
        try:
            who = await run_in_threadpool(svc.authenticate, request)
        except Unauthenticated as exc:
            await _error(request, exc)(scope, receive, send)
            return
        if not driver.scope_allows(who, request.method, request.url.path):
            message = f"a driver token acts only within its job {who.job_id}"
            refused = await run_in_threadpool(svc.forbid, request, who, message)
            await _error(request, refused)(scope, receive, send)
            return
        request.state.principal = who  # kept in the scope: the routes' Request sees it
        await self.app(scope, receive, send)


def create_app(settings: Settings | None = None) -> FastAPI:
    """The API for the store, transport and policy in ``settings``."""
    app = FastAPI(
        title="qcbroker",
        summary="Hybrid HPC-quantum jobs under allocation proposals.",
        version="1",
        openapi_url=f"{API_PREFIX}/openapi.json",
        docs_url=f"{API_PREFIX}/docs",
        redoc_url=None,
    )
    app.state.service = Service(settings or Settings())
    for cls in (BrokerError, PolicyError, CircuitError, BackendError, LoginNeeded):
        app.add_exception_handler(cls, _console(_error))
    app.add_exception_handler(RequestValidationError, _console(_invalid_request))
    app.add_exception_handler(Exception, _console(_internal))
    app.add_exception_handler(HTTPException, _console(http_error))
    app.openapi = lambda: openapi_document(app)  # type: ignore[method-assign]
    app.add_middleware(BodyGuard, limits=lambda: app.state.service.settings.limits)

    app.add_middleware(Authenticate, service=lambda: app.state.service)

    app.include_router(jobs.router, prefix=API_PREFIX)
    app.include_router(driver.router, prefix=API_PREFIX)
    app.include_router(admin.router, prefix=API_PREFIX)
    console.mount(app)

    @app.get("/healthz", tags=["service"])
    def healthz() -> dict[str, Any]:
        """Liveness: the store answers (no token needed)."""
        svc: Service = app.state.service
        with svc.broker.db.read() as conn:
            conn.exec_driver_sql("SELECT 1")
        return {"ok": True}

    return app
