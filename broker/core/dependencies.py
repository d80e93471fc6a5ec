"""Dependencies between jobs (a job file's ``dependency:``, ``qcb submit -d``), as Slurm's
``sbatch --dependency``: ``afterok:ID[:ID...]`` waits until each of those jobs completed,
``afternotok`` until each failed or was cancelled, ``afterany`` until each ended; several
joined by ``,`` must all hold (Slurm's ``?``, any of them, is not offered).

A job is admitted (and holds its budget) when it is submitted; one row per dependency not
yet met keeps its pending tasks out of the dispatcher's pending query. When a job ends,
:func:`settle` deletes the rows it satisfies and names the dependents it never can satisfy,
which :func:`broker.core.endings.end_job` cancels (Slurm's ``kill_invalid_depend``). Only
the submitter's own jobs may be waited for: another user's job states are not theirs to see.
"""

from __future__ import annotations

import difflib
import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import NoReturn

from sqlalchemy import Connection, delete, select

from backends.states import TaskState
from broker.errors import InvalidJob, Problem
from broker.store.db import advisory_lock
from broker.store.schema import job_dependencies, jobs

CONDITIONS = {
    "afterok": "completed",
    "afternotok": "failed or was cancelled",
    "afterany": "ended",
}
"""Each condition and what it waits for of every job it names."""

MAX_DEPENDENCIES = 100
"""The most jobs one job may wait for."""

_JOB_ID = re.compile(r"^[A-Za-z0-9_-]{1,32}$")


@dataclass(frozen=True)
class Dependency:
    """One job waited for, and on what."""

    condition: str
    job_id: str

    def __str__(self) -> str:
        return f"{self.condition}:{self.job_id}"


def parse(text: str) -> list[Dependency]:
    """``afterok:j-1:j-2,afterany:j-3`` as dependencies; ``ValueError`` saying what is wrong
    (an unknown condition with the valid ones and a close one, a bad or missing id)."""
    if "?" in text:
        raise ValueError("'?' (any of several) is not offered; join conditions with ','")
    found: list[Dependency] = []
    for part in text.split(","):
        condition, _, ids = part.strip().partition(":")
        if condition not in CONDITIONS:
            close = difflib.get_close_matches(condition, CONDITIONS, n=1)
            maybe = f" (did you mean {close[0]!r}?)" if close else ""
            valid = ", ".join(sorted(CONDITIONS))
            raise ValueError(f"unknown condition {_clip(condition)!r}{maybe}; valid: {valid}")
        if not ids:
            raise ValueError(f"{condition!r} names no job: write {condition}:JOB_ID[:JOB_ID...]")
        for job_id in ids.split(":"):
            if not _JOB_ID.match(job_id):
                raise ValueError(f"{_clip(job_id)!r} is not a job id (as `qcb jobs` prints them)")
            found.append(Dependency(condition, job_id))
    if len(found) > MAX_DEPENDENCIES:
        raise ValueError(f"{len(found)} jobs waited for; at most {MAX_DEPENDENCIES}")
    return found


def _clip(text: str, limit: int = 40) -> str:
    """``text`` cut to ``limit`` characters for a message (a refused id may be any length)."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def met(condition: str, state: TaskState) -> bool | None:
    """Whether a job in ``state`` meets ``condition``: None while it has not ended."""
    if not state.final:
        return None
    if condition == "afterok":
        return state == TaskState.COMPLETED
    if condition == "afternotok":
        return state != TaskState.COMPLETED
    return True


def record(conn: Connection, job_id: str, user: str, text: str | None) -> None:
    """Record the dependencies of job ``job_id`` of ``user`` in its admitting transaction:
    those already met are dropped; one that names a job that is not ``user``'s, or that can
    no longer be met, refuses the job (``InvalidJob`` at ``dependency``)."""
    if not text:
        return
    for dep in parse(text):
        advisory_lock(conn, f"qcb.job.{dep.job_id}")  # its end settles us, or not yet
        row = conn.execute(
            select(jobs.c.state).where(jobs.c.id == dep.job_id, jobs.c.user == user)
        ).first()
        if row is None:
            _refuse(f"{dep}: you have no job {dep.job_id!r}", "`qcb jobs` lists your jobs")
        verdict = met(dep.condition, TaskState(row.state))
        if verdict is False:
            _refuse(
                f"{dep} can never be met: {dep.job_id} ended {row.state}",
                "drop it, or wait for a job that can still meet it",
            )
        if verdict is None:
            conn.execute(
                job_dependencies.insert().values(
                    job_id=job_id, after_job=dep.job_id, condition=dep.condition
                )
            )


def _refuse(message: str, hint: str) -> NoReturn:
    problem = Problem(path="dependency", message=message)
    raise InvalidJob(str(problem), hint=hint, problems=[problem])


def settle(conn: Connection, job_id: str, state: TaskState) -> list[tuple[str, str]]:
    """Job ``job_id`` ended in ``state``: delete its own waits and those it meets; the
    dependents it can never satisfy, each with why (the caller cancels them)."""
    conn.execute(delete(job_dependencies).where(job_dependencies.c.job_id == job_id))
    waiting = conn.execute(
        select(job_dependencies.c.job_id, job_dependencies.c.condition).where(
            job_dependencies.c.after_job == job_id
        )
    ).all()
    doomed: list[tuple[str, str]] = []
    for row in waiting:
        if met(row.condition, state):
            conn.execute(
                delete(job_dependencies).where(
                    job_dependencies.c.job_id == row.job_id,
                    job_dependencies.c.after_job == job_id,
                    job_dependencies.c.condition == row.condition,
                )
            )
        else:
            why = f"dependency {row.condition}:{job_id} can never be met: {job_id} ended {state}"
            doomed.append((row.job_id, why))
    return doomed


def waits_for(conn: Connection, job_ids: Iterable[str]) -> dict[str, list[str]]:
    """The dependencies not yet met of each of ``job_ids`` (``afterok:j-1``), by job."""
    ids = list(job_ids)
    found: dict[str, list[str]] = defaultdict(list)
    if not ids:
        return found
    rows = conn.execute(
        select(job_dependencies)
        .where(job_dependencies.c.job_id.in_(ids))
        .order_by(job_dependencies.c.after_job)
    )
    for row in rows:
        found[row.job_id].append(f"{row.condition}:{row.after_job}")
    return found
