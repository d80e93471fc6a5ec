"""What crosses the wire between the REST API and the remote SDK: request bodies, and
errors as JSON that the client raises again as the same exception class.

An error body is ``{"error": CLASS, "message": ..., "hint": ..., "details": {...}}`` (policy
errors: ``"problems": [...]``); the
remote client turns it back into ``CLASS`` so that the CLI prints the same paragraph and
exits with the same code against a server as on a laptop.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from backends.errors import BackendError
from broker import errors
from broker.errors import BrokerError
from circuits.errors import CircuitError
from policies.errors import PolicyError

API_PREFIX = "/v1"

STATUS: dict[type[Exception], int] = {
    errors.InvalidJob: 422,
    errors.JobRefused: 409,
    errors.NotFound: 404,
    errors.NotFinished: 409,
    errors.PolicyFileError: 422,
    errors.InvalidTrace: 422,
    errors.RuntimeUnavailable: 503,
    errors.Forbidden: 403,
    errors.Unauthenticated: 401,
    errors.TooLarge: 413,
    errors.InvalidRequest: 422,
    errors.TooManyRequests: 429,
    PolicyError: 422,
    CircuitError: 422,
    BackendError: 502,
    BrokerError: 400,
}

_BROKER_ERRORS: dict[str, type[BrokerError]] = {
    cls.__name__: cls
    for cls in (
        BrokerError,
        errors.InvalidJob,
        errors.JobRefused,
        errors.NotFound,
        errors.NotFinished,
        errors.PolicyFileError,
        errors.InvalidTrace,
        errors.RuntimeUnavailable,
        errors.Forbidden,
        errors.Unauthenticated,
        errors.InvalidRequest,
        errors.TooLarge,
        errors.TooManyRequests,
    )
}


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PolicyText(_Body):
    """A policy file's text, as a committee member sends it."""

    text: str = Field(description="The YAML text of the policy file.")
    source: str = Field(default="<request>", description="A name for it in messages.")


class PolicyApply(PolicyText):
    """A policy revision to put in force, with the reason the history records."""

    reason: str = Field(min_length=1)


class PolicyDiff(_Body):
    """Two policy texts to compare; ``old`` defaults to the revision in force."""

    new: PolicyText
    old: PolicyText | None = None


class TokenRequest(_Body):
    """A token to create (admins only)."""

    user: str = Field(min_length=1, max_length=100)
    role: Literal["researcher", "committee", "admin"] = Field(
        default="researcher", description="A PI is a researcher."
    )
    note: str = ""
    expires_days: float | None = Field(default=None, gt=0, le=3650, description="At most 10 years.")


class TraceRequest(_Body):
    """Which finished jobs to export as a trace."""

    since: AwareDatetime | None = Field(
        default=None, strict=True, description="RFC 3339, with its time zone."
    )
    until: AwareDatetime | None = Field(
        default=None, strict=True, description="RFC 3339, with its time zone."
    )


def status_of(exc: Exception) -> int:
    """The HTTP status for a user-facing error."""
    for cls in type(exc).__mro__:
        if cls in STATUS:
            return STATUS[cls]
    return 500


def encode(exc: Exception) -> dict[str, Any]:
    """An error as the API sends it."""
    body: dict[str, Any] = {"error": type(exc).__name__, "message": str(exc), "hint": None}
    if isinstance(exc, BrokerError):
        body["message"], body["hint"] = exc.message, exc.hint
        if exc.details:
            body["details"] = exc.details
        if isinstance(exc, errors.TooManyRequests):
            body["retry_after"] = exc.retry_after
    elif isinstance(exc, PolicyError):
        body["error"], body["problems"], body["source"] = "PolicyError", exc.errors, exc.source
    elif isinstance(exc, CircuitError):
        body.update(error="CircuitError", message=str(exc), hint=None, line=exc.line)
    elif isinstance(exc, BackendError):
        body.update(error="BackendError", message=exc.message, hint=exc.hint)
        body["transient"] = exc.transient
    return body


def decode(status: int, body: Any) -> Exception:
    """The exception an API error body stands for (``BrokerError`` for anything unknown)."""
    if not isinstance(body, dict) or "error" not in body:
        return BrokerError(f"the server answered HTTP {status}: {str(body)[:500]}")
    if body["error"] == "PolicyError":
        return PolicyError(str(body.get("source", "<request>")), list(body.get("problems", [])))
    if body["error"] == "CircuitError":
        line = body.get("line")
        return CircuitError(
            str(body.get("message", "")), line=line if isinstance(line, int) else None
        )
    if body["error"] == "BackendError":
        return BackendError(
            str(body.get("message", "")),
            transient=bool(body.get("transient")),
            hint=body.get("hint"),
        )
    details = body.get("details")
    details = details if isinstance(details, dict) else None
    if body["error"] == "TooManyRequests":
        after = body.get("retry_after")
        return errors.TooManyRequests(
            str(body.get("message", "")),
            hint=body.get("hint"),
            details=details,
            retry_after=after if isinstance(after, int) and 0 < after <= 300 else 5,
        )
    cls = _BROKER_ERRORS.get(str(body["error"]), BrokerError)
    return cls(str(body.get("message", "")), hint=body.get("hint"), details=details)
