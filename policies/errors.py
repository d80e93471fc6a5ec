"""Errors of the policy package: how each is worded for a committee, and how entries in
error are set aside so that the rest of a policy can still be checked.

Pydantic's own messages name a path as a tuple and say "Extra inputs are not permitted";
:func:`describe` turns each error into one line, ``path: message``, that says what is
wrong and what is allowed there (the valid field names at that path, the valid choices).
:class:`Repairs` lets the loader report schema errors and cross-section errors together.
"""

from __future__ import annotations

import difflib
import re
import types
import typing
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from pydantic import BaseModel
from pydantic_core import ErrorDetails

Loc = tuple[str | int, ...]


class PolicyError(ValueError):
    """A policy file is unreadable or invalid; ``errors`` lists every problem with its path."""

    def __init__(self, source: str, errors: list[str]):
        self.source = source
        self.errors = errors
        listing = "\n".join(f"  - {e}" for e in errors)
        super().__init__(f"policy file {source} has {len(errors)} error(s):\n{listing}")


def format_loc(loc: Sequence[str | int]) -> str:
    """``('proposals', 3, 'budgets', 1, 'unit')`` -> ``proposals[3].budgets[1].unit``."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _unwrap(tp: Any) -> Any:
    """``Annotated[X, ...]`` and ``X | None`` -> ``X``."""
    while True:
        origin = typing.get_origin(tp)
        if origin is typing.Annotated:
            tp = typing.get_args(tp)[0]
        elif origin in (typing.Union, types.UnionType):
            args = [a for a in typing.get_args(tp) if a is not type(None)]
            if len(args) != 1:
                return tp
            tp = args[0]
        else:
            return tp


def _is_model(tp: Any) -> bool:
    return isinstance(tp, type) and issubclass(tp, BaseModel)


def field_named(model: type[BaseModel], key: str | int) -> str | None:
    """The attribute name of ``model``'s field written ``key`` in a file (name or alias)."""
    for name, info in model.model_fields.items():
        if key in (name, info.alias):
            return name
    return None


def type_at(root: type[BaseModel], loc: Sequence[str | int]) -> Any:
    """The declared type at ``loc`` under ``root``, following models, ``dict[str, X]`` values
    and ``list[X]`` items (``None`` when the path leaves the schema)."""
    tp: Any = root
    for part in loc:
        tp = _unwrap(tp)
        origin = typing.get_origin(tp)
        if _is_model(tp):
            name = field_named(tp, part)
            if name is None:
                return None
            tp = tp.model_fields[name].annotation
        elif origin is dict and isinstance(part, str):
            tp = typing.get_args(tp)[1]
        elif origin is list and isinstance(part, int):
            tp = typing.get_args(tp)[0]
        else:
            return None
    return _unwrap(tp)


def field_names(model: type[BaseModel]) -> list[str]:
    """The fields of ``model`` as a policy file writes them (aliases such as ``apiVersion``)."""
    return [info.alias or name for name, info in model.model_fields.items()]


def _short(value: object, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _kind(value: object) -> str:
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, list | tuple | set):
        return "a list"
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return f"{str(value).lower()} (yes/no)"
    if isinstance(value, str):
        return f"the text {_short(value)}"
    return _short(value)


def _unknown_field(root: type[BaseModel], loc: Loc) -> str:
    model = type_at(root, loc[:-1])
    if not _is_model(model):
        return "unknown field"
    valid = field_names(model)
    key = str(loc[-1])
    close = difflib.get_close_matches(key, valid, n=1)
    hint = f" (did you mean {close[0]}?)" if close else ""
    if key != key.strip() or not key.isprintable():
        hint += f" (it is written {key!r}: mind the invisible characters)"
    return f"unknown field{hint}; valid fields: {', '.join(valid)}"


def _mapping_expected(root: type[BaseModel], loc: Loc, value: object) -> str:
    model = type_at(root, loc)
    fields = f" with the fields {', '.join(field_names(model))}" if _is_model(model) else ""
    return f"should be a mapping{fields}; found {_kind(value)}"


def describe_message(root: type[BaseModel], error: ErrorDetails) -> str:
    """The message of one pydantic error (without its path), as a committee member reads it."""
    kind, loc, value = error["type"], tuple(error["loc"]), error.get("input")
    msg = error["msg"]
    if kind == "extra_forbidden":
        return _unknown_field(root, loc)
    if kind == "missing":
        return "required field is missing"
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        return _mapping_expected(root, loc, value)
    if kind == "list_type":
        return f"should be a list, such as [a, b]; found {_kind(value)}"
    if kind == "string_type" and isinstance(value, int | float) and not isinstance(value, bool):
        return f'should be text; put the number in quotes, e.g. "{value}"'
    if kind.startswith("date_"):
        reason = (error.get("ctx") or {}).get("error")
        why = f" ({reason})" if reason else ""
        return f"should be a date such as 2026-01-31; found {_kind(value)}{why}"
    if kind == "too_short" and isinstance(value, list | dict):
        least = (error.get("ctx") or {}).get("min_length", 1)
        return f"should hold at least {least} item(s); found {len(value) or 'none'}"
    if kind == "finite_number":
        return "should be a finite number"
    if kind == "value_error":
        return msg.removeprefix("Value error, ")
    msg = msg.replace("Input should be", "should be", 1)
    if isinstance(value, str | int | float) and value != "":
        msg += f" (found {_short(value)})"
    return msg


def describe(root: type[BaseModel], error: ErrorDetails, loc: Loc | None = None) -> str:
    """``path: message`` for one pydantic error; ``loc`` overrides the error's own path."""
    where = format_loc(loc if loc is not None else tuple(error["loc"]))
    return f"{where or '(the whole file)'}: {describe_message(root, error)}"


_PATH_PART = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


def parse_path(text: str) -> Loc | None:
    """``proposals[3].budgets[1]`` -> ``('proposals', 3, 'budgets', 1)`` (``None``: not a path)."""
    loc: list[str | int] = [
        int(index) if index else name for name, index in _PATH_PART.findall(text)
    ]
    return tuple(loc) if loc and format_loc(loc) == text else None


def _lookup(data: Any, loc: Loc) -> Any:
    """The value at ``loc`` in plain data (``None`` when absent)."""
    for part in loc:
        in_dict = isinstance(data, dict) and part in data
        in_list = isinstance(data, list) and isinstance(part, int) and 0 <= part < len(data)
        if not (in_dict or in_list):
            return None
        data = data[part]
    return data


class Repairs:
    """Entries set aside because they failed validation, so that the rest can be checked.

    A list item or dict entry in error is cut out, an optional field in error is dropped
    (its default applies), a required top-level field gets a placeholder. Paths of the
    pruned policy map back to the file's (list items renumbered), and problems that name a
    set-aside entry (``unknown backend 'x'`` when backend ``x`` was set aside) are dropped.
    """

    MAX_ROUNDS = 10

    def __init__(self, root: type[BaseModel], placeholders: Mapping[str, Any]) -> None:
        self.root = root
        self.placeholders = placeholders
        self.cut: set[Loc] = set()
        self.placed: dict[Loc, Any] = {}
        self.names: set[str] = set()
        self.data: Any = None

    def apply(self, data: Any) -> Any:
        """``data`` without the entries set aside, with the placeholders."""
        self.data = data
        if not self.cut and not self.placed:
            return data
        return self._pruned(data, ())

    def _pruned(self, value: Any, path: Loc) -> Any:
        if path in self.placed:
            return self.placed[path]
        if isinstance(value, dict):
            out = {
                k: self._pruned(v, (*path, k))
                for k, v in value.items()
                if (*path, k) not in self.cut
            }
            if not path:
                out.update({loc[0]: v for loc, v in self.placed.items() if len(loc) == 1})
            return out
        if isinstance(value, list):
            return [
                self._pruned(v, (*path, i))
                for i, v in enumerate(value)
                if (*path, i) not in self.cut
            ]
        return value

    def original(self, loc: Loc) -> Loc:
        """The file's path of a path in the pruned policy (list items renumbered)."""
        out: list[str | int] = []
        for part in loc:
            if isinstance(part, int):
                base = tuple(out)
                removed = sorted(
                    c[-1]
                    for c in self.cut
                    if len(c) == len(base) + 1 and c[:-1] == base and isinstance(c[-1], int)
                )
                for index in removed:
                    if index <= part:
                        part += 1
            out.append(part)
        return tuple(out)

    def is_artifact(self, kind: str, loc: Loc) -> bool:
        """Whether an error only follows from an earlier cut (a list left too short)."""
        return kind == "too_short" and any(c[:-1] == loc for c in self.cut)

    def _fix(self, loc: Loc) -> bool:
        for n in range(len(loc), 0, -1):
            prefix, parent, last = loc[:n], loc[: n - 1], loc[n - 1]
            if prefix in self.cut or prefix in self.placed:
                return False
            container = type_at(self.root, parent)
            origin = typing.get_origin(container)
            if origin is dict or (origin is list and isinstance(last, int)):
                self._cut(prefix, named=origin is dict)
                return True
            if _is_model(container):
                name = field_named(container, last)
                if name is None or not container.model_fields[name].is_required():
                    self._cut(prefix, named=False)
                    return True
                if not parent and last in self.placeholders:
                    self.placed[prefix] = self.placeholders[str(last)]
                    return True
        return False

    def _cut(self, loc: Loc, named: bool) -> None:
        """Set ``loc`` aside. The names it defines go with it: a dict entry's own name, or
        every name in a whole named section (``qos``, ``backends``...)."""
        self.cut.add(loc)
        if named:
            self.names.add(str(loc[-1]))
        elif typing.get_origin(type_at(self.root, loc)) is dict:
            value = _lookup(self.data, loc)
            if isinstance(value, dict):
                self.names.update(str(k) for k in value)

    def repair(self, locs: Iterable[Loc]) -> bool:
        """Set aside what each error (at ``locs``, in the file's paths) is about; ``False``
        when one cannot be set aside (the cross-checks cannot run then)."""
        return all([self._fix(loc) for loc in locs])

    def translate(self, problems: list[str]) -> list[tuple[Loc | None, str]]:
        """Problems of the pruned policy in the file's paths, without those that name a
        set-aside entry."""
        out: list[tuple[Loc | None, str]] = []
        for problem in problems:
            if any(repr(name) in problem for name in self.names):
                continue
            head, sep, rest = problem.partition(": ")
            parsed = parse_path(head)
            if parsed is None or not sep:
                out.append((None, problem))
                continue
            loc = self.original(parsed)
            out.append((loc, f"{format_loc(loc)}{sep}{rest}"))
        return out
