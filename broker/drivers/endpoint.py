"""The driver API without a service: what driver programs call when there is no ``qcb serve``.

A driver program runs as an unprivileged account with a clean environment: it cannot open
the broker's store, and must not be told where it is. It reaches the broker the one way it
does in service mode, over HTTP with its job-scoped token (:mod:`broker.drivers.sdk`). The
embedded runtime serves this small part of the REST API on ``127.0.0.1`` for it, with the
same paths, checks and error bodies as ``qcb serve``, and only for driver tokens:

- ``GET /v1/whoami``
- ``POST /v1/jobs/{job}/tasks`` (body: ``{"batch": ..., "backend": ..., "step": ...}``)
- ``GET /v1/jobs/{job}/tasks/{task}``

It needs nothing beyond the standard library (the embedded mode installs no web server).
"""

from __future__ import annotations

import json
import logging
import re
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from backends.base import QuantumBatch
from broker.api.guard import parse_strict
from broker.api.wire import API_PREFIX, encode, status_of
from broker.core.orchestrator import Broker
from broker.drivers import service as driver
from broker.errors import Forbidden, InvalidJob, NotFound, Unauthenticated
from broker.service import tokens
from broker.service.access import Principal

log = logging.getLogger(__name__)

MAX_BODY = 16 << 20
"""Largest request body (a batch of circuits) the endpoint reads."""

_TASKS = re.compile(rf"^{API_PREFIX}/jobs/(?P<job>[^/]+)/tasks$")
_TASK = re.compile(rf"^{API_PREFIX}/jobs/(?P<job>[^/]+)/tasks/(?P<task>[^/]+)$")


class TaskSubmission(BaseModel):
    """A quantum task from a driver program (as ``POST /v1/jobs/{id}/tasks`` takes it)."""

    model_config = ConfigDict(extra="forbid")

    batch: QuantumBatch
    backend: str | None = None
    step: str | None = Field(default=None)


class DriverEndpoint:
    """The driver API on ``127.0.0.1`` (an ephemeral port unless ``port`` is given), served by
    threads of this process; ``on_submit`` is called after each added task (to release it at
    once)."""

    def __init__(
        self, broker: Broker, *, port: int = 0, on_submit: Callable[[], object] | None = None
    ) -> None:
        self.broker = broker
        self.on_submit = on_submit
        self.server = ThreadingHTTPServer(("127.0.0.1", port), _handler(self))
        self.server.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """Where drivers reach it."""
        host, port = self.server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> DriverEndpoint:
        """Serve in a background thread."""
        self._thread = threading.Thread(
            target=self.server.serve_forever, name="qcb-driver-endpoint", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket."""
        self.server.shutdown()
        self.server.server_close()

    # --- the three calls --------------------------------------------------------------------

    def who(self, authorization: str | None) -> Principal:
        """The driver principal of a request's bearer token."""
        scheme, _, secret = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not secret:
            raise Unauthenticated("no bearer token", hint="drivers send their QCB_TOKEN")
        with self.broker.db.read() as conn:
            who = tokens.authenticate(conn, secret.strip())
        if who is None:
            raise Unauthenticated("the token is unknown, revoked or expired")
        if who.job_id is None:
            raise Forbidden("this endpoint serves driver programs only; use the API")
        return who

    def handle(self, method: str, path: str, who: Principal, body: bytes) -> tuple[int, Any]:
        """Answer one request: ``(status, JSON body)``."""
        path = path.split("?", 1)[0]
        if method == "GET" and path == f"{API_PREFIX}/whoami":
            return 200, {"user": who.user, "role": who.role.value, "job": who.job_id}
        match = _TASKS.match(path)
        if method == "POST" and match:
            parse_strict(body, self.broker.settings.limits)  # as the API's guard does
            try:
                request = TaskSubmission.model_validate_json(body)
            except ValidationError as exc:
                raise InvalidJob(f"the request is not valid: {exc.errors()[0]['msg']}") from None
            task_id = driver.submit_task(
                self.broker,
                who,
                match["job"],
                request.batch,
                request.backend,
                request.step,
                via="api",
            )
            if self.on_submit is not None:
                self.on_submit()
            return 201, {"id": task_id}
        match = _TASK.match(path)
        if method == "GET" and match:
            return 200, driver.task_view(self.broker, who, match["job"], match["task"])
        raise NotFound(f"no such call: {method} {path}")


def _handler(endpoint: DriverEndpoint) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            return  # no access log: paths name jobs

        def _answer(self, status: int, body: Any) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _serve(self, method: str) -> None:
            try:
                length = int(self.headers.get("Content-Length") or 0)
                if length < 0 or length > MAX_BODY:
                    raise InvalidJob(f"the request body is over {MAX_BODY >> 20} MiB")
                body = self.rfile.read(length) if length else b""
                who = endpoint.who(self.headers.get("Authorization"))
                status, answer = endpoint.handle(method, self.path, who, body)
            except Exception as exc:  # every error gets a body, never a traceback
                status = status_of(exc)
                if status == 500:
                    log.exception("driver endpoint: %s %s", method, self.path)
                answer = (
                    encode(exc)
                    if status != 500
                    else {
                        "error": "BrokerError",
                        "message": "the broker could not answer this request",
                        "hint": None,
                    }
                )
            self._answer(status, answer)

        def do_GET(self) -> None:
            self._serve("GET")

        def do_POST(self) -> None:
            self._serve("POST")

    return Handler
