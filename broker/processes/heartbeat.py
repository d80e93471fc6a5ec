"""A worker's heartbeat, in a process of its own: ``python -m broker.processes.heartbeat ID PID``.

It refreshes the worker's ``last_seen`` in the store every quarter of the lease, for as long
as the worker process ``PID`` lives, and exits soon after it dies (so the scheduler sees
the lease run out and hands the dead worker's tasks to others).

A thread in the worker would do the same until a simulator held the interpreter's lock for
longer than the lease: Aer sampling mid-circuit measurements shot by shot does, for seconds,
and the scheduler then took a busy worker for dead and re-queued its tasks over and over.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import time

from sqlalchemy import update

from broker.config import Settings
from broker.store.db import Database, utcnow
from broker.store.schema import workers

log = logging.getLogger("qcb.heartbeat")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def beat(settings: Settings, worker_id: str, pid: int) -> None:
    """Refresh ``last_seen`` of ``worker_id`` while process ``pid`` lives."""
    db = Database(settings.store_url)
    period = settings.lease_seconds / 4
    parent = os.getppid()
    while _alive(pid) and os.getppid() == parent:
        try:
            with db.write(exclusive=False) as conn:  # one statement: no turn needed
                conn.execute(
                    update(workers).where(workers.c.id == worker_id).values(last_seen=utcnow())
                )
        except Exception:  # a busy or restarting store must not stop the heartbeat
            log.exception("heartbeat failed")
        time.sleep(period)
    db.dispose()


def start(worker_id: str) -> subprocess.Popen[bytes]:
    """Start the heartbeat of this process, as worker ``worker_id``."""
    return subprocess.Popen(
        [sys.executable, "-m", "broker.processes.heartbeat", worker_id, str(os.getpid())],
        stdin=subprocess.DEVNULL,
    )


def main(argv: list[str]) -> int:
    """Beat for worker ``argv[0]`` while process ``argv[1]`` lives."""
    logging.basicConfig(level=logging.WARNING)
    beat(Settings(), argv[0], int(argv[1]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
