"""The example jobs the tests run, and the two ways a test runs one.

A test runs an example job (a file of ``examples/`` of kind Job) either with
:func:`run_example`, through a broker client (the embedded one, a service's), or as one of
the README's ``qcb run examples/NAME`` commands, which tests/e2e/test_readme.py runs
(:func:`examples_in_command`). Either way the job must complete, and the example is then
recorded in :data:`RAN`. tests/e2e/test_examples_listed.py checks that every example job
has a test that runs it one of these ways.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from broker.core.models import JobStatus
from tests.conftest import EXAMPLES

RAN: set[str] = set()
"""The example jobs (file names in ``examples/``) run to completion in this test session."""

_QCB_RUN = re.compile(r"(?:^|&&|;)\s*qcb run examples/(\S+)")


class JobClient(Protocol):
    """What :func:`run_example` needs of a client: ``broker.Client``, a service's client."""

    def submit(self, job: Path) -> str:
        """Admit the job file; its id."""
        ...

    def wait(
        self,
        job_id: str,
        timeout: float | None = None,
        on_progress: Callable[[JobStatus], None] | None = None,
    ) -> JobStatus:
        """Block until the job is final."""
        ...


def run_example(client: JobClient, name: str, *, timeout: float) -> str:
    """Submit ``examples/<name>`` as written through ``client``, wait until it ends, check
    that it completed, and record it in :data:`RAN`; return its job id."""
    job_id = client.submit(EXAMPLES / name)
    status = client.wait(job_id, timeout=timeout)
    assert status.state == "COMPLETED", f"examples/{name}: {status.state}: {status.message}"
    RAN.add(name)
    return job_id


def examples_in_command(command: str) -> list[str]:
    """The example jobs a shell command runs (each ``qcb run examples/NAME``)."""
    return _QCB_RUN.findall(command)


def record_command(command: str) -> None:
    """Record the example jobs of a shell command that ran successfully (exit 0: ``qcb run``
    exits 1 unless the job completed)."""
    RAN.update(examples_in_command(command))
