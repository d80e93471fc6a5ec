"""What changes between two revisions of a policy, one line per change.

Sections are compared field by field; named entries (backends, security domains, QOS
levels, programs) by name; proposals by id; a proposal's budgets by (backend, unit, period);
capacities by (unit, period); overrun bands by threshold and checkpoints by date. Lists of
names (units, members, allowed QOS) report what was added and removed, or a new order.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from pydantic import BaseModel

from policies.proposals import Budget, Proposal
from policies.schema import Policy
from policies.sections import Capacity, Checkpoint, OverrunBand
from policies.types import format_duration, parse_duration


@dataclass(frozen=True)
class Change:
    """One difference: where (a path), the old and new values (JSON-ready; ``None`` when
    absent) and a line of text for a committee member."""

    path: str
    old: Any
    new: Any
    text: str

    def as_dict(self) -> dict[str, Any]:
        """The change as a JSON-ready mapping."""
        return {"path": self.path, "old": self.old, "new": self.new, "text": self.text}


def _budget_key(b: Budget) -> tuple[str, ...]:
    return (b.backend, b.unit, b.period)


def _capacity_key(c: Capacity) -> tuple[str, ...]:
    return (c.unit, c.period)


# How the items of each list of models are matched between revisions.
_KEYS: dict[type[BaseModel], Callable[[Any], Hashable]] = {
    Proposal: lambda p: p.id,
    Budget: _budget_key,
    Capacity: _capacity_key,
    OverrunBand: lambda b: f"{b.above_pct:g}%",
    Checkpoint: lambda c: c.date.isoformat(),
}

# Free text, reported as "changed" rather than quoted in full.
_LONG_TEXT = frozenset({"description", "title"})
# Fields that already name a matched item (a checkpoint by its date, a band by its edge).
_KEY_FIELDS = frozenset({"date", "above_pct"})

# Singular nouns for the entries of named sections, for the text of a change.
_NOUNS = {
    "backends": "backend",
    "security_domains": "security domain",
    "qos": "QOS level",
    "programs": "program",
    "proposals": "proposal",
    "budgets": "budget",
    "capacity": "capacity",
    "bands": "band",
    "checkpoints": "checkpoint",
}


def _plain(value: Any) -> Any:
    """A JSON-ready copy of a value (models as they are written in a file)."""
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json", by_alias=True)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    return value


def _is_duration(model: type[BaseModel], name: str) -> bool:
    info = model.model_fields[name]
    text = repr(info.annotation) + repr(info.metadata)
    return parse_duration.__name__ in text


def _duration(seconds: float) -> str:
    """Whole days as days (``28d``, not ``4w``: committees count days)."""
    if seconds >= 86400 and seconds % 86400 == 0:
        return f"{seconds / 86400:g}d"
    return format_duration(seconds)


def _number(value: float) -> str:
    if float(value).is_integer() and abs(value) < 1e15:
        return f"{value:,.0f}"
    return f"{value:g}"


def _show(value: Any, duration: bool = False) -> str:
    if value is None:
        return "unset"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if duration and isinstance(value, int | float):
        return _duration(float(value))
    if isinstance(value, int | float):
        return _number(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, BaseModel):
        return _summary(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_show(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_show(v)}" for k, v in value.items()) + "}"
    return str(value)


def _label(key: Hashable, human: bool = False) -> str:
    """A matching key in a path (``slurm/node_hours/allocation_year``) or in text
    (``on slurm, node_hours per allocation year``)."""
    if not isinstance(key, tuple):
        return str(key)
    if human and len(key) == 3:
        backend, unit, period = key
        return f"on {backend}, {unit} per {str(period).replace('_', ' ')}"
    if human and len(key) == 2:
        return f"{key[0]} per {str(key[1]).replace('_', ' ')}"
    return "/".join(map(str, key))


def _summary(value: Any) -> str:
    """A few words on an entry that was added or removed."""
    if isinstance(value, Proposal):
        n = len(value.budgets)
        return f"PI {value.pi}, program {value.program}, {n} budget{'s' * (n != 1)}"
    if isinstance(value, Budget):
        return _budget_text(value)
    if isinstance(value, Capacity):
        return f"{_number(value.amount)} {value.unit} per {_period(value.period, value.window)}"
    if not isinstance(value, BaseModel):
        return _show(value)
    model = type(value)
    parts = []
    for name, info in model.model_fields.items():
        v = getattr(value, name)
        if name in _LONG_TEXT | _KEY_FIELDS or v == info.get_default(call_default_factory=True):
            continue
        parts.append(f"{info.alias or name} {_show(v, _is_duration(model, name))}")
    return ", ".join(parts) or "all defaults"


def _period(period: str, window: float | None) -> str:
    if period == "rolling":
        return f"rolling {_duration(window or 0.0)}"
    return period.replace("_", " ")


def _budget_text(b: Budget) -> str:
    return f"{_number(b.amount)} {b.unit} per {_period(b.period, b.window)}, {b.enforcement}"


def _relative(old: Any, new: Any) -> str:
    """`` (+25%)``; a change that whole percents would show as -100%, 0% or +0% gets the
    digits it needs (10,000,000 -> 50,000 is -99.5%), a large one its factor (x200)."""
    numbers = all(isinstance(v, int | float) and not isinstance(v, bool) for v in (old, new))
    if not (numbers and old) or new == old:
        return ""
    change = (new - old) / old
    if new == 0:
        return " (-100%)"
    if abs(change) >= 10:
        return f" (x{new / old:.3g})"
    for digits in range(0, 6):
        text = f"{change:+.{digits}%}"
        shown = float(text.rstrip("%"))
        if shown not in (0.0, -100.0) or digits == 5:
            return f" ({text})"
    return ""


class _Differ:
    """Collects changes; ``where`` is the human context of a field, such as ``proposal X``."""

    def __init__(self) -> None:
        self.changes: list[Change] = []

    def add(self, path: str, old: Any, new: Any, text: str) -> None:
        self.changes.append(Change(path, _plain(old), _plain(new), text))

    def model(self, old: BaseModel, new: BaseModel, path: str, where: str) -> None:
        for name, info in type(old).model_fields.items():
            a, b = getattr(old, name), getattr(new, name)
            if a == b:
                continue
            key = info.alias or name
            sub = f"{path}.{key}" if path else key
            if isinstance(a, BaseModel) and type(a) is type(b):
                self.model(a, b, sub, f"{where}.{key}" if where else key)
            elif isinstance(a, dict) and isinstance(b, dict):
                self.named(a, b, sub, where, key)
            elif isinstance(a, list) and isinstance(b, list) and _model_list(a, b):
                self.items(a, b, sub, where, key)
            elif isinstance(a, list) and isinstance(b, list):
                self.names(a, b, sub, where, key)
            else:
                self.scalar(a, b, sub, where, key, _is_duration(type(old), name))

    def scalar(self, a: Any, b: Any, path: str, where: str, key: str, duration: bool) -> None:
        if key in _LONG_TEXT:
            self.add(path, a, b, f"{_at(where)}{key} changed")
            return
        old, new = _show(a, duration), _show(b, duration)
        self.add(path, a, b, f"{_at(where)}{key} {old} -> {new}{_relative(a, b)}")

    def named(self, a: dict[str, Any], b: dict[str, Any], path: str, where: str, key: str) -> None:
        noun = _NOUNS.get(key, key)
        for name in [*a, *(n for n in b if n not in a)]:
            sub = f"{path}.{name}"
            if name not in b:
                self.add(sub, a[name], None, f"{_at(where)}{noun} {name} removed")
            elif name not in a:
                what = f"{_show(b[name])} shares" if key == "programs" else _summary(b[name])
                text = f"{_at(where)}{noun} {name} added ({what})"
                self.add(sub, None, b[name], text)
            elif isinstance(a[name], BaseModel) and type(a[name]) is type(b[name]):
                self.model(a[name], b[name], sub, f"{_at(where)}{noun} {name}")
            elif a[name] != b[name]:
                self.scalar(a[name], b[name], sub, where, f"{noun} {name}", False)
        common = [n for n in a if n in b]
        if key == "qos" and common != [n for n in b if n in a]:
            text = f"{_at(where)}qos levels reordered (without default_qos, the first is default)"
            self.add(path, list(a), list(b), text)

    def items(self, a: list[Any], b: list[Any], path: str, where: str, key: str) -> None:
        noun = _NOUNS.get(key, key)
        old, new = _keyed(a), _keyed(b)
        for item_key in [*old, *(k for k in new if k not in old)]:
            label = _label(item_key[0]) + (f"#{item_key[1] + 1}" if item_key[1] else "")
            sub = f"{path}[{label}]"
            here = f"{_at(where)}{noun} {_label(item_key[0], human=True)}"
            if item_key not in new:
                self.add(sub, old[item_key], None, f"{here} removed ({_summary(old[item_key])})")
            elif item_key not in old:
                self.add(sub, None, new[item_key], f"{here} added ({_summary(new[item_key])})")
            elif old[item_key] != new[item_key]:
                self.model(old[item_key], new[item_key], sub, here)

    def names(self, a: list[Any], b: list[Any], path: str, where: str, key: str) -> None:
        came = [v for v in b if v not in a]
        gone = [v for v in a if v not in b]
        parts = [f"added {_show(came)}"] * bool(came) + [f"removed {_show(gone)}"] * bool(gone)
        text = "; ".join(parts) or f"reordered {_show(a)} -> {_show(b)}"
        if key == "allowed_qos" and a[:1] != b[:1]:
            text += f" (the default QOS is now {_show(b[0]) if b else 'the policy default'})"
        self.add(path, a, b, f"{_at(where)}{key} {text}")


def _at(where: str) -> str:
    return f"{where}: " if where else ""


def _model_list(a: Sequence[Any], b: Sequence[Any]) -> bool:
    return any(type(v) in _KEYS for v in [*a, *b])


def _keyed(items: list[Any]) -> dict[tuple[Hashable, int], Any]:
    """Items by their matching key and, for equal keys, the occurrence (0, 1, ...)."""
    out: dict[tuple[Hashable, int], Any] = {}
    counts: dict[Hashable, int] = {}
    for item in items:
        key = _KEYS[type(item)](item)
        n = counts.get(key, 0)
        counts[key] = n + 1
        out[(key, n)] = item
    return out


def diff_policies(old: Policy, new: Policy) -> list[Change]:
    """Every change from ``old`` to ``new``, in the order of the schema's sections."""
    differ = _Differ()
    differ.model(old, new, "", "")
    return differ.changes


def format_diff(changes: Sequence[Change]) -> str:
    """The changes as text: a count, then one line each."""
    if not changes:
        return "no changes"
    head = f"{len(changes)} change{'s' * (len(changes) != 1)}:"
    return "\n".join([head, *(f"  {c.text}" for c in changes)])
