"""What every route depends on: the process's :class:`Service` and the request's principal
(FastAPI dependencies, so that the routers need not import the application)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from broker.api.service import Service
from broker.service.access import Principal


async def service(request: Request) -> Service:
    """The process's :class:`Service` (async: it does not block, so FastAPI calls it in the
    event loop instead of handing it to a thread)."""
    found: Service = request.app.state.service
    return found


async def principal(request: Request) -> Principal:
    """Who the request acts for: found by the authentication middleware, before the body
    is even read (so that no anonymous request learns how a body is validated)."""
    who: Principal = request.state.principal
    return who


Who = Annotated[Principal, Depends(principal)]
"""The principal of the request, as a route's parameter."""
Svc = Annotated[Service, Depends(service)]
"""The process's service, as a route's parameter."""
