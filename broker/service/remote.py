"""The SDK against a qcbroker service: ``Client(url=..., token=...)``.

The same methods as the embedded client, over the REST API, plus :meth:`events` to follow
a job's progress as it happens. Errors come back as the same exception classes, so code
and the CLI behave alike against a server and on a laptop. ``QCB_URL`` and ``QCB_TOKEN``
select this client without code changes.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from pydantic import TypeAdapter

from backends.base import QuantumBatch
from broker.accounting.shares import PriorityRow, ShareRow
from broker.accounting.usage import BurnPoint, ProposalUsage
from broker.api.wire import API_PREFIX, decode
from broker.catalog import BackendInfo
from broker.client import Client
from broker.config import Settings
from broker.core.models import JobResult, JobSpec, JobStatus, TaskLog
from broker.errors import RuntimeUnavailable, TooManyRequests, Unauthenticated
from broker.store.revisions import Revision
from broker.waiting import as_completed, parse_states, timed_out, wait_all
from policies.explain import Explanation
from policies.loader import LoadedPolicy, load_policy, parse_policy

RETRIES = 8
"""Attempts for a request that did not reach the server (same idempotency key each time)."""

POLL_SECONDS = 0.5
"""How often :meth:`RemoteClient.as_completed` looks at the jobs still running."""


class RemoteClient(Client):
    """A :class:`Client` that talks to ``qcb serve`` (see the module docstring).

    Args:
        settings: read for ``url`` and ``token`` when they are not given.
        url: the API's base URL, e.g. ``http://127.0.0.1:8000``.
        token: a bearer token (``qcb token create``).
        timeout: seconds per request.
    """

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        user: str | None = None,
        autostart: bool = True,
        url: str | None = None,
        token: str | None = None,
        timeout: float = 60.0,
    ) -> None:
        self.settings = settings or Settings()
        self.url = (url or self.settings.url or "").rstrip("/")
        token = token or self.settings.token
        if not token:
            raise Unauthenticated(
                f"no token for {self.url}", hint="set QCB_TOKEN (an admin runs `qcb token create`)"
            )
        self.autostart = False
        self._http = httpx.Client(
            base_url=self.url + API_PREFIX,
            headers={"Authorization": f"Bearer {token}"},
            timeout=timeout,
        )
        self.user = user or str(self._call("GET", "/whoami")["user"])

    # --- transport ------------------------------------------------------------------------

    def _send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        delay = 0.2
        for attempt in range(RETRIES):
            try:
                response = self._http.request(method, path, **kwargs)
            except httpx.TransportError as exc:
                if attempt == RETRIES - 1:
                    raise RuntimeUnavailable(
                        f"cannot reach the qcbroker API at {self.url}: {exc}",
                        hint="check QCB_URL, and that `qcb serve` runs there",
                    ) from None
                time.sleep(delay)
                delay = min(delay * 2, 5.0)
                continue
            if response.status_code >= 400:
                try:
                    body = response.json()
                except ValueError:
                    body = response.text
                raise decode(response.status_code, body)
            return response
        raise AssertionError("unreachable")

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        return self._send(method, path, **kwargs).json()

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    # --- jobs -----------------------------------------------------------------------------

    def submit(self, job: JobSpec | dict[str, Any] | str | Path, *, key: str | None = None) -> str:
        """Admit a job; return its id (see :meth:`Client.submit`). ``key`` (default: a fresh
        one) makes retries safe: the server admits one job per key."""
        spec = self._coerce(job)
        headers = {"Idempotency-Key": key or uuid.uuid4().hex}
        body = spec.model_dump(mode="json", by_alias=True, exclude_none=True)
        return str(self._call("POST", "/jobs", json=body, headers=headers)["id"])

    def status(self, job_id: str) -> JobStatus:
        """State, progress and task counts of a job."""
        return JobStatus.model_validate(self._call("GET", f"/jobs/{job_id}"))

    def wait(
        self,
        job_id: str,
        timeout: float | None = None,
        on_progress: Callable[[JobStatus], None] | None = None,
    ) -> JobStatus:
        """Block until the job is final, following its events; :class:`WaitTimeout` (with
        the status then) when ``timeout`` seconds pass first."""
        deadline = None if timeout is None else time.monotonic() + timeout
        status: JobStatus | None = None  # the stream's first event is the status now
        while status is None or not status.state.final:
            left = None if deadline is None else max(0.05, deadline - time.monotonic())
            try:
                for status in self.events(job_id, timeout=left):
                    if on_progress is not None:
                        on_progress(status)
                    if deadline is not None and time.monotonic() > deadline:
                        break
            except RuntimeUnavailable:  # the API restarts (or the read reached the deadline)
                if deadline is None or time.monotonic() < deadline:
                    time.sleep(1.0 if left is None else min(1.0, left))
            except TooManyRequests as exc:  # this user's streams are all taken: poll instead
                status = self.status(job_id)
                if not status.state.final:
                    time.sleep(exc.retry_after)
            if status is None or not status.state.final:  # ended early (a restart)
                status = self.status(job_id)
            if deadline is not None and time.monotonic() > deadline:
                break
        if on_progress is not None:
            on_progress(status)
        if not status.state.final:
            raise timed_out(status, timeout)
        return status

    def wait_all(
        self, job_ids: Sequence[str], timeout: float | None = None
    ) -> dict[str, JobStatus]:
        """Block until every job is final; their statuses by id (see
        :func:`broker.waiting.wait_all`)."""
        return wait_all(self, job_ids, timeout)

    def as_completed(
        self, job_ids: Sequence[str], timeout: float | None = None
    ) -> Iterator[JobStatus]:
        """Each job as it ends, in the order they end (see :meth:`Client.as_completed`),
        looking every :data:`POLL_SECONDS`."""
        yield from as_completed(self, job_ids, lambda: time.sleep(POLL_SECONDS), timeout)

    def events(self, job_id: str, timeout: float | None = None) -> Iterator[JobStatus]:
        """The job's status each time it changes, until it is final (server-sent events)."""
        try:
            with self._http.stream(
                "GET",
                f"/jobs/{job_id}/events",
                # a quiet job sends nothing for up to 15 s: a wait's timeout ends the read
                timeout=httpx.Timeout(timeout or 60.0, read=min(timeout or 60.0, 60.0)),
            ) as response:
                if response.status_code >= 400:
                    response.read()
                    raise decode(response.status_code, response.json())
                event = ""
                for line in response.iter_lines():
                    if line.startswith("event:"):
                        event = line[6:].strip()
                    elif line.startswith("data:") and event == "status":
                        yield JobStatus.model_validate_json(line[5:].strip())
                    elif line.startswith("data:") and event == "end":
                        return
        except httpx.TransportError as exc:
            raise RuntimeUnavailable(f"lost the event stream of {job_id}: {exc}") from None

    def result(self, job_id: str) -> JobResult:
        """The finished job's result, charges and lineage (``NotFinished`` before)."""
        return JobResult.model_validate(self._call("GET", f"/jobs/{job_id}/result"))

    def requeue(self, job_id: str, *, backend: str | None = None) -> str:
        """Submit job ``job_id`` again as a new job (see :meth:`Client.requeue`)."""
        params = {"backend": backend} if backend is not None else None
        headers = {"Idempotency-Key": uuid.uuid4().hex}
        found = self._call("POST", f"/jobs/{job_id}/requeue", params=params, headers=headers)
        return str(found["id"])

    def job_file(self, job_id: str) -> JobSpec:
        """The job as it was submitted (see :meth:`Client.job_file`)."""
        return JobSpec.model_validate(self._call("GET", f"/jobs/{job_id}/spec"))

    def retry(self, job_id: str, *, backend: str | None = None) -> str:
        """Resume a stopped job from its checkpoint as a new job (see :meth:`Client.retry`)."""
        params = {"backend": backend} if backend is not None else None
        headers = {"Idempotency-Key": uuid.uuid4().hex}
        found = self._call("POST", f"/jobs/{job_id}/retry", params=params, headers=headers)
        return str(found["id"])

    def hold(self, job_id: str) -> JobStatus:
        """Hold a job (see :meth:`Client.hold`); its status afterwards."""
        return JobStatus.model_validate(self._call("POST", f"/jobs/{job_id}/hold"))

    def release(self, job_id: str) -> JobStatus:
        """Release a held job (see :meth:`Client.release`); its status afterwards."""
        return JobStatus.model_validate(self._call("POST", f"/jobs/{job_id}/release"))

    def cancel(self, job_id: str) -> JobStatus:
        """Cancel a job; returns its status afterwards."""
        return JobStatus.model_validate(self._call("POST", f"/jobs/{job_id}/cancel"))

    def jobs(
        self,
        limit: int = 50,
        *,
        states: Sequence[str] = (),
        proposal: str | None = None,
        since: datetime | None = None,
    ) -> list[JobStatus]:
        """Your most recent jobs (and those of proposals you lead), newest first; narrowed
        as :meth:`Client.jobs` (a naive ``since`` is UTC)."""
        params: dict[str, Any] = {"limit": limit}
        wanted = parse_states(states)
        if wanted:
            params["state"] = ",".join(s.value for s in wanted)
        if proposal is not None:
            params["proposal"] = proposal
        if since is not None:
            aware = since if since.tzinfo is not None else since.replace(tzinfo=UTC)
            params["since"] = aware.isoformat()
        found = self._call("GET", "/jobs", params=params)
        return [JobStatus.model_validate(j) for j in found]

    def logs(self, task_or_job_id: str) -> list[TaskLog]:
        """What a task printed, or every classical task of a job (see :meth:`Client.logs`)."""
        found = self._call("GET", f"/logs/{task_or_job_id}")
        return TypeAdapter(list[TaskLog]).validate_python(found)

    def explain(self, task_or_job_id: str) -> list[Explanation]:
        """Why your pending task waits (see :meth:`Client.explain`)."""
        found = self._call("GET", f"/explain/{task_or_job_id}")
        return TypeAdapter(list[Explanation]).validate_python(found)

    # --- the service ----------------------------------------------------------------------

    def driver_submit(
        self, job_id: str, batch: QuantumBatch, *, backend: str | None, step: str | None
    ) -> str:
        """Add a quantum task to a job's running driver step (driver tokens only; see
        :mod:`broker.drivers.sdk`); the task's id."""
        body = {
            "batch": batch.model_dump(mode="json"),
            "backend": backend,
            "step": step,
        }
        return str(self._call("POST", f"/jobs/{job_id}/tasks", json=body)["id"])

    def driver_task(self, job_id: str, task_id: str) -> dict[str, Any]:
        """A task of a job: state, message and, once final, result."""
        found: dict[str, Any] = self._call("GET", f"/jobs/{job_id}/tasks/{task_id}")
        return found

    def whoami(self) -> dict[str, Any]:
        """Your user, role and proposals as the service sees them."""
        found: dict[str, Any] = self._call("GET", "/whoami")
        return found

    def backends(self) -> list[BackendInfo]:
        """The service's backends."""
        return [BackendInfo.model_validate(b) for b in self._call("GET", "/backends")]

    def fairshare(self, backend: str | None = None) -> list[ShareRow]:
        """Each backend's Fair Tree as ``sshare -l`` shows it (the rows of the proposals you
        may see; a committee sees all)."""
        params = {} if backend is None else {"backend": backend}
        return [ShareRow.model_validate(r) for r in self._call("GET", "/fairshare", params=params)]

    def priority(self) -> list[PriorityRow]:
        """The pending tasks you may see, factor by factor, best first (``sprio -l``)."""
        return [PriorityRow.model_validate(r) for r in self._call("GET", "/priority")]

    def usage(self, proposal: str | None = None) -> list[ProposalUsage]:
        """Used, held and remaining per budget of your proposals (or of one of them)."""
        params = {} if proposal is None else {"proposal": proposal}
        found = self._call("GET", "/usage", params=params)
        return [ProposalUsage.model_validate(u) for u in found]

    def burn_down(
        self, usages: list[ProposalUsage]
    ) -> dict[tuple[str, str, str, str], list[BurnPoint]]:
        """Cumulative charges of each budget of ``usages`` over its current period."""
        out: dict[tuple[str, str, str, str], list[BurnPoint]] = {}
        for proposal in {u.proposal for u in usages}:
            for entry in self._call("GET", "/usage/burn-down", params={"proposal": proposal}):
                key = tuple(entry["key"])
                out[key] = [BurnPoint.model_validate(p) for p in entry["points"]]
        return out

    def policy(self) -> LoadedPolicy:
        """The policy revision in force (committee, admin)."""
        found = self._call("GET", "/policy")
        return parse_policy(found["text"], found["source"])

    def policy_history(self) -> list[Revision]:
        """Every policy revision, oldest first (committee, admin)."""
        return TypeAdapter(list[Revision]).validate_python(self._call("GET", "/policy/history"))

    def apply_policy(self, path: Path, reason: str) -> tuple[int, LoadedPolicy]:
        """Put the policy file ``path`` in force (committee, admin); it is checked here
        first, so an invalid file never leaves this machine."""
        loaded = load_policy(path)
        body = {"text": loaded.text, "source": str(path), "reason": reason}
        found = self._call("POST", "/policy/apply", json=body)
        return int(found["number"]), loaded

    def export_trace(
        self, path: Path, *, since: datetime | None = None, until: datetime | None = None
    ) -> tuple[int, int]:
        """Write the service's finished jobs as a trace (committee, admin)."""
        body = {  # times without a zone are UTC, as the store keeps them
            k: (v if v.tzinfo else v.replace(tzinfo=UTC)).isoformat()
            for k, v in (("since", since), ("until", until))
            if v
        }
        response = self._send("POST", "/trace", json=body)
        path.write_text(response.text)
        return int(response.headers["X-Qcb-Jobs"]), int(response.headers["X-Qcb-Tasks"])

    def create_token(
        self, user: str, role: str = "researcher", note: str = "", expires_days: float | None = None
    ) -> tuple[str, str]:
        """Create a token (admin); returns ``(id, secret)``."""
        body = {"user": user, "role": role, "note": note, "expires_days": expires_days}
        found = self._call("POST", "/tokens", json=body)
        return str(found["id"]), str(found["token"])

    def revoke_token(self, token_id: str) -> None:
        """Revoke a token (admin)."""
        self._call("DELETE", f"/tokens/{token_id}")

    def shutdown(self, *, if_idle: bool = False) -> bool:
        """Nothing to stop: the service runs on its own."""
        return False
