"""A submitted job as a future (``Client.job(id)``), as Qiskit's and Qiskit Serverless's job
objects and Covalent's dispatches are: its status, whether it is done, a blocking result
with a timeout, its logs and artifacts, and a cancel. It holds only the id and the client,
so it works the same on the embedded and the remote client and may be made again later
from the id alone."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from broker.core.models import JobResult, JobStatus, TaskLog

if TYPE_CHECKING:
    from broker.client import Client


class Job:
    """Job ``job_id`` of ``client`` (made by :meth:`broker.client.Client.job`)."""

    def __init__(self, client: Client, job_id: str) -> None:
        self._client = client
        self.id = job_id
        """The job's id."""

    def __repr__(self) -> str:
        return f"<Job {self.id}>"

    def status(self) -> JobStatus:
        """Where the job stands now."""
        return self._client.status(self.id)

    def done(self) -> bool:
        """Whether the job has ended (completed, failed or cancelled)."""
        return self.status().state.final

    def wait(self, timeout: float | None = None) -> JobStatus:
        """Block until the job has ended; ``WaitTimeout`` after ``timeout`` seconds."""
        return self._client.wait(self.id, timeout=timeout)

    def result(self, timeout: float | None = None) -> JobResult:
        """Block until the job has ended and return its result, charges and lineage
        (``WaitTimeout`` after ``timeout`` seconds, the job still running)."""
        self.wait(timeout)
        return self._client.result(self.id)

    def cancel(self) -> JobStatus:
        """Cancel the job (nothing happens to one that has ended); its status after."""
        return self._client.cancel(self.id)

    def logs(self) -> list[TaskLog]:
        """What the job's classical tasks printed."""
        return self._client.logs(self.id)

    def download(self, folder: str | Path = ".", *, plot: bool = True) -> list[Path]:
        """Write the job's artifacts into ``folder``/``id`` (see :meth:`Client.download`)."""
        return self._client.download(self.id, folder, plot=plot)
