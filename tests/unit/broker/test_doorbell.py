"""Doorbells: a ring wakes a waiter, a ring before the wait is kept, a ring with nobody
listening is harmless; a worker's record rings the embedded clients' jobs doorbell."""

from __future__ import annotations

import os
import select
import threading
from pathlib import Path

import pytest
from kombu.exceptions import ChannelError

from broker.client import _jobs_doorbell
from broker.config import Settings
from broker.doorbell import DOORBELL, JOBS_DOORBELL, Doorbell, ring


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


def test_embedded_clients_wait_on_the_jobs_doorbell_and_remote_ones_do_not(
    tmp_path: Path,
) -> None:
    embedded = Settings(home=tmp_path / "home", broker_url="filesystem://")
    bell = _jobs_doorbell(embedded)
    assert bell is not None
    try:
        ring(str(embedded.run_dir), JOBS_DOORBELL)  # as a worker does after a record
        assert _pending(bell)
    finally:
        bell.close()
    served = Settings(home=tmp_path / "other", broker_url="redis://127.0.0.1:1/0")
    assert _jobs_doorbell(served) is None
