"""The REST API (``qcb serve``): FastAPI under ``/v1``, bearer tokens, roles, audit.

``create_app(settings)`` builds the application; OpenAPI is served at ``/v1/openapi.json``
and the interactive docs at ``/v1/docs``.
"""

from broker.api.app import create_app

__all__ = ["create_app"]
