"""How a job's validation errors read to the person who wrote the job.

Pydantic names a path as a tuple with its own words in it: the class of a union's member
(``ansatz.LibraryAnsatz.library``), a member's type (``initial_point.list[float]``), the tag
of a discriminated union (``optimizer.adam.maxiter``). :func:`problems` turns the errors of
one validation into :class:`~broker.errors.Problem` objects: the path as a job file writes
it, the message in the words of :mod:`policies.errors` (valid fields, choices, what was
found), a did-you-mean for a name that is close to a valid one, and, for a union, only the
errors of the member the value was meant to be (or one line naming every form it may take).
"""

from __future__ import annotations

import difflib
import types
import typing
from collections.abc import Callable, Sequence
from typing import Any

from pydantic import BaseModel
from pydantic_core import ErrorDetails

from broker.errors import Problem
from policies.errors import describe_message, field_named, field_names, format_loc

Loc = tuple[str | int, ...]
LineOf = Callable[[Loc], int | None]

_ROOT_MISMATCH = ("_type", "_parsing", "literal_error", "enum")


def _strip(tp: Any) -> Any:
    """``Annotated[X, ...]`` -> ``X`` and ``X | None`` -> ``X`` (a union of several stays)."""
    while True:
        origin = typing.get_origin(tp)
        if origin is typing.Annotated:
            tp = typing.get_args(tp)[0]
        elif origin in (typing.Union, types.UnionType):
            members = [a for a in typing.get_args(tp) if a is not type(None)]
            if len(members) != 1:
                return tp
            tp = members[0]
        else:
            return tp


def _members(tp: Any) -> list[Any]:
    """The members of a union (``[]`` for any other type)."""
    if typing.get_origin(tp) not in (typing.Union, types.UnionType):
        return []
    return [_strip(a) for a in typing.get_args(tp) if a is not type(None)]


def _is_model(tp: Any) -> bool:
    return isinstance(tp, type) and issubclass(tp, BaseModel)


def _literals(tp: Any) -> tuple[Any, ...]:
    return typing.get_args(tp) if typing.get_origin(tp) is typing.Literal else ()


def _tagged(union: Any, tag: str) -> Any:
    """The member of ``union`` annotated with pydantic's ``Tag(tag)`` (callable
    discriminators), or ``None``."""
    for arg in typing.get_args(union):
        annotated = typing.get_origin(arg) is typing.Annotated
        if annotated and any(getattr(m, "tag", None) == tag for m in arg.__metadata__):
            return _strip(arg)
    return None


def _member_for(members: list[Any], tag: str, union: Any = None) -> Any:
    """The union member pydantic names ``tag`` in a path (its class name, its type's
    name such as ``list[float]``, its ``Tag``, or its discriminator's value)."""
    tagged = _tagged(union, tag) if union is not None else None
    if tagged is not None:
        return tagged
    for member in members:
        if _is_model(member) and member.__name__ == tag:
            return member
    for member in members:
        if _is_model(member) and any(
            tag in _literals(_strip(f.annotation)) for f in member.model_fields.values()
        ):
            return member
    lowered = tag.lower()
    for member in members:
        origin = typing.get_origin(member)
        name = getattr(origin or member, "__name__", str(member)).lower()
        if lowered.startswith(name):
            return member
    return None


def resolve(root: type[BaseModel], loc: Loc) -> tuple[Loc, list[int], Any]:
    """The path of ``loc`` as a job file writes it, the positions of ``loc`` that are union
    tags, and the declared type at its end (``None`` off the schema)."""
    tp: Any = root
    user: list[str | int] = []
    tags: list[int] = []
    for i, part in enumerate(loc):
        tp = _strip(tp) if tp is not None else None
        members = _members(tp)
        if members and isinstance(part, str):
            tags.append(i)
            tp = _member_for(members, part, tp)
            continue
        user.append(part)
        origin = typing.get_origin(tp)
        if _is_model(tp):
            name = field_named(tp, part)
            tp = tp.model_fields[name].annotation if name is not None else None
        elif origin is dict and isinstance(part, str):
            tp = typing.get_args(tp)[1]
        elif origin is list and isinstance(part, int):
            tp = typing.get_args(tp)[0]
        else:
            tp = None
    return tuple(user), tags, _strip(tp) if tp is not None else None


def _close(word: object, choices: Sequence[str]) -> str | None:
    found = difflib.get_close_matches(str(word), list(choices), n=1, cutoff=0.6)
    return found[0] if found else None


def _choices(values: Sequence[object]) -> str:
    return ", ".join(repr(v) if isinstance(v, str) else str(v) for v in values)


def _message(root: type[BaseModel], error: ErrorDetails) -> tuple[str, str | None]:
    """The message of one error (its path resolved against ``root``) and a suggestion."""
    kind, loc, value = error["type"], tuple(error["loc"]), error.get("input")
    ctx = error.get("ctx") or {}
    if kind == "extra_forbidden":
        _, _, parent = resolve(root, loc[:-1])
        if not _is_model(parent):
            return "unknown field", None
        valid = field_names(parent)
        close = _close(loc[-1], valid)
        hint = f" (did you mean {close}?)" if close else ""
        return f"unknown field{hint}; valid fields: {', '.join(valid)}", close
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        _, _, here = resolve(root, loc)
        fields = f" with the fields {', '.join(field_names(here))}" if _is_model(here) else ""
        for field in ("name", "kind"):
            tags = _tags(here, field)
            if tags:
                example = value if value in tags else tags[0]
                fields = f" such as {{{field}: {example}}} ({field}: one of {_choices(tags)})"
        return f"should be a mapping{fields}; found {_found(value)}", None
    if kind == "literal_error" or kind == "enum":
        _, _, here = resolve(root, loc)
        allowed = _literals(here) or tuple(str(ctx.get("expected", "")).split(" or "))
        close = _close(value, [str(a) for a in allowed])
        hint = f" (did you mean {close!r}?)" if close else ""
        return f"should be one of {_choices(allowed)}; found {_found(value)}{hint}", close
    return describe_message(root, error), None


def _found(value: object) -> str:
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if value is None:
        return "nothing (null)"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _form(root: type[BaseModel], error: ErrorDetails) -> str:
    """One member's form, for a value that fits no member of a union."""
    _, _, here = resolve(root, tuple(error["loc"]))
    if _is_model(here):
        return f"a mapping with the fields {', '.join(field_names(here))}"
    if typing.get_origin(here) is list:
        return "a list"
    if _literals(here):
        return f"one of {_choices(_literals(here))}"
    return error["msg"].replace("Input should be ", "")


def _pick(errors: list[ErrorDetails], depth: int) -> list[ErrorDetails] | None:
    """The errors of the union member (tag at position ``depth``) the value was meant to
    be: the member with the fewest errors among those whose shape the value has; ``None``
    when it has the shape of none (the caller then names every form)."""
    groups: dict[object, list[ErrorDetails]] = {}
    for error in errors:
        groups.setdefault(error["loc"][depth], []).append(error)
    shaped = {
        tag: found
        for tag, found in groups.items()
        if not all(len(e["loc"]) == depth + 1 and e["type"].endswith(_ROOT_MISMATCH) for e in found)
    }
    if not shaped:
        return None
    return min(shaped.values(), key=len)


def _union_problems(
    root: type[BaseModel], errors: list[ErrorDetails], depth: int
) -> list[tuple[Loc, str, str | None]]:
    """The problems of the errors under one union (their tag at ``depth``)."""
    picked = _pick(errors, depth)
    if picked is None:
        forms = []
        for e in errors:
            form = _form(root, e)
            if form not in forms:
                forms.append(form)
        user, _, _ = resolve(root, tuple(errors[0]["loc"]))
        value = errors[0].get("input")
        choices = [str(a) for e in errors for a in _literals(resolve(root, tuple(e["loc"]))[2])]
        close = _close(value, choices) if isinstance(value, str) else None
        hint = f" (did you mean {close!r}?)" if close else ""
        return [(user, f"should be {' or '.join(forms)}; found {_found(value)}{hint}", close)]
    return _translate(root, picked, depth + 1)


def _translate(
    root: type[BaseModel], errors: list[ErrorDetails], start: int = 0
) -> list[tuple[Loc, str, str | None]]:
    """Problems ``(user path, message, suggestion)``, unions resolved from ``start`` on."""
    out: list[tuple[Loc, str, str | None]] = []
    by_union: dict[tuple[Loc, int], list[ErrorDetails]] = {}
    for error in errors:
        loc = tuple(error["loc"])
        _, tags, _ = resolve(root, loc)
        tags = [t for t in tags if t >= start]
        if tags:
            by_union.setdefault((loc[: tags[0]], tags[0]), []).append(error)
            continue
        if error["type"] in ("union_tag_invalid", "union_tag_not_found"):
            out.append(_tag_problem(root, error))
            continue
        user, _, _ = resolve(root, loc)
        message, suggestion = _message(root, error)
        out.append((user, message, suggestion))
    for (_, depth), found in by_union.items():
        out.extend(_union_problems(root, found, depth))
    return out


def _tags(union: Any, field: str) -> list[str]:
    """The values of ``field`` that pick each member of a discriminated union."""
    found: list[str] = []
    for member in _members(union):
        name = field_named(member, field) if _is_model(member) else None
        if name is not None:
            found.extend(str(v) for v in _literals(_strip(member.model_fields[name].annotation)))
    return found


def _tag_problem(root: type[BaseModel], error: ErrorDetails) -> tuple[Loc, str, str | None]:
    """A discriminated union's tag that is missing or names no member."""
    ctx = error.get("ctx") or {}
    field = str(ctx.get("discriminator", "")).strip("'")
    user, _, here = resolve(root, tuple(error["loc"]))
    expected = _tags(here, field)
    loc = (*user, field) if field else user
    if error["type"] == "union_tag_not_found":
        return loc, f"required field is missing: one of {_choices(expected)}", None
    tag = ctx.get("tag")
    close = _close(tag, expected)
    hint = f" (did you mean {close!r}?)" if close else ""
    return loc, f"{tag!r} is not one of {_choices(expected)}{hint}", close


def problems(
    root: type[BaseModel],
    errors: list[ErrorDetails],
    prefix: Loc = (),
    line_of: LineOf | None = None,
) -> list[Problem]:
    """Each error of a validation of ``root`` as a :class:`Problem`, its path under
    ``prefix`` and its line from ``line_of`` (given the full path), sorted by line."""
    found = []
    seen: set[tuple[Loc, str]] = set()
    for user, message, suggestion in _translate(root, errors):
        loc = (*prefix, *user)
        if (loc, message) in seen:
            continue
        seen.add((loc, message))
        line = line_of(loc) if line_of is not None else None
        found.append(Problem(format_loc(loc), message, line, suggestion))
    return sorted(found, key=lambda p: (p.line or 0, p.path))
