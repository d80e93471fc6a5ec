"""A stand-in for IBM Cloud IAM and the IBM Quantum Compute (Qiskit Runtime) REST API, on
localhost, speaking what qrmi's ``qiskit-runtime-service`` / ``ibm-quantum-compute-service``
resources send (qrmi ``src/ibm/quantum_compute_service.rs`` and its generated client
``dependencies/quantum_compute_client``):

- ``POST /identity/token`` (form ``grant_type=urn:ibm:params:oauth:grant-type:apikey``,
  ``apikey``): ``{access_token, expiration, expires_in}``; an unknown key gets IAM's 400.
- Under the API root (``/api/v1``), every call needs ``Authorization: Bearer <token>`` and the
  ``Service-CRN`` header, or gets 401: ``GET /backends``,
  ``GET /backends/{name}/status|configuration|properties``,
  ``POST /sessions``, ``GET|PATCH /sessions/{id}``, ``DELETE /sessions/{id}/close``,
  ``POST /jobs`` (``{program_id, backend, params, session_id, cost, ...}``), ``GET /jobs``,
  ``GET /jobs/{id}``, ``POST /jobs/{id}/cancel``, ``GET /jobs/{id}/results`` (text/plain
  JSON of a RuntimeEncoder-encoded ``PrimitiveResult``), ``GET /jobs/{id}/logs``.

Sampler PUBs (QPY circuits from RuntimeEncoder, or OpenQASM 3 text) run on a noiseless Aer
``SamplerV2``. The device is a recorded IBM Manila (5 qubits) under the name given.

Test controls, not part of the real API: ``POST /_standin/hold`` with ``{"hold": true}`` keeps
new jobs ``Running`` until ``{"hold": false}`` or a cancel; ``POST /_standin/fail`` with
``{"reason": "..."}`` makes new jobs fail with that reason (``null`` to stop);
``POST /_standin/http_errors`` with ``{"codes": [503, 429]}`` answers the next API calls with
those statuses;
``GET /_standin/requests`` lists the requests seen (method, path, whether a bearer token came,
JSON body).

Run: ``python -m tests.integration.providers.qrmi_standin --api-key KEY --backend NAME``; it
prints ``READY <base url>`` once listening.
"""

from __future__ import annotations

import argparse
import json
import secrets
import sys
import threading
import time
import uuid
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import numpy as np
import qiskit_ibm_runtime
from qiskit import qasm3
from qiskit.primitives import PrimitiveResult
from qiskit_aer.primitives import SamplerV2
from qiskit_ibm_runtime import RuntimeDecoder, RuntimeEncoder
from qiskit_ibm_runtime.execution_span import DoubleSliceSpan, ExecutionSpans

API = "/api/v1"
SERVICE_CRN = "crn:v1:standin:public:quantum-computing:local:a/0::"
TOKEN_SECONDS = 3600


def _device_files() -> tuple[dict[str, Any], dict[str, Any]]:
    folder = Path(qiskit_ibm_runtime.__file__).parent / "fake_provider/backends/manila"
    conf = json.loads((folder / "conf_manila.json").read_text())
    props = json.loads((folder / "props_manila.json").read_text())
    return conf, props


def _now() -> str:
    return datetime.now(UTC).isoformat()


class Job:
    """One runtime job and its life."""

    def __init__(self, backend: str, body: dict[str, Any]) -> None:
        self.id = "d" + uuid.uuid4().hex[:19]
        self.backend = backend
        self.body = body
        self.created = _now()
        self.status = "Queued"
        self.reason: str | None = None
        self.result: str | None = None
        self.cancelled = threading.Event()
        self.fail: str | None = None

    def response(self) -> dict[str, Any]:
        """The job as ``GET /jobs/{id}`` shows it."""
        state: dict[str, Any] = {"status": self.status}
        if self.reason:
            state["reason"] = self.reason
        return {
            "id": self.id,
            "backend": self.backend,
            "state": state,
            "status": self.status,
            "program": {"id": self.body.get("program_id", "")},
            "created": self.created,
            "cost": int(self.body.get("cost") or 0),
            "session_id": self.body.get("session_id"),
            "private": False,
        }


class StandIn:
    """Server state: accepted API key, issued tokens, sessions, jobs, the request log."""

    def __init__(self, api_key: str, backends: list[str]) -> None:
        self.api_key = api_key
        self.backends = set(backends)
        self.tokens: set[str] = set()
        self.sessions: dict[str, dict[str, Any]] = {}
        self.jobs: dict[str, Job] = {}
        self.requests: list[dict[str, Any]] = []
        self.hold = threading.Event()
        self.fail: str | None = None
        self.http_errors: list[int] = []
        self.lock = threading.Lock()
        self.conf, self.props = _device_files()

    def run(self, job: Job) -> None:
        """Execute a sampler job (in its own thread)."""
        job.status = "Running"
        while self.hold.is_set() and not job.cancelled.is_set():
            time.sleep(0.05)
        if job.cancelled.is_set():
            return
        try:
            if job.fail:
                raise RuntimeError(job.fail)
            job.result = _sample(job.body.get("params") or {})
            job.status = "Completed"
        except Exception as exc:
            job.reason = f"{type(exc).__name__}: {exc}"
            job.status = "Failed"


def _sample(params: dict[str, Any]) -> str:
    decoded = json.loads(json.dumps(params), cls=RuntimeDecoder)
    if decoded.get("version") != 2:
        raise ValueError("only version 2 sampler inputs are supported")
    shots = decoded.get("shots")
    pubs = []
    for pub in decoded["pubs"]:
        pub = list(pub)
        if isinstance(pub[0], str):
            pub[0] = qasm3.loads(pub[0])
        pubs.append(tuple(pub))
    options = decoded.get("options") or {}
    seed = (options.get("simulator") or {}).get("seed_simulator")
    shots = shots or options.get("default_shots") or 4096
    start = datetime.now(UTC)
    result = SamplerV2(default_shots=shots, seed=seed).run(pubs).result()
    # What IBM adds: when each PUB's shots ran (here: the whole simulation, for all).
    slices = {
        i: (pub.data.shape, slice(0, max(1, int(np.prod(pub.data.shape)))), slice(0, shots))
        for i, pub in enumerate(result)
    }
    span = DoubleSliceSpan(start, datetime.now(UTC), slices)
    metadata = {**result.metadata, "execution": {"execution_spans": ExecutionSpans([span])}}
    return json.dumps(PrimitiveResult(list(result), metadata), cls=RuntimeEncoder)


class Handler(BaseHTTPRequestHandler):
    """Routes the IAM and runtime calls."""

    server: Server

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the request log is at ``/_standin/requests``."""

    def _send(self, code: int, body: Any = None, content_type: str = "application/json") -> None:
        data = b"" if body is None else (body if isinstance(body, str) else json.dumps(body))
        raw = data.encode() if isinstance(data, str) else data
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    def _error(self, code: int, message: str) -> None:
        self._send(code, {"errors": [{"code": str(code), "message": message}], "trace": "standin"})

    def _body(self) -> bytes:
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def do_GET(self) -> None:
        """GET routes."""
        self._route("GET")

    def do_POST(self) -> None:
        """POST routes."""
        self._route("POST")

    def do_PATCH(self) -> None:
        """PATCH routes."""
        self._route("PATCH")

    def do_DELETE(self) -> None:
        """DELETE routes."""
        self._route("DELETE")

    def _route(self, method: str) -> None:
        state = self.server.state
        url = urlsplit(self.path)
        raw = self._body()
        body: Any = None
        if raw and "json" in (self.headers.get("Content-Type") or ""):
            body = json.loads(raw)
        if not url.path.startswith("/_standin"):
            state.requests.append(
                {
                    "method": method,
                    "path": url.path,
                    "query": url.query,
                    "bearer": (self.headers.get("Authorization") or "").startswith("Bearer "),
                    "body": body,
                }
            )
        if url.path == "/identity/token" and method == "POST":
            return self._token(parse_qs(raw.decode()))
        if url.path.startswith("/_standin/"):
            return self._control(method, url.path, body)
        if not url.path.startswith(API + "/"):
            return self._error(404, f"no route {url.path}")
        if state.http_errors:
            code = state.http_errors.pop(0)
            return self._error(code, "stand-in outage" if code != 429 else "rate limited")
        auth = self.headers.get("Authorization") or ""
        if auth.removeprefix("Bearer ") not in state.tokens:
            return self._error(401, "Unauthorized: missing or invalid IAM token")
        if self.headers.get("Service-CRN") != SERVICE_CRN:
            return self._error(401, "Unauthorized: unknown service instance (Service-CRN)")
        parts = url.path[len(API) + 1 :].split("/")
        query = parse_qs(url.query)
        with state.lock:
            if parts == ["backends"] and method == "GET":
                return self._devices()
            if parts[0] == "backends" and len(parts) == 3 and method == "GET":
                return self._backend(parts[1], parts[2])
            if parts[0] == "sessions":
                return self._session(method, parts[1:], body)
            if parts[0] == "jobs":
                return self._jobs(method, parts[1:], body, query)
        self._error(404, f"no route {method} {url.path}")

    def _token(self, form: dict[str, list[str]]) -> None:
        state = self.server.state
        if form.get("grant_type") != ["urn:ibm:params:oauth:grant-type:apikey"]:
            return self._send(400, {"errorCode": "BXNIM0109E", "errorMessage": "bad grant_type"})
        if form.get("apikey") != [state.api_key]:
            return self._send(
                400,
                {
                    "errorCode": "BXNIM0415E",
                    "errorMessage": "Provided API key could not be found.",
                    "context": {"requestId": uuid.uuid4().hex},
                },
            )
        token = secrets.token_hex(16)
        state.tokens.add(token)
        expires = int(time.time()) + TOKEN_SECONDS
        self._send(
            200,
            {
                "access_token": token,
                "refresh_token": "not_supported",
                "token_type": "Bearer",
                "expires_in": TOKEN_SECONDS,
                "expiration": expires,
                "scope": "ibm openid",
            },
        )

    def _control(self, method: str, path: str, body: Any) -> None:
        state = self.server.state
        if path == "/_standin/hold" and method == "POST":
            if body and body.get("hold"):
                state.hold.set()
            else:
                state.hold.clear()
            return self._send(200, {"hold": state.hold.is_set()})
        if path == "/_standin/fail" and method == "POST":
            state.fail = (body or {}).get("reason")
            return self._send(200, {"fail": state.fail})
        if path == "/_standin/http_errors" and method == "POST":
            state.http_errors = [int(c) for c in (body or {}).get("codes", [])]
            return self._send(200, {"codes": state.http_errors})
        if path == "/_standin/requests" and method == "GET":
            return self._send(200, state.requests)
        self._error(404, f"no control {path}")

    def _devices(self) -> None:
        state = self.server.state
        queued = sum(j.status == "Queued" for j in state.jobs.values())
        devices = [
            {
                "name": name,
                "status": {"name": "online"},
                "is_simulator": False,
                "qubits": state.conf["n_qubits"],
                "queue_length": queued,
            }
            for name in sorted(state.backends)
        ]
        self._send(200, {"devices": devices})

    def _backend(self, name: str, what: str) -> None:
        state = self.server.state
        if name not in state.backends:
            return self._error(404, f"backend {name} not found")
        if what == "status":
            queued = sum(j.status == "Queued" for j in state.jobs.values())
            return self._send(
                200,
                {
                    "state": True,
                    "status": "online",
                    "message": "available",
                    "length_queue": queued,
                    "backend_version": state.conf["backend_version"],
                },
            )
        if what == "configuration":
            return self._send(200, {**state.conf, "backend_name": name})
        if what == "properties":
            return self._send(200, {**state.props, "backend_name": name})
        self._error(404, f"no backend resource {what}")

    def _session(self, method: str, parts: list[str], body: Any) -> None:
        state = self.server.state
        if not parts and method == "POST":
            sid = "s" + uuid.uuid4().hex[:19]
            max_ttl = int((body or {}).get("max_ttl") or 28800)
            state.sessions[sid] = {
                "id": sid,
                "backend_name": (body or {}).get("backend"),
                "mode": (body or {}).get("mode", "dedicated"),
                "max_ttl": max_ttl,
                "active_ttl": max_ttl,
                "interactive_ttl": 60,
                "state": "open",
                "accepting_jobs": True,
                "started_at": _now(),
            }
            return self._send(200, state.sessions[sid])
        session = state.sessions.get(parts[0]) if parts else None
        if session is None:
            return self._error(404, "session not found")
        if method == "GET" and len(parts) == 1:
            return self._send(200, session)
        if method == "PATCH" and len(parts) == 1:
            session["accepting_jobs"] = bool((body or {}).get("accepting_jobs", False))
            return self._send(204)
        if method == "DELETE" and parts[1:] == ["close"]:
            session["state"] = "closed"
            return self._send(204)
        self._error(404, "no such session route")

    def _jobs(self, method: str, parts: list[str], body: Any, query: dict[str, Any]) -> None:
        state = self.server.state
        if not parts and method == "POST":
            backend = (body or {}).get("backend")
            if backend not in state.backends:
                return self._error(404, f"backend {backend} not found")
            if (body or {}).get("program_id") != "sampler":
                return self._error(400, "the stand-in only runs the sampler program")
            job = Job(backend, body)
            job.fail = state.fail
            state.jobs[job.id] = job
            threading.Thread(target=state.run, args=(job,), daemon=True).start()
            return self._send(200, {"id": job.id, "backend": backend, "private": False})
        if not parts and method == "GET":
            jobs = [j.response() for j in state.jobs.values()]
            if query.get("pending") == ["true"]:
                jobs = [j for j in jobs if j["status"] in ("Queued", "Running")]
            if "session_id" in query:
                jobs = [j for j in jobs if j["session_id"] == query["session_id"][0]]
            return self._send(200, {"jobs": jobs, "count": len(jobs), "offset": 0, "limit": 200})
        job = state.jobs.get(parts[0])
        if job is None:
            return self._error(404, f"job {parts[0]} not found")
        rest = parts[1:]
        if method == "GET" and not rest:
            return self._send(200, job.response())
        if method == "POST" and rest == ["cancel"]:
            if job.status in ("Queued", "Running"):
                job.cancelled.set()
                job.status = "Cancelled"
                return self._send(204)
            return self._error(409, f"job {job.id} is already {job.status}")
        if method == "GET" and rest == ["results"]:
            if job.result is None:
                return self._error(409, f"job {job.id} has no results ({job.status})")
            return self._send(200, job.result, content_type="text/plain")
        if method == "GET" and rest == ["logs"]:
            return self._send(200, job.reason or "", content_type="text/plain")
        self._error(404, "no such job route")


class Server(ThreadingHTTPServer):
    """The HTTP server, carrying the stand-in's state."""

    daemon_threads = True

    def __init__(self, port: int, state: StandIn) -> None:
        super().__init__(("127.0.0.1", port), Handler)
        self.state = state


def main(argv: list[str] | None = None) -> None:
    """Serve until killed; print ``READY <url>`` when listening."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--api-key", required=True)
    parser.add_argument("--backend", action="append", default=[])
    args = parser.parse_args(argv)
    server = Server(args.port, StandIn(args.api_key, args.backend or ["standin_manila"]))
    print(f"READY http://127.0.0.1:{server.server_address[1]}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
