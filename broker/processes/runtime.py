"""The embedded runtime: a scheduler process that supervises one Celery worker process.

``qcb`` (and ``Client()`` in embedded mode) starts it on demand with :func:`ensure_running`;
it stops by itself after ``idle_shutdown_seconds`` with no unfinished job, or on
:func:`stop`. One runtime per ``QCB_HOME``: it holds an exclusive lock on
``run/scheduler.lock`` for its whole life, so a second start is a no-op and a crashed one
leaves no stale lock. If the worker dies, the scheduler starts a new one and hands it the
dead worker's tasks.

Run in the foreground with ``python -m broker.processes.runtime``.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import select
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import IO, Any

from backends import registry
from backends.base import ClassicalBackend
from broker.config import Settings, private_files
from broker.errors import RuntimeUnavailable

log = logging.getLogger("qcb.runtime")


def settings_env(settings: Settings) -> dict[str, str]:
    """Environment that makes a child process see the same settings."""
    return {**os.environ, **settings.env()}


def _lock_path(settings: Settings) -> Path:
    settings.run_dir.mkdir(parents=True, exist_ok=True)
    return settings.run_dir / "scheduler.lock"


def _try_lock(path: Path) -> IO[str] | None:
    handle = open(path, "a+")  # noqa: SIM115 - held open for the lock's lifetime
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        return None
    return handle


def is_running(settings: Settings) -> bool:
    """Whether a runtime holds this home's lock."""
    handle = _try_lock(_lock_path(settings))
    if handle is None:
        return True
    handle.close()
    return False


def ensure_running(settings: Settings, timeout: float = 20.0) -> None:
    """Start the runtime for ``settings.home`` unless one is running; wait until it is."""
    if is_running(settings):
        return
    with open(settings.run_dir / "runtime.log", "ab") as log_file:
        subprocess.Popen(
            [sys.executable, "-m", "broker.processes.runtime"],
            env=settings_env(settings),
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=log_file,
            start_new_session=True,
        )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if is_running(settings):
            return
        time.sleep(0.05)
    raise RuntimeUnavailable(
        f"the embedded runtime did not start within {timeout:.0f} s",
        hint=f"see {settings.run_dir / 'runtime.log'}",
    )


def stop(settings: Settings, timeout: float = 30.0) -> bool:
    """Stop the runtime (it stops its worker first). Returns False if none was running."""
    pid_file = settings.run_dir / "scheduler.pid"
    if not is_running(settings) or not pid_file.exists():
        return False
    try:
        os.kill(int(pid_file.read_text()), signal.SIGTERM)
    except (ProcessLookupError, ValueError):
        return False
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and is_running(settings):
        time.sleep(0.05)
    return True


def nudge(settings: Settings) -> None:
    """Ask the running scheduler to tick now (new work: no need to wait for its period).

    The runtime handles SIGUSR1 from before it writes its pid file; with no runtime holding
    the lock, a stale pid file is left alone.
    """
    if not is_running(settings):
        return
    with contextlib.suppress(OSError, ValueError):
        os.kill(int((settings.run_dir / "scheduler.pid").read_text()), signal.SIGUSR1)


def worker_queues() -> list[str]:
    """Queues of every quantum backend registered here and of every classical backend that
    loads here, but those of hosted backends (their pilot jobs consume them).

    Quantum SDKs are not imported to find them: a task only reaches a queue after its job was
    admitted, which loads its backend.
    """
    from broker.core.placement import queue_for

    quantum = [n for n in registry.names() if registry.declared_kind(n) == "quantum"]
    classical = [
        name
        for name, cls in registry.loadable("classical").items()
        if issubclass(cls, ClassicalBackend) and not cls.hosted
    ]
    return [queue_for("quantum", n) for n in quantum] + [
        queue_for("classical", n) for n in classical
    ]


class Supervisor:
    """Keeps one worker process alive and ticks the scheduler until idle or told to stop."""

    def __init__(self, settings: Settings, wake_fd: int) -> None:
        from broker.core.orchestrator import Broker
        from broker.core.scheduler import Scheduler
        from broker.drivers.endpoint import DriverEndpoint
        from broker.processes.celery_app import make_app, sender

        broker = Broker(settings)
        self.endpoint: DriverEndpoint | None = None
        if not settings.driver_url:
            # Driver programs reach the broker here (they may not open the store): one
            # endpoint for the runtime's life, so a restarted worker changes nothing for them.
            self.endpoint = DriverEndpoint(broker, on_submit=_nudge_self).start()
            settings = settings.model_copy(update={"driver_url": self.endpoint.url})
            broker.settings = settings
        self.settings = settings
        send = sender(make_app(settings))
        broker.dispatch.sender = send  # the driver endpoint's submissions send their tasks
        self.scheduler = Scheduler(broker, send)
        self.worker: subprocess.Popen[bytes] | None = None
        self.stopping = False
        # The read end of a self-pipe that the SIGUSR1 handler writes to (see main).
        self.wake_fd = wake_fd

    def start_worker(self) -> None:
        """Start a Celery worker on every backend queue."""
        cmd = [
            sys.executable, "-m", "celery", "-A", "broker.processes.celery_app", "worker",
            "--pool", "threads", "--concurrency", str(self.settings.worker_concurrency),
            "--queues", ",".join(worker_queues()), "--loglevel", "WARNING",
            "--without-gossip", "--without-mingle", "--without-heartbeat",
            "--hostname", f"qcb-embedded@{os.uname().nodename}",
        ]  # fmt: skip
        with open(self.settings.run_dir / "worker.log", "ab") as log_file:
            self.worker = subprocess.Popen(
                cmd,
                env=settings_env(self.settings),
                stdin=subprocess.DEVNULL,
                stdout=log_file,
                stderr=log_file,
            )
        (self.settings.run_dir / "worker.pid").write_text(str(self.worker.pid))
        log.info("started worker pid %d", self.worker.pid)

    def stop_worker(self) -> None:
        """Warm shutdown of the worker (running tasks finish), then kill if it hangs."""
        if self.worker is None or self.worker.poll() is not None:
            return
        self.worker.send_signal(signal.SIGTERM)
        try:
            self.worker.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.worker.kill()
            self.worker.wait()

    def run(self) -> None:
        """The supervision loop."""
        idle_since: float | None = None
        period = max(self.settings.poll_seconds, 0.1)
        while not self.stopping:
            if self.worker is None or self.worker.poll() is not None:
                if self.worker is not None:
                    log.warning("worker exited with %s; starting a new one", self.worker.returncode)
                self.start_worker()
            self.scheduler.tick()
            if self.scheduler.active_jobs():
                idle_since = None
            elif idle_since is None:
                idle_since = time.monotonic()
            elif time.monotonic() - idle_since > self.settings.idle_shutdown_seconds:
                log.info("idle for %.0f s; stopping", self.settings.idle_shutdown_seconds)
                break
            if select.select([self.wake_fd], [], [], period)[0]:
                os.read(self.wake_fd, 4096)  # drain: one tick serves every nudge so far
        self.stop_worker()
        self.scheduler.shutdown()
        if self.endpoint is not None:
            self.endpoint.stop()


def _nudge_self() -> None:
    os.kill(os.getpid(), signal.SIGUSR1)  # the loop ticks now: a driver added a task


def main() -> int:
    """Entry point of the runtime process."""
    private_files()
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(message)s")
    for name in ("qcb", "broker"):  # ours at INFO; libraries (qiskit's passes) stay quiet
        logging.getLogger(name).setLevel(logging.INFO)
    # A self-pipe: the handler only writes a byte, and the loop waits on it with select (no
    # lock that the interrupted loop might hold, and no nudge lost between wait and clear).
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_w, False)

    def _wake(*_: Any) -> None:
        with contextlib.suppress(BlockingIOError):
            os.write(wake_w, b"!")

    # Before the pid file exists, so that a nudge can never kill this process.
    signal.signal(signal.SIGUSR1, _wake)
    settings = Settings()
    lock = _try_lock(_lock_path(settings))
    if lock is None:
        log.info("a runtime is already running for %s", settings.home)
        return 0
    (settings.run_dir / "scheduler.pid").write_text(str(os.getpid()))
    supervisor = Supervisor(settings, wake_r)

    def _stop(*_: Any) -> None:
        supervisor.stopping = True
        _wake()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    try:
        supervisor.run()
    finally:
        with contextlib.suppress(OSError):
            (settings.run_dir / "scheduler.pid").unlink()
        lock.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
