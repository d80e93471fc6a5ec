"""The embedded transport: a message sent through a real Celery app rings the queue folder's
doorbell and is consumed."""

from __future__ import annotations

import select
from pathlib import Path

from broker.config import Settings
from broker.doorbell import Doorbell
from broker.processes.celery_app import make_app


def test_a_message_sent_through_the_app_rings_and_is_consumed(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path / "home", broker_url="filesystem://")
    app = make_app(settings)
    bell = Doorbell(str(settings.queue_dir))
    try:
        app.send_task("qcb.execute", args=["t-1"], queue="quantum.aer")
        ready, _, _ = select.select([bell._read], [], [], 0)
        assert ready  # rung
        with app.connection_for_read() as conn:
            got = conn.SimpleQueue("quantum.aer").get(timeout=10)
            assert got.payload[0] == ["t-1"]
            got.ack()
    finally:
        bell.close()
