"""The web console under ``/ui``: the broker's pages for researchers, PIs and committees,
served by ``qcb serve`` beside the API, with the API's access rules.

Pages are rendered on the server; the one script (``static/console.js``) only follows the
event stream and swaps in fresh parts of a page. Every asset ships in the package: no CDN,
no build step. See ``docs/console.md``.
"""

from __future__ import annotations

from fastapi import APIRouter, FastAPI
from fastapi.staticfiles import StaticFiles

from broker.console import (
    allocation_pages,
    audit_page,
    job_pages,
    login,
    policy_pages,
    streams,
)
from broker.console.web import PREFIX, STATIC, html_error


def mount(app: FastAPI) -> None:
    """Add the console's routes and its static files to ``app`` (under :data:`PREFIX`)."""
    router = APIRouter(prefix=PREFIX, include_in_schema=False)
    router.include_router(login.router)
    router.include_router(job_pages.router)
    router.include_router(policy_pages.router)
    router.include_router(allocation_pages.router)
    router.include_router(audit_page.router)
    router.include_router(streams.router)
    app.include_router(router)
    app.mount(f"{PREFIX}/static", StaticFiles(directory=STATIC), name="console-static")


__all__ = ["PREFIX", "html_error", "mount"]
