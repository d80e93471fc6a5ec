"""A stand-in for IonQ's REST API v0.4 on localhost, speaking the documented protocol.

It checks the ``Authorization: apiKey KEY`` header (401 with IonQ's error body otherwise),
validates job bodies as the API does (400 with ``{"error", "message", "statusCode"}``),
moves jobs ``submitted -> ready -> started -> completed`` over configurable delays, computes
real probabilities by simulating the ``qis`` gates (the ideal simulator's exact
distribution; with a noise model, frequencies of ``shots`` samples), cancels, answers 404 for
unknown ids, and can be told to answer the next requests with 429 (with ``Retry-After``) or
5xx, to drop answers (the connection closes after the work is done), or to fail the next job.
"""

from __future__ import annotations

import json
import re
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

import numpy as np

from backends import ionq_protocol as proto
from tests.harness import ionq_sim

BACKENDS = ("simulator", "qpu.aria-1", "qpu.aria-2", "qpu.forte-1", "qpu.forte-enterprise-1")
_JOB = re.compile(r"^/v0\.4/jobs/([^/]+)(/status/cancel|/results/probabilities)?$")


def _iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).isoformat(timespec="milliseconds")


def _error(status: int, error: str, message: str, **extra: Any) -> tuple[int, dict[str, Any]]:
    return status, {"error": error, "message": message, "statusCode": status, **extra}


class _Invalid(Exception):
    def __init__(self, message: str, *keys: str) -> None:
        super().__init__(message)
        self.keys = list(keys)


@dataclass
class StandInJob:
    """One job as the stand-in keeps it."""

    id: str
    body: dict[str, Any]
    created: float
    probabilities: list[dict[str, float]]
    children: list[str] = field(default_factory=list)
    canceled: bool = False
    failure: dict[str, str] | None = None


class IonQStandIn:
    """The server; ``start()`` it, point the backend at :attr:`url`, ``stop()`` it."""

    def __init__(
        self, api_key: str = "test-ionq-key-0123", queue_s: float = 0.1, run_s: float = 0.2
    ) -> None:
        self.api_key = api_key
        self.queue_s = queue_s
        self.run_s = run_s
        self.jobs: dict[str, StandInJob] = {}
        self.requests: list[tuple[str, str, int]] = []  # (method, path, status answered)
        self.posted: list[dict[str, Any]] = []
        self._inject: list[tuple[int, float | None]] = []
        self._fail: dict[str, str] | None = None
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self.drop_answers = 0
        """Close the connection instead of answering this many more requests."""

    @property
    def url(self) -> str:
        """The API base, ``http://127.0.0.1:PORT/v0.4``."""
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}/v0.4"

    def start(self) -> IonQStandIn:
        """Listen on a free port in a daemon thread."""
        standin = self

        class Handler(BaseHTTPRequestHandler):
            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                status, payload, headers = standin.handle(
                    self.command, self.path, self.headers.get("Authorization"), raw
                )
                if standin.drop_answers > 0:  # the work is done but the answer is lost
                    standin.drop_answers -= 1
                    self.close_connection = True
                    return
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for name, value in headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_DELETE = _serve

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()
        return self

    def stop(self) -> None:
        """Stop listening."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def inject(self, status: int, count: int = 1, retry_after: float | None = None) -> None:
        """Answer the next ``count`` requests with ``status`` (and ``Retry-After``)."""
        with self._lock:
            self._inject.extend([(status, retry_after)] * count)

    def fail_next_job(self, code: str = "SimulationError", message: str = "simulated") -> None:
        """Make the next created job end ``failed`` with this failure."""
        self._fail = {"code": code, "message": message}

    def answered(self, status: int) -> int:
        """How many requests were answered with ``status``."""
        return sum(1 for _, _, s in self.requests if s == status)

    # --- the API -------------------------------------------------------------------------

    def status_of(self, job: StandInJob) -> str:
        """The job's IonQ status now."""
        if job.canceled:
            return "canceled"
        elapsed = time.time() - job.created
        if elapsed < self.queue_s:
            return "submitted" if elapsed < self.queue_s / 2 else "ready"
        if elapsed < self.queue_s + self.run_s:
            return "started"
        return "failed" if job.failure else "completed"

    def record(self, job: StandInJob) -> dict[str, Any]:
        """The job as ``GET /jobs/{id}`` shows it."""
        status = self.status_of(job)
        started = status in ("started", "completed", "failed")
        done = status in ("completed", "failed")
        body = job.body
        circuits = body["input"].get("circuits") or [body["input"]]
        return {
            "id": job.id,
            "status": status,
            "type": body["type"],
            "backend": body["backend"],
            "dry_run": False,
            "name": body.get("name"),
            "metadata": body.get("metadata"),
            "submitted_at": _iso(job.created),
            "started_at": _iso(job.created + self.queue_s) if started else None,
            "completed_at": _iso(job.created + self.queue_s + self.run_s) if done else None,
            "predicted_wait_time_ms": None,
            "predicted_execution_duration_ms": None,
            "execution_duration_ms": int(self.run_s * 1000) if done else None,
            "shots": body.get("shots", 100),
            "noise": body.get("noise") or {"model": "ideal"},
            "failure": job.failure if status == "failed" else None,
            "settings": {},
            "stats": {"qubits": body["input"]["qubits"], "circuits": len(circuits)},
            "output": {},
            "results": None,
            "child_job_ids": job.children or None,
        }

    def handle(
        self, method: str, target: str, auth: str | None, raw: bytes
    ) -> tuple[int, Any, dict[str, str]]:
        """Answer one request: (status, JSON body, extra headers)."""
        path = urlsplit(target).path
        headers: dict[str, str] = {}
        with self._lock:
            injected = self._inject.pop(0) if self._inject else None
        if injected is not None:
            status, retry_after = injected
            if retry_after is not None:
                headers["Retry-After"] = f"{retry_after:g}"
            word = "Too Many Requests" if status == 429 else "Service Unavailable"
            answer = _error(status, word, "injected by the stand-in")
        elif auth != f"apiKey {self.api_key}":
            answer = _error(401, "Unauthorized", "Invalid key provided.")
        else:
            answer = self._route(method, path, raw)
        with self._lock:
            self.requests.append((method, path, answer[0]))
        return answer[0], answer[1], headers

    def _route(self, method: str, path: str, raw: bytes) -> tuple[int, Any]:
        if path == "/v0.4/jobs" and method == "POST":
            try:
                return self._create(json.loads(raw or b"{}"))
            except _Invalid as exc:
                return _error(400, "Bad Request", str(exc), validation={"keys": exc.keys})
            except ValueError as exc:
                return _error(400, "Bad Request", f"invalid JSON: {exc}")
        if path == "/v0.4/jobs" and method == "GET":
            jobs = sorted(self.jobs.values(), key=lambda j: -j.created)[:25]
            return 200, {"jobs": [self.record(j) for j in jobs], "next": None}
        match = _JOB.match(path)
        job = self.jobs.get(match.group(1)) if match else None
        if match is None or job is None:
            return _error(404, "Not Found", f"no job at {path}")
        if match.group(2) is None and method == "GET":
            return 200, self.record(job)
        if match.group(2) == "/status/cancel" and method == "PUT":
            if self.status_of(job) in ("completed", "failed", "canceled"):
                return _error(400, "Bad Request", f"job is already {self.status_of(job)}")
            job.canceled = True
            for child in job.children:
                self.jobs[child].canceled = True
            return 200, {"id": job.id, "status": "canceled"}
        if match.group(2) == "/results/probabilities" and method == "GET":
            if self.status_of(job) != "completed":
                return _error(404, "Not Found", "Job not found or not yet completed.")
            if not job.children:
                return 200, job.probabilities[0]
            return 200, dict(zip(job.children, job.probabilities, strict=True))
        return _error(404, "Not Found", f"no route {method} {path}")

    def _create(self, body: Any) -> tuple[int, Any]:
        if not isinstance(body, dict):
            raise _Invalid("body must be an object")
        kind = body.get("type")
        if kind not in ("ionq.circuit.v1", "ionq.multi-circuit.v1"):
            raise _Invalid(f"unsupported job type {kind!r}", "type")
        if body.get("backend") not in BACKENDS:
            raise _Invalid(f"unknown backend {body.get('backend')!r}", "backend")
        shots = body.get("shots", 100)
        if not isinstance(shots, int) or not 1 <= shots <= proto.MAX_SHOTS:
            raise _Invalid("shots must be an integer from 1 to 1000000", "shots")
        if body.get("noise") and body["backend"] != "simulator":
            raise _Invalid("noise applies to the simulator only", "noise")
        self._check_metadata(body.get("metadata") or {})
        spec = body.get("input") or {}
        if spec.get("gateset") != "qis":
            raise _Invalid("only the qis gateset is served here", "input.gateset")
        single = kind == "ionq.circuit.v1"
        circuits = [spec] if single else spec.get("circuits") or []
        if not circuits or len(circuits) > proto.MAX_CIRCUITS_PER_JOB:
            raise _Invalid("a job needs 1 to 5000 circuits", "input.circuits")
        if sum(len(c.get("circuit") or []) for c in circuits) > proto.MAX_GATES_PER_JOB:
            raise _Invalid("too many gates", "input")
        noise = body.get("noise") or {}
        rng = np.random.default_rng(noise.get("seed"))
        probabilities = []
        for circuit in circuits:
            qubits = int(circuit.get("qubits") or spec.get("qubits") or 0)
            try:
                probs = ionq_sim.probabilities(qubits, circuit.get("circuit") or [])
            except (KeyError, TypeError, ValueError) as exc:
                raise _Invalid(f"bad circuit: {exc}", "input.circuit") from None
            if noise.get("model", "ideal") != "ideal":  # sampled, as the noisy simulator
                keys = list(probs)
                drawn = rng.multinomial(
                    shots, np.array([probs[k] for k in keys]) / sum(probs.values())
                )
                probs = {k: int(c) / shots for k, c in zip(keys, drawn, strict=True) if c}
            probabilities.append(probs)
        job = StandInJob(str(uuid.uuid4()), body, time.time(), probabilities, failure=self._fail)
        self._fail = None
        if not single:
            job.children = [str(uuid.uuid4()) for _ in circuits]
            for child, probs in zip(job.children, probabilities, strict=True):
                self.jobs[child] = StandInJob(child, body, job.created, [probs])
        self.jobs[job.id] = job
        self.posted.append(body)
        return 201, {"id": job.id, "status": "submitted", "session_id": None}

    @staticmethod
    def _check_metadata(metadata: Any) -> None:
        # Documented limits: 10 keys, names up to 40 characters, values up to 40,000.
        if not isinstance(metadata, dict) or len(metadata) > 10:
            raise _Invalid("metadata takes at most 10 keys", "metadata")
        for key, value in metadata.items():
            if len(key) > 40 or not isinstance(value, str) or len(value) > 40_000:
                raise _Invalid(f"metadata {key!r} breaks the limits", f"metadata.{key}")
