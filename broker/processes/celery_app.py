"""The Celery application: JSON messages carrying task ids, nothing else.

The transport comes from ``QCB_BROKER_URL``: ``filesystem://`` (the embedded default, a
folder under ``QCB_HOME``, no server) or ``redis://...`` for a shared service, with no code
change. Celery carries work; the scheduler decides order, and the store is the truth.

Run a worker with ``celery -A broker.processes.celery_app worker`` (``qcb`` does it for you).
"""

from __future__ import annotations

import os
import socket
import subprocess
from collections.abc import Callable
from typing import Any

from celery import Celery
from celery.signals import worker_init, worker_process_init, worker_shutdown
from sqlalchemy import delete

from broker.config import Settings, private_files
from broker.core.execution import Executor
from broker.core.orchestrator import Broker
from broker.core.scheduler import Scheduler
from broker.processes import heartbeat
from broker.store.db import utcnow
from broker.store.schema import workers

EXECUTE = "qcb.execute"


def transport_options(settings: Settings) -> dict[str, Any]:
    """Transport options for the configured broker URL."""
    if settings.broker_url.startswith("filesystem://"):
        folder = str(settings.queue_dir)
        os.makedirs(folder, exist_ok=True)
        return {
            "data_folder_in": folder,
            "data_folder_out": folder,
            "control_folder": str(settings.queue_dir / "control"),
            "store_processed": False,
            "polling_interval": settings.poll_seconds,
        }
    return {}


def make_app(settings: Settings) -> Celery:
    """A Celery app configured from ``settings``."""
    app = Celery("qcbroker", broker=settings.broker_url, set_as_current=False)
    if settings.broker_url.startswith("filesystem://"):
        app.conf.broker_transport = "broker.processes.fs_transport:Transport"
    app.conf.update(
        task_serializer="json",
        accept_content=["json"],
        result_serializer="json",
        result_backend=None,
        task_ignore_result=True,
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        worker_enable_remote_control=False,
        worker_hijack_root_logger=False,
        broker_connection_retry_on_startup=True,
        broker_transport_options=transport_options(settings),
    )
    app.task(name=EXECUTE, acks_late=True, ignore_result=True)(_execute)
    return app


class _WorkerState:
    """This process's broker, executor and heartbeat (created on first use)."""

    def __init__(self) -> None:
        self.settings = Settings()
        self.worker_id = f"{socket.gethostname()}:{os.getpid()}"
        self.broker = Broker(self.settings)
        self.broker.dispatch.sender = sender(app)  # a worker sends the tasks it makes ready
        scheduler = Scheduler(self.broker, sender(app))
        self.executor = Executor(self.broker, self.worker_id, release=scheduler.release)
        self.heart: subprocess.Popen[bytes] | None = None

    def register(self) -> None:
        """Announce this worker in the store (before it takes any task)."""
        with self.broker.db.write() as conn:
            conn.execute(delete(workers).where(workers.c.id == self.worker_id))
            conn.execute(
                workers.insert().values(
                    id=self.worker_id,
                    hostname=socket.gethostname(),
                    pid=os.getpid(),
                    started_at=utcnow(),
                    last_seen=utcnow(),
                )
            )


_state: _WorkerState | None = None


def worker_state() -> _WorkerState:
    """The state of the worker running in this process."""
    global _state
    if _state is None:
        _state = _WorkerState()
    return _state


def sender(celery: Celery) -> Callable[[str, str], None]:
    """A function that publishes a task id on its queue through ``celery``."""

    def send(task_id: str, queue: str) -> None:
        celery.send_task(EXECUTE, args=[task_id], queue=queue)

    return send


def _execute(task_id: str) -> None:
    worker_state().executor.execute(task_id)


@worker_init.connect
def _on_ready(**_: Any) -> None:
    private_files()
    state = worker_state()
    state.register()
    state.heart = heartbeat.start(state.worker_id)  # a process: see broker.processes.heartbeat


@worker_process_init.connect
def _on_fork(**_: Any) -> None:
    global _state
    _state = None


@worker_shutdown.connect
def _on_shutdown(**_: Any) -> None:
    state = worker_state()
    if state.heart is not None:
        state.heart.terminate()
        state.heart.wait()
    with state.broker.db.write() as conn:
        conn.execute(delete(workers).where(workers.c.id == state.worker_id))


app = make_app(Settings())
