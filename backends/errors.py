"""Errors raised by backends.

Every backend failure says whether it is *transient* (worth retrying: a dropped connection,
a provider's 429 or 5xx) or not (a circuit the device cannot run, a command that does not
exist). The broker wraps these into its own ``BrokerError`` family at its boundary.
"""

from __future__ import annotations


class BackendError(Exception):
    """A backend could not do what it was asked.

    Attributes:
        message: what went wrong, for a person.
        transient: True when the same call may succeed later.
        hint: what to do next, when there is something to say.
    """

    def __init__(self, message: str, *, transient: bool = False, hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.transient = transient
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message} ({self.hint})" if self.hint else self.message


class BackendNotFound(BackendError):
    """No backend of that name is registered."""


class BackendUnavailable(BackendError):
    """The backend is registered but cannot be loaded here (usually a missing optional SDK)."""


class NativeJobLost(BackendError):
    """The backend no longer knows the native id it was given (e.g. a simulator restarted)."""

    def __init__(self, native_id: str, reason: str):
        super().__init__(f"native job {native_id!r} is lost: {reason}", transient=True)
        self.native_id = native_id
