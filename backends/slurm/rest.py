"""``slurmrest``: classical tasks as Slurm jobs, through slurmrestd's REST API (JWT).

For a cluster the broker does not run on: it needs only HTTP access to slurmrestd and a
file system shared with the cluster for task directories (``workdir``; ``mount`` when the
broker sees it under another path). Speaks OpenAPI v0.0.38 (Slurm 22.05) and v0.0.40 to
v0.0.45 (Slurm 23.11 to 26.05): by default the newest that both it and slurmrestd speak, read
from slurmrestd's ``/openapi/v3``; ``api_version`` pins one.

Credentials come from the backend's options, never from a job: ``token`` or ``token_file``
(re-read on every 401, so a rotated token is picked up), with ``user``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, ClassVar

from backends.errors import BackendError
from backends.options import BackendOptions
from backends.slurm import requests
from backends.slurm.accounting import AccountedJob, parse_accounting
from backends.slurm.common import PreparedJob, SlurmBackendBase
from backends.slurm.options import API_VERSIONS, SlurmRestOptions
from backends.slurm.partitions import Partition, parse_partition
from backends.slurm.records import SlurmJob, parse_job


class SlurmRestBackend(SlurmBackendBase):
    """The ``slurmrest`` backend, with the options of
    :class:`~backends.slurm.options.SlurmRestOptions`: with ``jwt_key`` each task is
    submitted by its own account's token."""

    name = "slurmrest"
    Options: ClassVar[type[SlurmRestOptions]] = SlurmRestOptions
    config: SlurmRestOptions

    def __init__(self, config: BackendOptions | None = None, /, **options: Any) -> None:
        super().__init__(config, **options)
        self.url = self.config.url.rstrip("/")
        pinned = self.config.api_version
        self._api_version: str | None = None if pinned == "auto" else pinned
        slurmdb = self.config.slurmdb
        self._slurmdb = pinned != "auto" if slurmdb is None else slurmdb
        token = self.config.token
        self._token: str | None = token.get_secret_value() if token is not None else None
        self._user_tokens: dict[str, tuple[str, float]] = {}

    def token(self, refresh: bool = False) -> str:
        """The JWT, from the options or their token file."""
        if self._token is None or refresh:
            token_file = self.config.token_file
            if token_file:
                try:
                    self._token = Path(token_file).read_text().strip()
                except OSError as exc:
                    raise BackendError(f"cannot read the slurmrest token file: {exc}") from exc
            elif self._token is None:
                raise BackendError(
                    "the slurmrest backend has no token",
                    hint="set its token or token_file option (scontrol token username=USER)",
                )
        assert self._token is not None
        return self._token

    def user_token(self, user: str) -> str:
        """A JWT for ``user``, signed with the cluster's key (``jwt_key``), so that a task's
        job is submitted by, runs as and is accounted to that user; renewed before it ends."""
        now = time.time()
        cached = self._user_tokens.get(user)
        if cached is not None and cached[1] - now > 60:
            return cached[0]
        try:
            key = Path(str(self.config.jwt_key)).read_bytes()
        except OSError as exc:
            raise BackendError(f"cannot read the slurmrest jwt_key: {exc}") from exc
        token = sign_jwt(key, user, now=now, lifespan_s=_USER_TOKEN_S)
        self._user_tokens[user] = (token, now + _USER_TOKEN_S)
        return token

    @property
    def api_version(self) -> str:
        """The OpenAPI version in use: pinned, or the newest both sides speak (asked once)."""
        if self._api_version is None:
            try:
                document = self._request("GET", "/openapi/v3", None, None)
            except _Unauthorized:
                self.token(refresh=True)
                try:
                    document = self._request("GET", "/openapi/v3", None, None)
                except _Unauthorized:
                    raise BackendError(
                        "slurmrestd refused the token for GET /openapi/v3 (401)",
                        hint="renew the backend's token (scontrol token username=USER)",
                    ) from None
            self._api_version = choose_version(served_versions(document))
            self._slurmdb = any(
                path.startswith(f"/slurmdb/{self._api_version}/")
                for path in (document.get("paths") or {} if isinstance(document, dict) else {})
            )
        return self._api_version

    @property
    def api(self) -> str:
        """The path prefix of the version in use, e.g. ``/slurm/v0.0.42``."""
        return f"/slurm/{self.api_version}"

    def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        retry: bool = True,
        as_user: str | None = None,
        plugin: str = "slurm",
    ) -> Any:
        """One request to slurmrestd's ``plugin`` (``slurm``: the controller; ``slurmdb``:
        accounting) as the broker's user, or ``as_user`` with a token of its own; its JSON,
        or a :class:`BackendError` with Slurm's words."""
        try:
            data = self._request(method, f"/{plugin}/{self.api_version}{path}", body, as_user)
        except _Unauthorized:
            if retry and as_user is None and self.config.token_file:
                self.token(refresh=True)
                return self.call(method, path, body, retry=False, plugin=plugin)
            raise BackendError(
                f"slurmrestd refused the token for {method} {path} (401)",
                hint="renew the backend's token (scontrol token username=USER)",
            ) from None
        errors = [e for e in data.get("errors", []) if e.get("error_number", 1)]
        if errors:
            words = "; ".join(str(e.get("error") or e.get("description") or e) for e in errors)
            raise BackendError(f"slurmrestd: {words}", transient=_transient(errors))
        return data

    def _request(self, method: str, path: str, body: Any, as_user: str | None) -> Any:
        """One HTTP exchange; the answer's JSON (also for error statuses that carry JSON)."""
        if as_user is not None:
            user, token = as_user, self.user_token(as_user)
        else:
            user = self.config.user or os.environ.get("USER", "")
            token = self.token()
        request = urllib.request.Request(
            self.url + path,
            method=method,
            data=json.dumps(body).encode() if body is not None else None,
            headers={
                "Content-Type": "application/json",
                "X-SLURM-USER-NAME": user,
                "X-SLURM-USER-TOKEN": token,
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=self.config.timeout) as response:
                return json.loads(response.read() or b"{}")
        except urllib.error.HTTPError as exc:
            if exc.code == 401:
                raise _Unauthorized from exc
            data = _json_or_none(exc.read())
            if data is None:
                raise BackendError(
                    f"slurmrestd answered {exc.code} {exc.reason} to {method} {path}",
                    transient=exc.code >= 500,
                ) from exc
            return data
        except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
            raise BackendError(
                f"cannot reach slurmrestd at {self.url}: {exc}", transient=True
            ) from exc

    def _submit_job(self, job: PreparedJob) -> str:
        """``POST /job/submit`` with the task's environment as the job's whole environment,
        as the task's account when the options hold the cluster's ``jwt_key`` (else as the
        broker's user: a root runner then drops to the directory's owner)."""
        body = requests.rest_job(
            job.spec,
            job.workdir,
            comment=self.comment(job.spec, job.workdir),
            account=self.account(job.spec),
            environment=job.env,
            time_cap_s=job.time_cap_s,
            api_version=self.api_version,
        )
        script = requests.batch_script(self.python, job.workdir)
        as_user = job.account.name if job.account and self.config.jwt_key else None
        data = self.call("POST", "/job/submit", {"script": script, "job": body}, as_user=as_user)
        return str(data["job_id"])

    def _job(self, job_id: str) -> SlurmJob | None:
        try:
            data = self.call("GET", f"/job/{job_id}")
        except BackendError as exc:
            if "Invalid job id" in str(exc) or "Unable to query JobId" in str(exc):
                return None
            raise
        for record in data.get("jobs", []):
            if str(record.get("job_id")) == job_id:
                return parse_job(record)
        return None

    def _accounted(self, job_id: str) -> AccountedJob | None:
        """``/slurmdb/VERSION/job/ID`` when slurmrestd serves slurmdbd's plugin."""
        self.api_version  # noqa: B018 (asks slurmrestd which plugins it serves, once)
        if not self._slurmdb:
            return None
        try:
            data = self.call("GET", f"/job/{job_id}", plugin="slurmdb")
        except BackendError as exc:
            if "not found" in str(exc).lower() or "404" in str(exc):
                return None
            raise
        return parse_accounting(data).get(job_id)

    def _cancel_job(self, job_id: str) -> None:
        try:
            self.call("DELETE", f"/job/{job_id}")
        except BackendError as exc:
            if "already completed" not in str(exc) and "Invalid job id" not in str(exc):
                raise

    def _read_partitions(self) -> list[Partition]:
        data = self.call("GET", "/partitions")
        return [parse_partition(p) for p in data.get("partitions", [])]

    def _version(self) -> str:
        if not hasattr(self, "_version_text"):
            data = self.call("GET", "/ping")
            release = ping_release(data)
            self._version_text = f"slurm {release} (slurmrestd {self.api_version})"
        return self._version_text

    def wait_ready(self, timeout: float = 10) -> None:
        """Wait until slurmrestd answers (for scripts that just started it)."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.call("GET", "/ping")
                return
            except BackendError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)


_USER_TOKEN_S = 3600


class _Unauthorized(Exception):
    """slurmrestd answered 401."""


def served_versions(document: Any) -> list[str]:
    """The ``/slurm/vX/`` versions an OpenAPI document (``/openapi/v3``) has paths for."""
    paths = document.get("paths", {}) if isinstance(document, dict) else {}
    found = {p.split("/")[2] for p in paths if p.startswith("/slurm/v") and p.count("/") >= 3}
    return sorted(found, key=_version_key)


def choose_version(served: list[str]) -> str:
    """The newest version both sides speak, or a :class:`BackendError` naming both lists."""
    common = [v for v in served if v in API_VERSIONS]
    if not common:
        raise BackendError(
            "slurmrestd speaks no OpenAPI version the broker speaks: it serves "
            f"{', '.join(served) or 'none'}; the broker speaks {', '.join(API_VERSIONS)}",
            hint="start slurmrestd with -s openapi/slurmctld (23.11 on) or openapi/v0.0.38",
        )
    return max(common, key=_version_key)


def _version_key(version: str) -> tuple[int, ...]:
    return tuple(int(p) for p in version.lstrip("v").split(".") if p.isdigit())


def ping_release(data: dict[str, Any]) -> str:
    """Slurm's release from a ``/ping`` answer (``meta.Slurm`` in v0.0.38, ``meta.slurm`` on)."""
    meta = data.get("meta") or {}
    slurm = meta.get("slurm") or meta.get("Slurm") or {}
    return str(slurm.get("release") or "unknown")


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def sign_jwt(key: bytes, user: str, *, now: float, lifespan_s: int) -> str:
    """An HS256 JSON Web Token for Slurm's ``auth/jwt``: ``sun`` (the Slurm user name),
    ``iat`` and ``exp``, signed with the cluster's key, as ``scontrol token`` makes them."""
    header = _b64(json.dumps({"alg": "HS256", "typ": "JWT"}, separators=(",", ":")).encode())
    claims = {"iat": int(now), "exp": int(now) + lifespan_s, "sun": user}
    payload = _b64(json.dumps(claims, separators=(",", ":")).encode())
    signature = hmac.new(key, f"{header}.{payload}".encode(), hashlib.sha256).digest()
    return f"{header}.{payload}.{_b64(signature)}"


def _json_or_none(raw: bytes) -> dict[str, Any] | None:
    try:
        data = json.loads(raw)
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def _transient(errors: list[dict[str, Any]]) -> bool:
    text = " ".join(str(e) for e in errors)
    return "Unable to contact slurm controller" in text or "timed out" in text
