"""The embedded transport's doorbell: a publisher's ring wakes a waiting consumer, a ring
with nobody listening is harmless, and a message goes through a real Celery app."""

from __future__ import annotations

import os
import select
import threading
from pathlib import Path

import pytest
from kombu.exceptions import ChannelError

from broker.config import Settings
from broker.processes.celery_app import make_app
from broker.processes.fs_transport import DOORBELL, Doorbell, ring


def _pending(bell: Doorbell) -> bool:
    ready, _, _ = select.select([bell._read], [], [], 0)
    return bool(ready)


def test_a_ring_with_nobody_listening_is_harmless(tmp_path: Path) -> None:
    ring(str(tmp_path))  # no pipe at all
    os.mkfifo(tmp_path / DOORBELL, 0o600)
    ring(str(tmp_path))  # a pipe, no reader: ENXIO, ignored


def test_a_ring_before_the_wait_is_not_lost_and_the_wait_takes_every_ring(
    tmp_path: Path,
) -> None:
    bell = Doorbell(str(tmp_path))
    try:
        assert not _pending(bell)
        for _ in range(3):
            ring(str(tmp_path))
        assert _pending(bell)
        bell.wait(60.0)  # returns at once: the rings are there
        assert not _pending(bell)  # all three taken: the next wait waits
    finally:
        bell.close()


def test_a_ring_wakes_a_consumer_waiting_in_another_thread(tmp_path: Path) -> None:
    bell = Doorbell(str(tmp_path))
    woke = threading.Event()

    def consumer() -> None:
        bell.wait(600.0)
        woke.set()

    waiting = threading.Thread(target=consumer, daemon=True)
    try:
        waiting.start()
        ring(str(tmp_path))
        assert woke.wait(60.0), "the ring did not wake the consumer"
    finally:
        bell.close()


def test_a_doorbell_refuses_a_file_that_is_not_a_pipe(tmp_path: Path) -> None:
    (tmp_path / DOORBELL).write_text("not a pipe")
    with pytest.raises(ChannelError, match="not a named pipe"):
        Doorbell(str(tmp_path))


def test_a_message_sent_through_the_app_rings_and_is_consumed(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path / "home", broker_url="filesystem://")
    app = make_app(settings)
    bell = Doorbell(str(settings.queue_dir))
    try:
        app.send_task("qcb.execute", args=["t-1"], queue="quantum.aer")
        assert _pending(bell)
        with app.connection_for_read() as conn:
            got = conn.SimpleQueue("quantum.aer").get(timeout=10)
            assert got.payload[0] == ["t-1"]
            got.ack()
    finally:
        bell.close()
