"""Workload traces for ``qcb policy simulate``: JSON Lines, read and written as streams.

The first line is the header::

    {"format": "qcbroker-trace", "version": 1, "backends": {"ibm": 2, "slurm": 8},
     "start": 1767225600.0}

``backends`` gives each backend's capacity (tasks at once). Then one line per job, in
order of submission::

    {"id": "j1", "proposal": "QCP-042", "user": "ada", "qos": null,
     "submitted": 1767225660.0,
     "needs": [{"backend": "ibm", "unit": "qpu_seconds", "amount": 120}],
     "steps": [[{"backend": "ibm", "kind": "quantum", "duration": 30.0, "size": 1,
                 "usage": {"qpu_seconds": 30.0}}], ...]}

``needs`` is the estimate admission held; ``steps`` run one after another, the tasks of a
step in parallel; ``usage`` is what a task used (raw, before QOS and charge factors).
Times are epoch seconds (UTC). How one line is read and checked is in
:mod:`policies.trace_records`; this module reads and writes whole traces.
"""

from __future__ import annotations

import gzip
import json
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, TextIO

from policies.trace_records import (
    FORMAT,
    Job,
    Task,
    TraceError,
    TraceHeader,
    TraceJob,
    TraceNeed,
    TraceTask,
    format_loc,
    parse_header,
    parse_job,
)

__all__ = [
    "FORMAT",
    "Job",
    "Task",
    "Trace",
    "TraceError",
    "TraceHeader",
    "TraceJob",
    "TraceNeed",
    "TraceTask",
    "check_trace",
    "format_loc",
    "iter_jobs",
    "job_json",
    "parse_header",
    "parse_job",
    "task_json",
    "write_trace",
]


def iter_jobs(
    lines: Iterable[str], header: TraceHeader, source: str = "<trace>", first_line: int = 2
) -> Iterator[Job]:
    """Jobs from job lines, checked against the header: known backends, unique ids,
    submitted in order and not before ``start``."""
    backends = header.backends
    seen: set[str] = set()
    last = header.start
    for number, text in enumerate(lines, start=first_line):
        if not text.strip():
            continue
        job = parse_job(text, number, source)
        if job.id in seen:
            raise TraceError(source, number, [f"id: job {job.id!r} appears twice"])
        seen.add(job.id)
        if job.submitted < last:
            raise TraceError(
                source,
                number,
                [
                    f"submitted: {job.submitted!r} is before "
                    + ("the trace's start" if last == header.start else "the previous job's")
                    + f" ({last!r}); jobs must be in order of submission"
                ],
            )
        last = job.submitted
        for s, step in enumerate(job.steps):
            for k, task in enumerate(step):
                if task.backend not in backends:
                    raise TraceError(
                        source, number, [_unknown(f"steps[{s}][{k}]", task.backend, backends)]
                    )
        for k, (backend, _, _) in enumerate(job.needs):
            if backend not in backends:
                raise TraceError(source, number, [_unknown(f"needs[{k}]", backend, backends)])
        yield job


def _unknown(path: str, backend: str, backends: dict[str, int]) -> str:
    return (
        f"{path}.backend: {backend!r} is not a backend of the trace's header; "
        f"it has: {', '.join(sorted(backends))}"
    )


@dataclass(frozen=True)
class Trace:
    """A header and a way to go through its jobs (as often as needed)."""

    header: TraceHeader
    _jobs: Callable[[], Iterator[Job]]
    source: str = "<trace>"

    def jobs(self) -> Iterator[Job]:
        """The jobs, in order of submission (a file is read again on each call)."""
        return self._jobs()

    @classmethod
    def from_jobs(cls, header: TraceHeader, jobs: Iterable[Job], source: str = "<memory>") -> Trace:
        """A trace in memory; jobs are sorted by submission and checked as lines are."""
        ordered = sorted(jobs, key=lambda j: j.submitted)
        list(iter_jobs([json.dumps(job_json(j)) for j in ordered], header, source))
        return cls(header, lambda: iter(ordered), source)

    @classmethod
    def parse(cls, text: str, source: str = "<text>") -> Trace:
        """A trace from its text (all of it checked now)."""
        lines = text.splitlines()
        if not lines:
            raise TraceError(source, 1, ["the trace is empty; its first line is the header"])
        header = parse_header(lines[0], source)
        jobs = list(iter_jobs(lines[1:], header, source))
        return cls(header, lambda: iter(jobs), source)

    @classmethod
    def open(cls, path: Path | str) -> Trace:
        """A trace file (``.jsonl`` or ``.jsonl.gz``): the header is read now, jobs as they
        are needed, so a bad line raises :class:`TraceError` when it is reached."""
        path = Path(path)
        first = next(_lines(path, MAX_HEADER_CHARS), "")
        if not first.strip():
            raise TraceError(str(path), 1, ["the trace is empty; its first line is the header"])
        header = parse_header(first, str(path))

        def jobs() -> Iterator[Job]:
            lines = _lines(path)
            next(lines, None)
            yield from iter_jobs(lines, header, str(path))

        return cls(header, jobs, str(path))


MAX_HEADER_CHARS = 1 << 20
"""The longest header line read (a binary file has no line end to stop at)."""


def _lines(path: Path, first_limit: int = -1) -> Iterator[str]:
    """The file's lines (the first at most ``first_limit`` characters); a file that cannot
    be read, decoded or decompressed is a :class:`TraceError` at the line it fails on."""
    number = 1
    try:
        with _open(path) as f:
            yield f.readline(first_limit)
            for number, line in enumerate(f, start=2):  # noqa: B007 - read in the except
                yield line
    except UnicodeDecodeError as exc:
        problem = f"not UTF-8 text: byte 0x{exc.object[exc.start]:02x} cannot be decoded"
        raise TraceError(str(path), number, [problem + "; a trace is JSON Lines"]) from None
    except (OSError, EOFError, zlib.error) as exc:
        problem = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
        raise TraceError(str(path), number, [f"cannot read the file: {problem}"]) from None


def _open(path: Path, mode: Literal["r", "w"] = "r") -> TextIO:
    if path.suffix == ".gz":
        return gzip.open(path, mode + "t", encoding="utf-8")  # type: ignore[return-value]
    return path.open(mode, encoding="utf-8")


def task_json(task: Task) -> dict[str, Any]:
    """A task as written in a trace."""
    return {
        "backend": task.backend,
        "kind": task.kind,
        "duration": task.duration,
        "size": task.size,
        "usage": task.usage,
    }


def job_json(job: Job) -> dict[str, Any]:
    """A job as written in a trace."""
    return {
        "id": job.id,
        "proposal": job.proposal,
        "user": job.user,
        "qos": job.qos,
        "submitted": job.submitted,
        "needs": [{"backend": b, "unit": u, "amount": a} for b, u, a in job.needs],
        "steps": [[task_json(t) for t in step] for step in job.steps],
    }


def write_trace(path: Path | str, header: TraceHeader, jobs: Iterable[Job]) -> int:
    """Write a trace (streaming; ``.gz`` compresses); returns the number of tasks."""
    tasks = 0
    with _open(Path(path), "w") as f:
        f.write(json.dumps(header.model_dump(exclude_defaults=True)) + "\n")
        for job in jobs:
            tasks += sum(len(step) for step in job.steps)
            f.write(json.dumps(job_json(job), separators=(",", ":")) + "\n")
    return tasks


def check_trace(path: Path | str) -> tuple[int, int]:
    """Read a whole trace file, checking every line; returns (jobs, tasks)."""
    trace = Trace.open(path)
    jobs = tasks = 0
    for job in trace.jobs():
        jobs += 1
        tasks += sum(len(step) for step in job.steps)
    return jobs, tasks
