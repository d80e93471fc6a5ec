"""What any input may hold: the checks every boundary applies (API bodies, job files, policy
files, a driver's tasks), each refusal naming the field and the limit.

:func:`document_problems` walks a parsed document (JSON or YAML) once and refuses:
non-finite numbers (``Infinity``, ``NaN``, YAML's ``.inf``), control characters in strings
and keys (NUL included; tab, newline and carriage return are text), integers beyond what the
store holds (64 bits), nesting deeper than ``max_depth`` and more than ``max_values`` values
in all. :func:`batch_problems` bounds what one quantum task asks for (and so what its result
holds). The limits are settings (``QCB_MAX_*``, see :class:`broker.config.Settings`).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from typing import Any, NamedTuple

from pydantic import BaseModel, ConfigDict, Field

MAX_INT = 2**63 - 1
"""The largest integer the store holds (a 64-bit column)."""

MAX_SEED = 2**31 - 1
"""The largest seed (simulators take 32-bit seeds; so does the store's column)."""

MAX_REPORTED = 20
"""At most this many problems are listed in one refusal."""

_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


class Limits(BaseModel):
    """The limits of one deployment (defaults suit a facility; each is a setting)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    body_bytes: int = Field(default=8 << 20, ge=1024, description="Largest request body.")
    depth: int = Field(default=64, ge=4, description="Deepest nesting of a document.")
    values: int = Field(default=200_000, ge=100, description="Most values in one document.")
    observables: int = Field(
        default=10_000, ge=1, description="Most observables in one quantum task."
    )
    evaluations: int = Field(
        default=200_000,
        ge=1,
        description="Most values one quantum task, or one step of a job, returns (parameter "
        "sets x observables, or parameter sets when it samples).",
    )
    circuit_depth: int | None = Field(
        default=100_000, ge=1, description="Deepest circuit a job may send (None: no limit)."
    )


def field_path(path: tuple[str | int, ...]) -> str:
    """A field path as people write it (``a.b[2].c``); control characters escaped, and
    the middle of very deep paths left out."""
    if len(path) > 12:
        return f"{field_path(path[:6])}...{field_path(path[-2:])}"
    out = ""
    for part in path:
        if isinstance(part, str):
            part = _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", part)
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(the document)"


def _describe(char: str) -> str:
    return "NUL" if char == "\x00" else f"U+{ord(char):04X}"


def has_control(text: str) -> bool:
    """Whether ``text`` holds a control character (tab, newline and CR are text)."""
    return _CONTROL.search(text) is not None


def _scalar_problem(value: Any) -> str | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, float) and not math.isfinite(value):
        return f"{value} is not a number this service takes (only finite numbers)"
    if isinstance(value, int) and not -MAX_INT - 1 <= value <= MAX_INT:
        return f"the integer is out of range (at most {MAX_INT} in size)"
    if isinstance(value, str):
        bad = _CONTROL.search(value)
        if bad:
            return f"contains the control character {_describe(bad.group())}"
    return None


def _walk(value: Any, limits: Limits) -> Iterator[tuple[tuple[str | int, ...], str]]:
    """(path, problem) for each problem, in document order, stopping at the first size limit."""
    stack: list[tuple[tuple[str | int, ...], Any]] = [((), value)]
    count = 0
    while stack:
        path, item = stack.pop()
        count += 1
        if count > limits.values:
            yield (), f"more than {limits.values} values in one document (QCB_MAX_VALUES)"
            return
        if len(path) > limits.depth:
            yield path, f"nested deeper than {limits.depth} levels (QCB_MAX_DEPTH)"
            return
        if isinstance(item, dict):
            children: list[tuple[tuple[str | int, ...], Any]] = []
            for key, child in item.items():
                bad = _scalar_problem(key) if isinstance(key, str) else None
                if bad:
                    yield path, f"a key {bad}"
                children.append(((*path, str(key)), child))
            stack.extend(reversed(children))
        elif isinstance(item, list | tuple):
            stack.extend(reversed([((*path, i), c) for i, c in enumerate(item)]))
        else:
            bad = _scalar_problem(item)
            if bad:
                yield path, bad


class Problem(NamedTuple):
    """One thing wrong in a document: where (a field path) and what."""

    path: tuple[str | int, ...]
    message: str

    def __str__(self) -> str:
        return f"{field_path(self.path)}: {self.message}"


def document_problems(value: Any, limits: Limits | None = None) -> list[Problem]:
    """Each problem of a parsed document (at most :data:`MAX_REPORTED`); empty when it is
    within limits."""
    found = []
    for path, problem in _walk(value, limits or Limits()):
        found.append(Problem(path, problem))
        if len(found) >= MAX_REPORTED:
            break
    return found


def evaluations(batch: Any) -> int:
    """How many values a quantum task returns: parameter sets x observables (or parameter
    sets when it samples)."""
    return sum(len(item.parameter_values) * max(1, len(item.observables)) for item in batch.items)


def batch_problems(batch: Any, limits: Limits | None = None) -> list[str]:
    """What a quantum task (a :class:`backends.base.QuantumBatch`) asks beyond the limits."""
    limits = limits or Limits()
    observables = sum(len(item.observables) for item in batch.items)
    values = evaluations(batch)
    found = []
    if observables > limits.observables:
        found.append(
            f"{observables} observables in one task; at most {limits.observables} "
            "(QCB_MAX_OBSERVABLES): split the work into several tasks or jobs"
        )
    if values > limits.evaluations:
        found.append(
            f"{values} results (parameter sets x observables) in one task; at most "
            f"{limits.evaluations} (QCB_MAX_EVALUATIONS): use smaller batches"
        )
    return found


def check_batch(batch: Any, limits: Limits, where: str) -> None:
    """``InvalidJob`` when a quantum task asks beyond the limits (``where`` names it)."""
    from broker.errors import InvalidJob

    found = batch_problems(batch, limits)
    if found:
        raise InvalidJob(f"{where}: " + "; ".join(found))


def check_tasks(tasks: Any, limits: Limits) -> None:
    """:func:`check_batch` for each quantum task of an algorithm step, and the step's
    results together within ``limits.evaluations`` (so that a job's result stays small)."""
    total = 0
    for task in tasks:
        if task.quantum is not None:
            check_batch(task.quantum, limits, f"task {task.key!r}")
            total += evaluations(task.quantum)
    if total > limits.evaluations:
        from broker.errors import InvalidJob

        raise InvalidJob(
            f"one step of this job asks for {total} results (parameter sets x observables "
            f"over its tasks); at most {limits.evaluations} (QCB_MAX_EVALUATIONS): split it "
            "into several jobs"
        )
