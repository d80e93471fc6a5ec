"""Typed backend options: the base model every backend's ``Options`` extends, the field types
they share, and the one place where options are validated and refusals worded.

Each backend class declares its options as a pydantic model (``Options: ClassVar[...]``):
typed fields with defaults and docstrings, unknown keys refused. :func:`validate` turns a
mapping (a backends file's entry, keyword arguments) into that model, or raises a
:class:`~backends.errors.BackendError` that names the backend, the option and what is wrong
with it, and for unknown options lists the valid ones. An option given as ``null`` means its
default.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Mapping
from typing import Annotated, Any, TypeVar

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    SecretStr,
    ValidationError,
    model_validator,
)
from pydantic_core import ErrorDetails

from backends.errors import BackendError

OptionsT = TypeVar("OptionsT", bound="BackendOptions")

SECRET_SHOWN = "***"
"""What :meth:`BackendOptions.shown` puts in place of a credential."""


class BackendOptions(BaseModel):
    """Base of every backend's options: typed fields with defaults; unknown keys are refused.

    A backend without options uses this model as it is (it accepts none).
    """

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

    @model_validator(mode="before")
    @classmethod
    def _null_means_default(cls, data: Any) -> Any:
        if isinstance(data, Mapping):
            return {key: value for key, value in data.items() if value is not None}
        return data

    @classmethod
    def secret_fields(cls) -> frozenset[str]:
        """The options that hold credentials (typed :class:`~pydantic.SecretStr`)."""
        return frozenset(
            name
            for name, field in cls.model_fields.items()
            if SecretStr in _leaves(field.annotation)
        )

    def shown(self) -> dict[str, Any]:
        """The options that were given (not the defaults), as plain JSON values, with every
        credential replaced by :data:`SECRET_SHOWN`: safe to log, repr or store."""
        given = self.model_dump(mode="json", exclude_unset=True)
        return {k: SECRET_SHOWN if k in self.secret_fields() else v for k, v in given.items()}


def _no_bool(value: Any) -> Any:
    # pydantic's lax int takes True as 1; a count given as a yes/no is a mistake.
    if isinstance(value, bool):
        raise ValueError(f"must be a positive integer, not {value!r}")
    return value


def _positive(value: int) -> int:
    if value < 1:
        raise ValueError(f"must be a positive integer, not {value!r}")
    return value


PositiveCount = Annotated[int, BeforeValidator(_no_bool), AfterValidator(_positive)]
"""A whole number >= 1 (qubits, shots, concurrency); booleans are refused."""


def validate(
    model: type[OptionsT], backend: str, given: Mapping[str, Any], what: str = "option"
) -> OptionsT:
    """``given`` as ``model``, or a :class:`BackendError` saying what is wrong.

    Args:
        model: the options model.
        backend: the backend's name, for the message.
        given: the options as given (a backends file's entry, keyword arguments).
        what: what the keys are called in the message (``option``, ``batch option``).
    """
    try:
        return model.model_validate(dict(given))
    except ValidationError as exc:
        raise BackendError(refusal(model, backend, exc, what)) from None


def refusal(model: type[BaseModel], backend: str, exc: ValidationError, what: str) -> str:
    """One sentence per kind of problem: unknown options (with the valid ones), missing ones
    (with what they are for), and bad values (option path, what is wrong, what was given)."""
    unknown: list[str] = []
    missing: list[str] = []
    bad: list[str] = []
    for error in exc.errors(include_url=False):
        path = ".".join(str(part) for part in error["loc"])
        if error["type"] == "extra_forbidden":
            unknown.append(path)
        elif error["type"] == "missing":
            missing.append(_described(model, path))
        else:
            problem = _problem(model, error)
            bad.append(f"{path}: {problem}" if path else problem)
    parts = []
    if unknown:
        fields = list(model.model_fields)
        valid = f"valid options: {', '.join(fields)}" if fields else "it takes none"
        parts.append(f"unknown {what}(s) for {backend}: {', '.join(unknown)}; {valid}")
    if missing:
        parts.append(f"missing {what}(s) for {backend}: {'; '.join(missing)}")
    if bad:
        parts.append(f"bad {what}(s) for {backend}: {'; '.join(bad)}")
    return "; ".join(parts)


def _described(model: type[BaseModel], name: str) -> str:
    field = model.model_fields.get(name)
    if field is None or not field.description:
        return name
    text = field.description.strip().rstrip(".")
    return f"{name} ({text[:1].lower() + text[1:]})"


def _problem(model: type[BaseModel], error: ErrorDetails) -> str:
    """What is wrong with one value, in words; the value itself unless it is a credential."""
    loc = error["loc"]
    field = model.model_fields.get(str(loc[0])) if loc else None
    if error["type"] == "value_error":
        return str(error["msg"]).removeprefix("Value error, ")
    if error["type"] == "literal_error" and field is not None:
        choices = [str(v) for v in _leaves(field.annotation) if not isinstance(v, type)]
        return f"unknown value {error['input']!r}; choose one of: {', '.join(choices)}"
    secret = field is not None and SecretStr in _leaves(field.annotation)
    if secret or not loc:
        return str(error["msg"])
    shown = repr(error["input"])
    return f"{error['msg']} (given {shown if len(shown) <= 80 else shown[:77] + '...'})"


def _leaves(annotation: Any) -> list[Any]:
    """The types and literal values an annotation is made of (``Literal['a'] | None`` gives
    ``['a', NoneType]``)."""
    origin = typing.get_origin(annotation)
    if origin is Annotated:
        return _leaves(typing.get_args(annotation)[0])
    if origin is typing.Literal:
        return list(typing.get_args(annotation))
    if origin is typing.Union or origin is types.UnionType:
        return [leaf for arg in typing.get_args(annotation) for leaf in _leaves(arg)]
    return [annotation]
