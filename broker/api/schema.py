"""The OpenAPI document as the service behaves: every error status each operation can answer,
with the one error body (:data:`ERROR`), the job body typed by the job schema, and ``405``
answers whose ``Allow`` lists every method of the path.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException
from starlette.routing import Match

from broker.core.models import JobSpec

ERROR: dict[str, Any] = {
    "title": "Error",
    "type": "object",
    "description": "Every refusal and failure: the error's class, a paragraph for a person, "
    "and what to do next. Policy errors list their problems; circuit errors their line.",
    "required": ["error", "message"],
    "properties": {
        "error": {"type": "string", "description": "InvalidJob, NotFound, JobRefused, ..."},
        "message": {"type": "string"},
        "hint": {"anyOf": [{"type": "string"}, {"type": "null"}]},
        "problems": {"type": "array", "items": {}},
        "details": {
            "type": "object",
            "description": "InvalidJob: problems (path, line, message, suggestion) and "
            "source; JobRefused: check, needs and remaining (backend, unit, amount).",
        },
        "source": {"type": "string"},
        "line": {"anyOf": [{"type": "integer"}, {"type": "null"}]},
        "transient": {"type": "boolean"},
        "retry_after": {"type": "integer", "description": "Seconds (429 only)."},
    },
}

_WHY = {
    "400": "The service cannot act on this request; the message says why.",
    "401": "No token, or one that is unknown, revoked or expired.",
    "403": "The token's user may not do this (role, proposal or driver scope).",
    "404": "No such job, task or token, or one that is not yours (the answers are the same).",
    "409": "Refused by the policy, or not possible in the job's state (e.g. no result yet).",
    "413": "The request body is larger than the service takes.",
    "422": "The request is malformed or beyond a limit; the message names each field.",
    "429": "Too many at once; retry after the Retry-After header's seconds.",
    "500": "The service failed on this request (it was logged).",
    "502": "A backend (Slurm, a provider) failed to answer.",
    "503": "A part of the service is not reachable now.",
}
_EVERYWHERE = ("400", "401", "403", "404", "422", "500", "502", "503")
_WITH_BODY = ("409", "413")


def _statuses(path: str, method: str) -> tuple[str, ...]:
    found: tuple[str, ...] = _EVERYWHERE
    if method in ("post", "put", "patch", "delete"):
        found += _WITH_BODY
    if path.endswith("/result"):
        found += ("409",)
    if path.endswith("/events"):
        found += ("429",)
    return tuple(sorted(set(found)))


def _job_schema(components: dict[str, Any]) -> dict[str, Any]:
    """The job model's schema, its parts added to ``components``; a reference to it."""
    schema = JobSpec.model_json_schema(ref_template="#/components/schemas/{model}")
    components.update(schema.pop("$defs", {}))
    components["JobSpec"] = schema
    return {"$ref": "#/components/schemas/JobSpec"}


TEXT = "^[^\\u0000-\\u0008\\u000b\\u000c\\u000e-\\u001f\\u007f]*$"
"""Text as every request field takes it: no control characters but tab, newline and CR."""


def _refs(node: Any) -> set[str]:
    if isinstance(node, dict):
        found = {node["$ref"].rsplit("/", 1)[-1]} if isinstance(node.get("$ref"), str) else set()
        return found.union(*(_refs(v) for v in node.values()))
    if isinstance(node, list):
        return set().union(*(_refs(v) for v in node))
    return set()


def _plain_text(node: Any) -> None:
    """Add :data:`TEXT` to each string schema under ``node`` that has no form of its own."""
    if isinstance(node, dict):
        if node.get("type") == "string" and not {"format", "pattern", "enum", "const"} & set(node):
            node["pattern"] = TEXT
        for value in node.values():
            _plain_text(value)
    elif isinstance(node, list):
        for value in node:
            _plain_text(value)


def _request_text(doc: dict[str, Any], components: dict[str, Any]) -> None:
    """Request bodies (and every component they use) take text without control characters
    (:mod:`broker.api.guard` refuses it): say so in their schemas."""
    bodies = [
        op["requestBody"]
        for ops in doc["paths"].values()
        for op in ops.values()
        if "requestBody" in op
    ]
    names, todo = set(), _refs(bodies)
    while todo:
        name = todo.pop()
        if name not in names and name in components:
            names.add(name)
            todo |= _refs(components[name])
    _plain_text(bodies)
    for name in names:
        _plain_text(components[name])


def openapi_document(app: FastAPI) -> dict[str, Any]:
    """The document FastAPI makes, completed (see the module's docstring); made once."""
    if app.openapi_schema:
        return app.openapi_schema
    doc = get_openapi(title=app.title, version=app.version, summary=app.summary, routes=app.routes)
    components = doc.setdefault("components", {}).setdefault("schemas", {})
    components.pop("HTTPValidationError", None)
    components.pop("ValidationError", None)
    components["Error"] = ERROR
    error_ref = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    for path, operations in doc["paths"].items():
        for method, operation in operations.items():
            responses = operation.setdefault("responses", {})
            for status in _statuses(path, method):
                responses[status] = {"description": _WHY[status], "content": error_ref}
            if operation.get("operationId", "").startswith("submit_"):
                operation["requestBody"] = {
                    "required": True,
                    "content": {"application/json": {"schema": _job_schema(components)}},
                }
    _request_text(doc, components)
    app.openapi_schema = doc
    return doc


async def http_error(request: Request, exc: Exception) -> JSONResponse:
    """405 with ``Allow`` naming every method of the path (Starlette names only the first
    route's); other HTTP errors as the API's error body."""
    assert isinstance(exc, HTTPException)
    headers = dict(exc.headers or {})
    if exc.status_code == 405:
        allowed: set[str] = set()
        for route in request.app.router.routes:
            match, _ = route.matches(request.scope)
            methods = getattr(route, "methods", None)
            if match is not Match.NONE and methods:
                allowed |= set(methods)
        headers["Allow"] = ", ".join(sorted(allowed))
    body = {"error": "HTTPError", "message": str(exc.detail), "hint": None}
    return JSONResponse(body, status_code=exc.status_code, headers=headers)
