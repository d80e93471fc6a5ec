"""The worker's heartbeat process: it keeps the lease while its worker lives, whatever the
worker's threads do, and stops soon after the worker dies."""

from __future__ import annotations

import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from broker.config import Settings
from broker.store.db import Database, utcnow
from broker.store.schema import workers

LEASE = 0.4  # beats every 0.1 s


def last_seen(db: Database) -> datetime:
    """The test worker's lease time."""
    with db.read() as conn:
        seen: datetime = conn.execute(
            select(workers.c.last_seen).where(workers.c.id == "w-test")
        ).scalar_one()
    return seen


def wait_for(check: object, timeout: float = 20.0) -> None:
    """Poll ``check()`` until true (the heartbeat's own start takes a moment)."""
    deadline = time.monotonic() + timeout
    while not check():  # type: ignore[operator]
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_the_heartbeat_keeps_the_lease_while_its_worker_holds_the_gil_and_stops_with_it(
    qcb_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("QCB_LEASE_SECONDS", str(LEASE))
    db = Database(Settings().store_url)
    start = utcnow()
    with db.write() as conn:
        conn.execute(
            workers.insert().values(
                id="w-test", hostname="h", pid=0, started_at=start, last_seen=start
            )
        )
    # a "worker" that holds its interpreter's lock in one pure-Python loop until told to stop
    stop = qcb_home / "stop"
    loop = f"import os\nwhile not os.path.exists({str(stop)!r}): pass"
    worker = subprocess.Popen([sys.executable, "-c", loop])
    beat = subprocess.Popen(
        [sys.executable, "-m", "broker.processes.heartbeat", "w-test", str(worker.pid)]
    )
    try:
        wait_for(lambda: last_seen(db) > start)
        first = last_seen(db)
        time.sleep(4 * LEASE)
        assert worker.poll() is None  # still busy
        assert last_seen(db) > first  # and its lease was kept meanwhile
        stop.touch()
        worker.wait(timeout=10)
        assert beat.wait(timeout=10) == 0  # the heartbeat ends with its worker
        final = last_seen(db)
        time.sleep(3 * LEASE)
        assert last_seen(db) == final
    finally:
        worker.kill()
        beat.kill()
        db.dispose()
