"""The Python SDK: ``from broker import Client``.

In embedded mode (the default) the client works on the local store and starts the embedded
runtime (a scheduler and a Celery worker, see :mod:`broker.processes.runtime`) when it has
work to do.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from kombu.exceptions import ChannelError

from broker import artifacts, catalog
from broker.accounting import shares, usage
from broker.accounting.explain import explain
from broker.accounting.trace_export import export_trace
from broker.accounting.usage import BurnPoint, ProposalUsage
from broker.catalog import BackendInfo
from broker.config import Settings
from broker.core import holds, queries, resume
from broker.core.models import JobResult, JobSpec, JobStatus, TaskLog
from broker.core.orchestrator import Broker
from broker.doorbell import JOBS_DOORBELL, Doorbell
from broker.jobfile import load_job, parse_job, validate_job
from broker.jobhandle import Job
from broker.processes import runtime
from broker.store import revisions
from broker.waiting import as_completed, parse_states, timed_out, wait_all
from policies.explain import Explanation
from policies.loader import LoadedPolicy

WAIT_POLL_SECONDS = 0.1
"""The longest :meth:`Client.wait` goes without looking at the job."""


def _jobs_doorbell(settings: Settings) -> Doorbell | None:
    """The embedded runtime's jobs doorbell, where there is one to wait on."""
    if not settings.broker_url.startswith("filesystem://"):
        return None
    try:
        settings.run_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        return Doorbell(str(settings.run_dir), JOBS_DOORBELL)
    except (OSError, ChannelError):  # no pipes here: look every WAIT_POLL_SECONDS
        return None


class Client:
    """Submit, follow and fetch hybrid jobs.

    With ``url`` (or ``QCB_URL``) and ``token`` (or ``QCB_TOKEN``) it is a
    :class:`broker.service.remote.RemoteClient` that works against a qcbroker service instead, with
    the same methods.

    Args:
        settings: where the store and queue live; default from ``QCB_*`` variables.
        user: who submits; default ``settings.user``.
        autostart: start the embedded runtime when a job needs it.
        url: a qcbroker API to work against (remote mode).
        token: the bearer token for ``url``.
    """

    def __new__(
        cls,
        settings: Settings | None = None,
        *,
        user: str | None = None,
        autostart: bool = True,
        url: str | None = None,
        token: str | None = None,
    ) -> Client:
        """An embedded client, or a remote one when a URL is given or configured."""
        if cls is Client and (url or (settings or Settings()).url):
            from broker.service.remote import RemoteClient

            return super().__new__(RemoteClient)
        return super().__new__(cls)

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        user: str | None = None,
        autostart: bool = True,
        url: str | None = None,
        token: str | None = None,
    ) -> None:
        self.settings = settings or Settings()
        self.user = user or self.settings.user
        self.autostart = autostart
        self._broker = Broker(self.settings)

    def submit(self, job: JobSpec | dict[str, Any] | str | Path) -> str:
        """Admit a job and queue its first tasks; return the job id.

        ``job`` may be a :class:`JobSpec`, a dict of the same fields, the path of a YAML job
        file (``Path`` or ``str``), or YAML text. Raises ``InvalidJob`` or ``JobRefused``
        (nothing is queued then).
        """
        spec = self._coerce(job)
        job_id = self._broker.submit(spec, self.user)
        if self.autostart:
            runtime.ensure_running(self.settings)
            runtime.nudge(self.settings)
        return job_id

    @staticmethod
    def _coerce(job: JobSpec | dict[str, Any] | str | Path) -> JobSpec:
        if isinstance(job, JobSpec):
            return job
        if isinstance(job, Path):
            return load_job(job)
        if isinstance(job, str):
            one_line = "\n" not in job.strip()
            if one_line and (Path(job).exists() or _looks_like_a_path(job)):
                return load_job(Path(job))  # "no job file ..." when it is missing
            return parse_job(job)
        return validate_job(job)

    def status(self, job_id: str) -> JobStatus:
        """State, progress and task counts of a job."""
        return queries.job_status(self._broker.db, job_id, self.user)

    def wait(
        self,
        job_id: str,
        timeout: float | None = None,
        on_progress: Callable[[JobStatus], None] | None = None,
    ) -> JobStatus:
        """Block until the job is final and return its status; :class:`WaitTimeout` (with
        the status then) when ``timeout`` seconds pass first."""
        deadline = None if timeout is None else time.monotonic() + timeout
        last_check = 0.0
        bell = _jobs_doorbell(self.settings)
        try:
            while True:
                status = self.status(job_id)
                if on_progress is not None:
                    on_progress(status)
                if status.state.final:
                    return status
                if deadline is not None and time.monotonic() > deadline:
                    raise timed_out(status, timeout)
                if self.autostart and time.monotonic() - last_check > 2.0:
                    runtime.ensure_running(self.settings)
                    last_check = time.monotonic()
                if bell is None:
                    time.sleep(WAIT_POLL_SECONDS)
                else:  # woken as soon as a worker records a task
                    bell.wait(WAIT_POLL_SECONDS)
        finally:
            if bell is not None:
                bell.close()

    def job(self, job_id: str) -> Job:
        """Job ``job_id`` as a future: ``.status()``, ``.done()``, ``.result(timeout)``,
        ``.cancel()``, ``.logs()``, ``.download()`` (``NotFound`` for an id not yours)."""
        self.status(job_id)
        return Job(self, job_id)

    def as_completed(
        self, job_ids: Sequence[str], timeout: float | None = None
    ) -> Iterator[JobStatus]:
        """Each job of ``job_ids`` as it ends, in the order they end (as
        ``concurrent.futures.as_completed``); ``WaitTimeout`` when ``timeout`` seconds pass
        first."""
        bell = _jobs_doorbell(self.settings)
        try:
            yield from as_completed(self, job_ids, lambda: self._pause(bell), timeout)
        finally:
            if bell is not None:
                bell.close()

    def _pause(self, bell: Doorbell | None) -> None:
        """Wait until a worker records a task, or a short while."""
        if self.autostart:
            runtime.ensure_running(self.settings)
        if bell is None:
            time.sleep(WAIT_POLL_SECONDS)
        else:
            bell.wait(WAIT_POLL_SECONDS)

    def wait_all(
        self, job_ids: Sequence[str], timeout: float | None = None
    ) -> dict[str, JobStatus]:
        """Block until every job is final; their statuses by id (see :func:`wait_all`)."""
        return wait_all(self, job_ids, timeout)

    def result(self, job_id: str) -> JobResult:
        """The finished job's result, charges and lineage (``NotFinished`` before)."""
        return queries.job_result(self._broker.db, job_id, self.user)

    def logs(self, task_or_job_id: str) -> list[TaskLog]:
        """What a task printed (stdout, stderr, exit code), or every classical task of a
        job; a task that has not ended has none yet."""
        return queries.task_logs(self._broker.db, task_or_job_id, self.user)

    def backends(self) -> list[BackendInfo]:
        """The backends on this machine: usable or not (and why), qubits, software."""
        return catalog.describe(self._broker)

    def usage(self, proposal: str | None = None) -> list[ProposalUsage]:
        """Used, held and remaining per budget of your proposals (or of one of them)."""
        policy = self._broker.policy.policy
        with self._broker.db.read() as conn:
            return [
                usage.proposal_usage(conn, policy, p)
                for p in usage.visible_proposals(policy, self.user, proposal)
            ]

    def burn_down(
        self, usages: list[ProposalUsage]
    ) -> dict[tuple[str, str, str, str], list[BurnPoint]]:
        """Cumulative charges of each budget over its current period (for plots)."""
        with self._broker.db.read() as conn:
            return {
                (b.proposal, b.backend, b.unit, b.period): usage.burn_down(conn, b)
                for u in usages
                for b in u.budgets
            }

    def fairshare(self, backend: str | None = None) -> list[shares.ShareRow]:
        """Each backend's Fair Tree (or ``backend``'s) as ``sshare -l`` shows it: shares,
        decayed usage, level fair share and each user's factor. Embedded, the store is
        yours: every proposal's rows."""
        return shares.fairshare(self._broker, lambda _: True, backend)

    def priority(self) -> list[shares.PriorityRow]:
        """Every pending task's priority, factor by factor, best first (``sprio -l``)."""
        return shares.priorities(self._broker, lambda _p, _u: True)

    def explain(self, task_or_job_id: str) -> list[Explanation]:
        """Why your pending task waits (or each pending task of your job): its priority
        broken into factors, its rank on its backend, and what holds it back.
        ``NotFound`` for an unknown id; ``BrokerError`` when nothing waits."""
        return explain(self._broker, task_or_job_id, self.user)

    def policy(self) -> LoadedPolicy:
        """The policy revision in force."""
        return self._broker.policy

    def policy_history(self) -> list[revisions.Revision]:
        """Every policy revision, oldest first; the last is in force."""
        _ = self._broker.policy  # records the policy file's revision if it is new
        with self._broker.db.read() as conn:
            return revisions.history(conn)

    def apply_policy(self, path: Path, reason: str) -> tuple[int, LoadedPolicy]:
        """Make the policy in ``path`` the revision in force, with your name and ``reason``.

        Raises ``PolicyError`` with every problem when it does not validate; the running
        revision stays in force then.
        """
        _ = self._broker.policy  # the file's revision first, so that this one comes after it
        return self._broker.policy_source.apply(path, author=self.user, reason=reason)

    def export_trace(
        self, path: Path, *, since: datetime | None = None, until: datetime | None = None
    ) -> tuple[int, int]:
        """Write the finished jobs submitted in [since, until) (naive UTC) as a trace for
        ``qcb policy simulate``; returns (jobs, tasks)."""
        return export_trace(self._broker, path, since=since, until=until)

    def requeue(self, job_id: str, *, backend: str | None = None) -> str:
        """Submit job ``job_id`` again, as it was submitted (on ``backend`` if given): a new
        job with a new id, admitted and charged as any other; the old one stays as it is."""
        spec = queries.job_spec(self._broker.db, job_id, self.user)
        if backend is not None:
            spec = spec.model_copy(update={"backend": backend})
        return self.submit(JobSpec.model_validate(spec.model_dump(by_alias=True)))

    def job_file(self, job_id: str) -> JobSpec:
        """The job as it was submitted (its job file, validated)."""
        return queries.job_spec(self._broker.db, job_id, self.user)

    def download(self, job_id: str, folder: str | Path = ".", *, plot: bool = True) -> list[Path]:
        """Write the job's artifacts into ``folder``/``job_id``: ``job.yaml``, ``status.json``,
        ``result.json`` and ``result.png`` once it has ended, and each classical task's
        output under ``logs/``; returns the files written."""
        return artifacts.download(self, job_id, Path(folder), plot=plot)

    def retry(self, job_id: str, *, backend: str | None = None) -> str:
        """Resume a failed or cancelled job from its checkpoint, the last step it reached
        (on ``backend`` if given): a new job with a new id that starts at that step with the
        algorithm's state; the step's completed tasks are copied, not run again."""
        point = resume.checkpoint(self._broker.db, job_id, self.user, backend)
        job = self._broker.submit(point.spec, self.user, resume=point)
        if self.autostart:
            runtime.ensure_running(self.settings)
            runtime.nudge(self.settings)
        return job

    def hold(self, job_id: str) -> JobStatus:
        """Hold a job: its pending tasks wait until :meth:`release` (those already queued
        or running go on); its status afterwards."""
        self.status(job_id)  # NotFound for someone else's job
        holds.hold(self._broker, job_id, self.user)
        return self.status(job_id)

    def release(self, job_id: str) -> JobStatus:
        """Release a held job: its pending tasks may start; its status afterwards."""
        self.status(job_id)
        holds.release(self._broker, job_id, self.user)
        if self.autostart:
            runtime.ensure_running(self.settings)
            runtime.nudge(self.settings)
        return self.status(job_id)

    def cancel(self, job_id: str) -> JobStatus:
        """Cancel a job; returns its status afterwards."""
        self.status(job_id)  # NotFound for someone else's job
        self._broker.cancel(job_id, self.user)
        return self.status(job_id)

    def jobs(
        self,
        limit: int = 50,
        *,
        states: Sequence[str] = (),
        proposal: str | None = None,
        since: datetime | None = None,
    ) -> list[JobStatus]:
        """This user's most recent jobs, newest first; ``states`` (``RUNNING``, ...),
        ``proposal`` and ``since`` (submitted then or later; naive means UTC) narrow them."""
        return queries.list_jobs(
            self._broker.db,
            self.user,
            limit,
            states=parse_states(states),
            proposal=proposal,
            since=since,
        )

    def shutdown(self, *, if_idle: bool = False) -> bool:
        """Stop the embedded runtime now (it also stops by itself when idle).

        With ``if_idle``, only when no job of any user is unfinished. Returns whether a
        runtime was stopped.
        """
        if if_idle and queries.active_jobs(self._broker.db):
            return False
        return runtime.stop(self.settings)


def _looks_like_a_path(text: str) -> bool:
    """Whether one line of text names a file rather than holding a job (``job.yaml``,
    ``runs/h2.yml``: a job's YAML has a ``key: value`` or starts with ``{``)."""
    text = text.strip()
    return text.endswith((".yaml", ".yml", ".json")) or (
        ": " not in text and not text.startswith("{")
    )
