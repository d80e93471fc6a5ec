"""The one error family every user-facing failure belongs to.

Each error reads as a short paragraph for a person: what is wrong, where, and what to do
next. The CLI prints ``str(error)`` and exits non-zero; it never shows a traceback for these.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

EXIT_CODES: dict[int, str] = {
    0: "done: the command did what it says (qcb run: the job COMPLETED)",
    1: "the job failed or was cancelled (qcb run), or the system failed (store, transport, "
    "runtime, a backend)",
    2: "invalid input: a job file, policy file, trace, option or path; nothing was done",
    3: "the policy refused the job; nothing was queued or charged",
    4: "no such job or task (or not yours)",
    5: "the job has no result yet (qcb result on a job still running)",
    6: "not allowed: no valid token, or the token's user may not do this",
    7: "too many requests at once; try again later",
    8: "the wait timed out (--timeout); the job keeps running",
    70: "an internal error (a bug): the message names a crash report to send to the developers",
    130: "interrupted (Ctrl-C); a job already submitted keeps running",
}
"""Every exit status of ``qcb``, and what it means (``qcb --help`` and the README list them)."""


@dataclass(frozen=True)
class Problem:
    """One mistake in a user's input: the field path in the user's words (``algorithm.
    inputs.ansatz.library``), the line of the file when there is one, what is wrong, and a
    close valid name when the mistake looks like a typo."""

    path: str
    message: str
    line: int | None = None
    suggestion: str | None = None

    def __str__(self) -> str:
        where = f"line {self.line}, " if self.line else ""
        return f"{where}{self.path or '(the whole job)'}: {self.message}"


class BrokerError(Exception):
    """Base of every error the broker raises to its users.

    ``exit_code`` is what the CLI exits with (:data:`EXIT_CODES`). ``details`` holds what a
    program may want beyond the paragraph (JSON-able: the problems of an invalid job, the
    amounts of a refusal); the API sends it and the remote client raises it again.
    """

    exit_code = 1

    def __init__(
        self, message: str, *, hint: str | None = None, details: dict[str, Any] | None = None
    ):
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.details: dict[str, Any] = dict(details or {})

    def __str__(self) -> str:
        return f"{self.message}\n{self.hint}" if self.hint else self.message


class InvalidJob(BrokerError):
    """The job (file, model or algorithm inputs) is malformed; nothing was submitted.
    :attr:`problems` lists each mistake with its field path and line."""

    exit_code = 2

    def __init__(
        self,
        message: str,
        *,
        hint: str | None = None,
        details: dict[str, Any] | None = None,
        problems: list[Problem] | None = None,
        source: str | None = None,
    ):
        details = dict(details or {})
        if problems is not None:
            details["problems"] = [asdict(p) for p in problems]
        if source is not None:
            details["source"] = source
        super().__init__(message, hint=hint, details=details)

    @classmethod
    def at(cls, path: str, message: str, *, hint: str | None = None) -> InvalidJob:
        """The error for one problem at the field ``path`` (``algorithm.inputs.shots``)."""
        return cls(f"{path}: {message}", hint=hint, problems=[Problem(path, message)])

    @property
    def problems(self) -> list[Problem]:
        """Each mistake (empty when the error is about the whole job, such as its file)."""
        found = self.details.get("problems")
        if not isinstance(found, list):
            return []
        return [
            Problem(
                path=str(p.get("path", "")),
                message=str(p.get("message", "")),
                line=p["line"] if isinstance(p.get("line"), int) else None,
                suggestion=p["suggestion"] if isinstance(p.get("suggestion"), str) else None,
            )
            for p in found
            if isinstance(p, dict)
        ]

    @property
    def source(self) -> str | None:
        """The job file (or ``the request``) the problems are in."""
        found = self.details.get("source")
        return found if isinstance(found, str) else None


class JobRefused(BrokerError):
    """The policy refused the job at admission; nothing was queued or charged.
    ``details`` holds the refusing check and, for a budget, ``needs`` and ``remaining``
    (lists of ``{backend, unit, amount}``)."""

    exit_code = 3


class NotFound(BrokerError):
    """No job or task with that id (for this user)."""

    exit_code = 4


class NotFinished(BrokerError):
    """The job has no result yet."""

    exit_code = 5


class WaitTimeout(BrokerError):
    """A wait ended at its timeout before the job did; the job keeps running. ``status`` is
    where it stood then."""

    exit_code = 8

    def __init__(self, message: str, *, hint: str | None = None, status: Any = None):
        super().__init__(message, hint=hint)
        self.status = status


class PolicyFileError(BrokerError):
    """The policy file in force cannot be read or is invalid."""

    exit_code = 2


class InvalidSettings(BrokerError):
    """A ``QCB_*`` variable or the settings file (``QCB_CONFIG``) is wrong."""

    exit_code = 2


class InvalidTrace(BrokerError):
    """A workload trace given to ``qcb policy simulate`` cannot be read."""

    exit_code = 2


class RuntimeUnavailable(BrokerError):
    """The embedded runtime (worker and scheduler) could not be started or reached."""


class Unauthenticated(BrokerError):
    """A request to the API carried no valid token."""

    exit_code = 6


class Forbidden(BrokerError):
    """The token is valid but its user may not do this (not their proposal, not their role)."""

    exit_code = 6


class InvalidRequest(BrokerError):
    """A request to the API is malformed or beyond a limit (size, nesting, numbers, text);
    nothing was done."""

    exit_code = 2


class TooLarge(InvalidRequest):
    """A request body is larger than the service takes (HTTP 413)."""


class TooManyRequests(BrokerError):
    """Beyond a rate or concurrency limit (HTTP 429); ``retry_after`` says when to try again."""

    exit_code = 7

    def __init__(
        self,
        message: str,
        *,
        hint: str | None = None,
        details: dict[str, Any] | None = None,
        retry_after: int = 5,
    ):
        super().__init__(message, hint=hint, details=details)
        self.retry_after = retry_after
