"""The one error family every user-facing failure belongs to.

Each error reads as a short paragraph for a person: what is wrong, where, and what to do
next. The CLI prints ``str(error)`` and exits non-zero; it never shows a traceback for these.
"""

from __future__ import annotations


class BrokerError(Exception):
    """Base of every error the broker raises to its users.

    ``exit_code`` is what the CLI exits with: 2 for a mistake in the user's input, 1 for a
    failure of the system.
    """

    exit_code = 1

    def __init__(self, message: str, *, hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message}\n{self.hint}" if self.hint else self.message


class InvalidJob(BrokerError):
    """The job (file, model or algorithm inputs) is malformed; nothing was submitted."""

    exit_code = 2


class JobRefused(BrokerError):
    """The policy refused the job at admission; nothing was queued or charged."""

    exit_code = 3


class NotFound(BrokerError):
    """No job or task with that id (for this user)."""

    exit_code = 4


class NotFinished(BrokerError):
    """The job has no result yet."""

    exit_code = 5


class PolicyFileError(BrokerError):
    """The policy file in force cannot be read or is invalid."""

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

    def __init__(self, message: str, *, hint: str | None = None, retry_after: int = 5):
        super().__init__(message, hint=hint)
        self.retry_after = retry_after
