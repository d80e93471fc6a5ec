"""Errors raised while reading, converting or checking circuits and observables."""

from __future__ import annotations

__all__ = ["CircuitError", "ObservableError"]


class CircuitError(ValueError):
    """A circuit (or its text) is not in the supported subset or is malformed.

    ``line`` is the 1-based line of the offending statement when the error comes from
    parsing text, and ``hint`` says what to do next.
    """

    def __init__(self, message: str, *, line: int | None = None, hint: str | None = None) -> None:
        self.message = message
        self.line = line
        self.hint = hint
        super().__init__(str(self))

    def __str__(self) -> str:
        text = self.message if self.line is None else f"line {self.line}: {self.message}"
        return text if self.hint is None else f"{text}; {self.hint}"

    def __reduce__(self) -> tuple[object, ...]:
        # Keyword-only constructor arguments need help to survive pickling (e.g. via Celery).
        return (_rebuild, (type(self), self.message, self.line, self.hint))


class ObservableError(CircuitError):
    """An observable (Pauli sum) is malformed or does not fit the circuit."""


def _rebuild(
    cls: type[CircuitError], message: str, line: int | None, hint: str | None
) -> CircuitError:
    return cls(message, line=line, hint=hint)
