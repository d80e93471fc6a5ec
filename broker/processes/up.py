"""The service's processes: ``qcb serve``, ``qcb scheduler``, ``qcb worker`` and ``qcb up``.

Each reads its settings from ``QCB_*`` variables or the ``QCB_CONFIG`` file; every process
of one deployment must see the same ``database_url`` and ``broker_url``. They may run on
different hosts and in any number: the store serializes what must not interleave.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from typing import Any

from broker.config import Settings

log = logging.getLogger("qcb.service")


def _logging() -> None:
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(message)s")
    for name in ("qcb", "broker"):
        logging.getLogger(name).setLevel(logging.INFO)


def serve(settings: Settings, host: str, port: int, workers: int = 1) -> None:
    """Run the REST API until SIGTERM or Ctrl-C: in this process, or in ``workers``
    processes sharing the port (each reads the same ``QCB_*`` settings)."""
    import uvicorn

    from broker.api import create_app

    _logging()
    options: dict[str, Any] = {"host": host, "port": port, "log_level": "warning",
                               "access_log": False}  # fmt: skip
    if workers > 1:
        os.environ.update(settings.env())
        uvicorn.run("broker.api:create_app", factory=True, workers=workers, **options)
    else:
        uvicorn.run(create_app(settings), **options)


def run_scheduler(settings: Settings, stop: threading.Event | None = None) -> None:
    """Tick the scheduler every ``settings.scheduler_seconds`` until SIGTERM (or ``stop``).

    A failing tick (the store or Redis restarting) is logged and retried on the next one:
    the store is the truth, so nothing is lost in between. On the way out it cancels the
    pilot jobs it started.
    """
    from broker.core.orchestrator import Broker
    from broker.core.scheduler import Scheduler
    from broker.processes.celery_app import make_app, sender

    _logging()
    stop = stop or threading.Event()
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: stop.set())
    scheduler = Scheduler(Broker(settings), sender(make_app(settings)))
    log.info("scheduler up: store %s, transport %s", _safe(settings.store_url),
             _safe(settings.broker_url))  # fmt: skip
    failing = False
    while not stop.is_set():
        try:
            scheduler.tick()
            if failing:
                log.info("scheduler tick succeeds again")
            failing = False
        except Exception:
            if not failing:
                log.exception("scheduler tick failed; retrying")
            failing = True
        stop.wait(settings.scheduler_seconds)
    scheduler.shutdown()


def worker_argv(settings: Settings, queues: list[str], concurrency: int | None) -> list[str]:
    """The Celery worker command for ``queues``."""
    return [
        sys.executable, "-m", "celery", "-A", "broker.processes.celery_app", "worker",
        "--pool", "threads", "--concurrency", str(concurrency or settings.worker_concurrency),
        "--queues", ",".join(queues), "--loglevel", "WARNING",
        "--without-gossip", "--without-mingle",
        "--hostname", f"qcb-{os.getpid()}@%h",
    ]  # fmt: skip


def _safe(url: str) -> str:
    """A URL without its password, for logs."""
    if "@" not in url:
        return url
    scheme, _, rest = url.partition("://")
    return f"{scheme}://***@{rest.split('@', 1)[1]}"


class Up:
    """``qcb up``: the API, a scheduler and ``workers`` workers on this host, each restarted
    when it exits, all stopped together on SIGTERM or Ctrl-C."""

    def __init__(
        self, settings: Settings, *, host: str, port: int, workers: int, queues: list[str]
    ) -> None:
        qcb = [sys.executable, "-m", "broker.cli"]
        self.commands: dict[str, list[str]] = {
            "api": [*qcb, "serve", "--host", host, "--port", str(port)],
            "scheduler": [*qcb, "scheduler"],
        }
        for n in range(workers):
            self.commands[f"worker{n + 1}"] = [*qcb, "worker", "--queues", ",".join(queues)]
        self.settings = settings
        self.children: dict[str, subprocess.Popen[bytes]] = {}
        self.stopping = threading.Event()

    def _start(self, name: str) -> None:
        env = {**os.environ, **self.settings.env()}
        self.children[name] = subprocess.Popen(self.commands[name], env=env)
        log.info("started %s (pid %d)", name, self.children[name].pid)

    def run(self) -> int:
        """Start everything and watch it until told to stop."""
        _logging()
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: self.stopping.set())
        for name in self.commands:
            self._start(name)
        while not self.stopping.wait(0.5):
            for name, child in list(self.children.items()):
                if child.poll() is not None:
                    log.warning("%s exited with %s; restarting it", name, child.returncode)
                    self._start(name)
        self.stop()
        return 0

    def stop(self, timeout: float = 30.0) -> None:
        """SIGTERM to every child (workers finish their running tasks), then SIGKILL."""
        for child in self.children.values():
            with contextlib.suppress(ProcessLookupError):
                child.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for child in self.children.values():
            try:
                child.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()


def wait_for_api(url: str, timeout: float = 30.0) -> None:
    """Block until ``url/healthz`` answers (for scripts and tests)."""
    import httpx

    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url.rstrip('/')}/healthz", timeout=2).status_code == 200:
                return
        except httpx.TransportError as exc:
            last = exc
        time.sleep(0.1)
    raise TimeoutError(f"the API at {url} did not answer within {timeout} s: {last}")
