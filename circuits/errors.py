"""Errors raised while reading, converting or checking circuits and observables."""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["CircuitError", "ObservableError"]


class CircuitError(ValueError):
    """A circuit (or its text) is not in the supported subset or is malformed.

    ``line`` is the 1-based line of the offending statement when the error comes from
    parsing text, and ``hint`` says what to do next. An error reporting several problems at
    once (see :meth:`collect`) lists each in :attr:`errors` and in its message, one per line.
    """

    def __init__(
        self,
        message: str,
        *,
        line: int | None = None,
        hint: str | None = None,
        errors: Sequence[CircuitError] = (),
    ) -> None:
        self.message = message
        self.line = line
        self.hint = hint
        self._errors = tuple(errors)
        super().__init__(str(self))

    @classmethod
    def collect(cls, errors: Sequence[CircuitError]) -> CircuitError:
        """One error for ``errors``: the error itself if there is one, else a summary.

        The summary's message lists every error (with its line, and its hint unless an earlier
        one had the same) on its own line; its ``line`` and ``hint`` are ``None``.
        """
        if not errors:
            raise ValueError("no errors to collect")
        if len(errors) == 1:
            return errors[0]
        listed: list[str] = []
        hints: set[str] = set()
        for error in errors:
            # A hint shared by several problems (e.g. the list of supported gates) is shown once.
            text = error.message if error.line is None else f"line {error.line}: {error.message}"
            if error.hint is not None and error.hint not in hints:
                hints.add(error.hint)
                text = f"{text}; {error.hint}"
            listed.append(f"- {text}")
        return cls(f"{len(errors)} problems:\n" + "\n".join(listed), errors=errors)

    @property
    def errors(self) -> list[CircuitError]:
        """The individual problems: those collected, or just this error."""
        return list(self._errors) if self._errors else [self]

    def __str__(self) -> str:
        text = self.message if self.line is None else f"line {self.line}: {self.message}"
        return text if self.hint is None else f"{text}; {self.hint}"

    def __reduce__(self) -> tuple[object, ...]:
        # Keyword-only constructor arguments need help to survive pickling (e.g. via Celery).
        return (_rebuild, (type(self), self.message, self.line, self.hint, self._errors))


class ObservableError(CircuitError):
    """An observable (Pauli sum) is malformed or does not fit the circuit."""


def _rebuild(
    cls: type[CircuitError],
    message: str,
    line: int | None,
    hint: str | None,
    errors: Sequence[CircuitError] = (),
) -> CircuitError:
    return cls(message, line=line, hint=hint, errors=errors)
