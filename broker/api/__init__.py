"""The REST API (``qcb serve``): FastAPI under ``/v1``, bearer tokens, roles, audit.

``create_app(settings)`` builds the application; OpenAPI is served at ``/v1/openapi.json``
and the interactive docs at ``/v1/docs``. FastAPI is imported only when an application is
built: ``broker.api.wire`` (what crosses the wire) serves the remote client and the embedded
runtime's driver endpoint, which a base install (no ``service`` extra) has.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fastapi import FastAPI

    from broker.config import Settings


def create_app(settings: Settings | None = None) -> FastAPI:
    """The API for the store, transport and policy in ``settings`` (see ``broker.api.app``)."""
    from broker.api.app import create_app as build

    return build(settings)


__all__ = ["create_app"]
