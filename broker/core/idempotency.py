"""Idempotent submission: a job's fingerprint, and the job an idempotency key stands for.

A client that retries a submission (a lost answer, a timeout) sends the same key; the
broker then answers with the first job's id and admits nothing. A key reused for another
job is refused rather than silently answered with the wrong job.
"""

from __future__ import annotations

import hashlib
import json

from sqlalchemy import Connection, select

from broker.core.models import JobSpec
from broker.errors import InvalidJob
from broker.store.schema import jobs


def spec_sha256(spec: JobSpec) -> str:
    """sha256 of the job's canonical JSON (sorted keys)."""
    text = json.dumps(spec.model_dump(mode="json", by_alias=True), sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


def earlier_job(conn: Connection, user: str, client_key: str, spec: JobSpec) -> str | None:
    """The id of the job ``user`` submitted with ``client_key`` when it is ``spec``; None
    when the key is new; ``InvalidJob`` when it was used for another job."""
    earlier = conn.execute(
        select(jobs.c.id, jobs.c.spec_sha256).where(
            jobs.c.user == user, jobs.c.client_key == client_key
        )
    ).one_or_none()
    if earlier is None:
        return None
    if earlier.spec_sha256 != spec_sha256(spec):
        raise InvalidJob(
            f"the idempotency key {client_key!r} was used for another job ({earlier.id}); "
            "a key stands for one job",
            hint="use a new key for a new job; resend the same job to get its id again",
        )
    return str(earlier.id)
