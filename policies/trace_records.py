"""One line of a workload trace (:mod:`policies.trace`): the header and job records, the
tuples the simulator uses for jobs and tasks, and how a line is read.

The pydantic models (``extra="forbid"``, strict) define what is valid. Reading a line
first takes a fast path (``json.loads`` and plain checks); anything it does not accept
goes to the models, which either accept it or name the problem. Every error is a
:class:`TraceError` naming the line.
"""

from __future__ import annotations

import json
import math
from typing import Annotated, Any, Literal, NamedTuple

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from policies.types import UNITS, Unit

FORMAT = "qcbroker-trace"

Finite = Annotated[float, Field(allow_inf_nan=False)]
Amount = Annotated[float, Field(ge=0, allow_inf_nan=False)]


class TraceError(ValueError):
    """A trace is unreadable or invalid at ``line`` (1-based)."""

    def __init__(self, source: str, line: int, problems: list[str]) -> None:
        self.source = source
        self.line = line
        self.problems = problems
        super().__init__(f"{source}, line {line}: " + "; ".join(problems))


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class TraceHeader(_Model):
    """The first line of a trace."""

    format: Literal["qcbroker-trace"]
    version: Literal[1]
    backends: dict[str, Annotated[int, Field(ge=1)]] = Field(min_length=1)
    start: Finite
    end: Finite | None = None
    description: str = ""
    source: str = ""


class TraceTask(_Model):
    """One task of a step."""

    backend: str = Field(min_length=1)
    kind: Literal["quantum", "classical"]
    duration: Amount
    size: float = Field(default=1.0, gt=0, allow_inf_nan=False)
    usage: dict[Unit, Amount] = Field(default_factory=dict)


class TraceNeed(_Model):
    """An amount admission held for the job."""

    backend: str = Field(min_length=1)
    unit: Unit
    amount: Amount


class TraceJob(_Model):
    """One job line."""

    id: str = Field(min_length=1)
    proposal: str = Field(min_length=1)
    user: str = Field(min_length=1)
    qos: str | None = None
    submitted: Finite
    needs: list[TraceNeed] = Field(default_factory=list)
    steps: list[Annotated[list[TraceTask], Field(min_length=1)]] = Field(min_length=1)


class Task(NamedTuple):
    """A task of a job, as the simulator uses it."""

    backend: str
    kind: str
    duration: float
    size: float
    usage: dict[str, float]


class Job(NamedTuple):
    """A job, as the simulator uses it; ``needs`` holds (backend, unit, amount)."""

    id: str
    proposal: str
    user: str
    qos: str | None
    submitted: float
    needs: tuple[tuple[str, str, float], ...]
    steps: tuple[tuple[Task, ...], ...]
    line: int = 0


_JOB_KEYS = frozenset(TraceJob.model_fields)
_JOB_REQUIRED = frozenset({"id", "proposal", "user", "submitted", "steps"})
_TASK_KEYS = frozenset(TraceTask.model_fields)
_TASK_REQUIRED = frozenset({"backend", "kind", "duration"})
_NEED_KEYS = frozenset(TraceNeed.model_fields)
_UNITS = frozenset(UNITS)
_KINDS = frozenset({"quantum", "classical"})


def _finite(x: object) -> bool:
    if type(x) is float:
        return math.isfinite(x)
    return type(x) is int and -1e308 < x < 1e308


def _amount(x: object) -> bool:
    return _finite(x) and x >= 0  # type: ignore[operator]


def _name(x: object) -> bool:
    return type(x) is str and x != ""


def _fast_task(t: Any) -> Task | None:
    if type(t) is not dict or not (_TASK_REQUIRED <= t.keys() <= _TASK_KEYS):
        return None
    backend, kind, duration = t["backend"], t["kind"], t["duration"]
    size = t.get("size", 1.0)
    usage = t.get("usage", {})
    if not (_name(backend) and _name(kind) and kind in _KINDS):
        return None
    if not (_amount(duration) and _amount(size)):
        return None
    if size <= 0 or type(usage) is not dict:
        return None
    for unit, amount in usage.items():
        if unit not in _UNITS or not _amount(amount):
            return None
    return Task(backend, kind, float(duration), float(size), usage)


def _fast_job(obj: Any, line: int) -> Job | None:
    """The job, or None when anything is unusual (the models then decide)."""
    if type(obj) is not dict or not (_JOB_REQUIRED <= obj.keys() <= _JOB_KEYS):
        return None
    jid, proposal, user, submitted = obj["id"], obj["proposal"], obj["user"], obj["submitted"]
    qos = obj.get("qos")
    if not (_name(jid) and _name(proposal) and _name(user) and (qos is None or type(qos) is str)):
        return None
    if not _finite(submitted):
        return None
    needs = []
    raw_needs = obj.get("needs", [])
    if type(raw_needs) is not list:
        return None
    for n in raw_needs:
        if type(n) is not dict or n.keys() != _NEED_KEYS:
            return None
        if not (_name(n["backend"]) and _name(n["unit"]) and n["unit"] in _UNITS):
            return None
        if not _amount(n["amount"]):
            return None
        needs.append((n["backend"], n["unit"], float(n["amount"])))
    steps = []
    raw_steps = obj["steps"]
    if type(raw_steps) is not list or not raw_steps:
        return None
    for step in raw_steps:
        if type(step) is not list or not step:
            return None
        tasks = []
        for t in step:
            task = _fast_task(t)
            if task is None:
                return None
            tasks.append(task)
        steps.append(tuple(tasks))
    return Job(jid, proposal, user, qos, float(submitted), tuple(needs), tuple(steps), line)


def _from_model(m: TraceJob, line: int) -> Job:
    return Job(
        m.id,
        m.proposal,
        m.user,
        m.qos,
        m.submitted,
        tuple((n.backend, n.unit, n.amount) for n in m.needs),
        tuple(
            tuple(
                Task(t.backend, t.kind, t.duration, t.size, {str(u): a for u, a in t.usage.items()})
                for t in step
            )
            for step in m.steps
        ),
        line,
    )


def format_loc(loc: tuple[str | int, ...]) -> str:
    """``('steps', 0, 1, 'duration')`` -> ``steps[0][1].duration``."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _problems(exc: ValidationError) -> list[str]:
    return [f"{format_loc(e['loc']) or 'line'}: {e['msg']}" for e in exc.errors()]


def _load(text: str, source: str, line: int) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise TraceError(
            source, line, [f"not valid JSON ({exc.msg}, column {exc.colno})"]
        ) from None


def parse_header(text: str, source: str = "<trace>") -> TraceHeader:
    """The header from the first line."""
    obj = _load(text, source, 1)
    if not isinstance(obj, dict) or obj.get("format") != FORMAT:
        raise TraceError(
            source,
            1,
            [f'the first line must be the header {{"format": "{FORMAT}", "version": 1, ...}}'],
        )
    try:
        return TraceHeader.model_validate(obj)
    except ValidationError as exc:
        raise TraceError(source, 1, _problems(exc)) from None


def parse_job(text: str, line: int, source: str = "<trace>") -> Job:
    """One job line (no check against the header; see :func:`iter_jobs`)."""
    obj = _load(text, source, line)
    job = _fast_job(obj, line)
    if job is not None:
        return job
    try:
        return _from_model(TraceJob.model_validate(obj), line)
    except ValidationError as exc:
        raise TraceError(source, line, _problems(exc)) from None
