"""The ``ionq`` backend's HTTP client: IonQ's REST API v0.4 with retries and key handling.

Every call is retried on 429 (after ``Retry-After``), 5xx and connection errors, with
exponential back-off; 401/403 re-read the key file once (a rotated key), then fail with a
hint. A job POST whose answer was lost after it was sent is not repeated blindly: it raises
:class:`Unanswered`, and the caller looks for the job by its unique name. The key is never
logged or put in a message.
"""

from __future__ import annotations

import logging
import time
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
from pydantic import SecretStr

from backends.errors import BackendError, NativeJobLost

log = logging.getLogger(__name__)

_MAX_WAIT_S = 120.0
_KEY_HINT = (
    "check the ionq backend's api_key or api_key_file option: the key must be a current "
    "IonQ Quantum Cloud API key (not revoked) of a project allowed to use target {target}"
)


class Unanswered(BackendError):
    """A job POST reached IonQ but its answer was lost: the job may exist."""


class IonQClient:
    """IonQ's API at ``url`` for one backend instance (its key, target and retry policy)."""

    def __init__(
        self,
        url: str,
        *,
        target: str,
        api_key: SecretStr | None,
        api_key_file: str | None,
        max_retries: int,
        backoff_seconds: float,
        timeout_s: float,
    ) -> None:
        self.url = url
        self.target = target
        self.max_retries = max_retries
        self.backoff_seconds = backoff_seconds
        given = api_key.get_secret_value() if api_key is not None else ""
        self._key: str | None = given or None
        self._key_file = api_key_file
        self._http = httpx.Client(timeout=timeout_s)

    def api_key(self, reread: bool = False) -> str:
        """The key: given, or read from the key file (again when ``reread``)."""
        if self._key_file and (self._key is None or reread):
            try:
                self._key = Path(self._key_file).read_text().strip() or None
            except OSError as exc:
                raise BackendError(f"cannot read the IonQ api_key_file: {exc}") from None
        if not self._key:
            raise BackendError(
                "the ionq backend has no API key",
                hint="set its api_key or api_key_file option in the backends file",
            )
        return self._key

    def request(self, method: str, path: str, *, body: Any = None, lost: str | None = None) -> Any:
        """One API call, retried on 429 (after Retry-After), 5xx and connection errors.

        ``lost``: the native id to name in :class:`NativeJobLost` when IonQ answers 404.
        """
        attempt, reread = 0, False
        while True:
            headers = {
                "Authorization": f"apiKey {self.api_key()}",
                "Accept": "application/json",
                "User-Agent": "qcbroker-ionq",
            }
            try:
                response = self._http.request(method, self.url + path, json=body, headers=headers)
            except httpx.TransportError as exc:
                wait = self._after_transport_error(exc, method, path, attempt)
            else:
                if response.status_code < 400:
                    return _json(response, method, path)
                if response.status_code in (401, 403) and self._key_file and not reread:
                    reread = True
                    self.api_key(reread=True)
                    continue
                wait = self._after_error_status(response, method, path, attempt, lost)
            time.sleep(min(wait, _MAX_WAIT_S))
            attempt += 1

    def _after_transport_error(
        self, exc: httpx.TransportError, method: str, path: str, attempt: int
    ) -> float:
        """The wait before retrying a call that got no answer, or the error to give up with."""
        # A job POST that may have reached IonQ is not repeated blindly: see create.
        sent = not isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout)
        if (method == "POST" and sent) or attempt >= self.max_retries:
            error = Unanswered if method == "POST" and sent else BackendError
            raise error(
                f"cannot reach IonQ at {self.url} ({method} {path}): {type(exc).__name__}: {exc}",
                transient=True,
            ) from None
        wait = self.backoff_seconds * float(2**attempt)
        log.warning("IonQ %s %s: %s; retrying in %.1fs", method, path, exc, wait)
        return wait

    def _after_error_status(
        self, response: httpx.Response, method: str, path: str, attempt: int, lost: str | None
    ) -> float:
        """The wait before retrying a call IonQ refused (429, 5xx), or the error to give up
        with (the key refused, the job unknown, the request refused, retries exhausted)."""
        code = response.status_code
        if code in (401, 403):
            raise BackendError(
                f"IonQ refused the API key (HTTP {code}: {_words(response)})",
                hint=_KEY_HINT.format(target=self.target),
            )
        if code == 404 and lost is not None:
            raise NativeJobLost(lost, f"IonQ does not know it ({_words(response)})")
        if code != 429 and code < 500:
            raise BackendError(f"IonQ refused {method} {path}: HTTP {code}: {_words(response)}")
        if attempt >= self.max_retries:
            raise BackendError(
                f"IonQ answered HTTP {code} to {method} {path} {attempt + 1} times: "
                f"{_words(response)}",
                transient=True,
                hint="IonQ is rate limiting or unavailable; see status.ionq.co",
            )
        wait = (_retry_after(response) if code == 429 else None) or (
            self.backoff_seconds * 2**attempt
        )
        log.warning("IonQ %s %s: HTTP %d; retrying in %.1fs", method, path, code, wait)
        return wait

    def job(self, job_id: str, native_id: str) -> dict[str, Any]:
        """``GET /jobs/{id}`` (:class:`NativeJobLost` naming ``native_id`` on 404)."""
        data = self.request("GET", f"/jobs/{quote(job_id, safe='')}", lost=native_id)
        if not isinstance(data, dict):
            raise BackendError(f"IonQ returned no job record for {job_id}", transient=True)
        return data

    def create(self, body: dict[str, Any]) -> str:
        """``POST /jobs``; the new job's id (adopted by name when the answer was lost)."""
        try:
            created = self.request("POST", "/jobs", body=body)
        except Unanswered:
            # The answer was lost after the body was sent: adopt the job if IonQ made it.
            found = self.find(str(body["name"]))
            if found is None:
                raise
            return found
        job_id = created.get("id") if isinstance(created, dict) else None
        if not job_id:
            raise BackendError(f"IonQ created a job but returned no id: {created!r}")
        return str(job_id)

    def find(self, name: str) -> str | None:
        """The id of a recent job named ``name``, if IonQ lists one."""
        listing = self.request("GET", "/jobs?limit=25")
        for job in listing.get("jobs", []) if isinstance(listing, dict) else []:
            if job.get("name") == name and job.get("id"):
                return str(job["id"])
        return None


def _json(response: httpx.Response, method: str, path: str) -> Any:
    try:
        return response.json() if response.content else {}
    except ValueError:
        raise BackendError(
            f"IonQ answered {method} {path} with something other than JSON", transient=True
        ) from None


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return None


def _words(response: httpx.Response) -> str:
    """IonQ's own words for an error answer (``{"error", "message", "statusCode"}``)."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and (body.get("message") or body.get("error")):
        text = str(body.get("message") or body.get("error"))
        keys = (body.get("validation") or {}).get("keys")
        return f"{text} (fields: {', '.join(map(str, keys))})" if keys else text
    return response.reason_phrase or f"HTTP {response.status_code}"
