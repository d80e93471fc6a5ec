"""The API's change feed on a SQLite store (one poller for every stream): a change wakes the
streams of that job only; a user holds at most a few streams; closing gives one back."""

from __future__ import annotations

import asyncio

import pytest
import yaml
from sqlalchemy import update

from broker.api.feed import ChangeFeed
from broker.config import Settings
from broker.core.orchestrator import Broker
from broker.errors import TooManyRequests
from broker.store.db import utcnow
from broker.store.schema import jobs
from tests.conftest import EXAMPLES

pytestmark = pytest.mark.timeout(60)


def _job(broker: Broker) -> str:
    job = yaml.safe_load((EXAMPLES / "vqe_h2.yaml").read_text())
    job["algorithm"]["inputs"]["reference"] = False
    from broker.jobfile import validate_job

    return broker.submit(validate_job(job), "alice")


def test_a_change_wakes_the_streams_of_that_job_only(settings: Settings) -> None:
    broker = Broker(settings)
    first, second = _job(broker), _job(broker)
    feed = ChangeFeed(broker.db, poll_seconds=0.01, streams_per_user=10)

    async def follow() -> tuple[bool, bool]:
        mine, other = feed.open("alice", first), feed.open("bob", second)
        for watch in (mine, other):  # a job's first sight wakes its streams: they re-read
            await asyncio.wait_for(watch.event.wait(), 30)
            watch.event.clear()
        await asyncio.to_thread(_touch, broker, first)
        await asyncio.wait_for(mine.event.wait(), 30)
        woke_other = other.event.is_set()
        mine.close()
        other.close()
        return mine.event.is_set(), woke_other

    woke, woke_other = asyncio.run(follow())
    assert woke
    assert not woke_other
    assert feed.open_streams == 0


def _touch(broker: Broker, job_id: str) -> None:
    with broker.db.write() as conn:
        conn.execute(update(jobs).where(jobs.c.id == job_id).values(updated_at=utcnow(), step=5))


def test_a_user_holds_at_most_the_cap_and_closing_gives_one_back(settings: Settings) -> None:
    broker = Broker(settings)
    job = _job(broker)
    feed = ChangeFeed(broker.db, poll_seconds=0.01, streams_per_user=2)

    async def scenario() -> None:
        one, two = feed.open("alice", job), feed.open("alice", job)
        with pytest.raises(TooManyRequests, match="2 event streams open") as refused:
            feed.open("alice", job)
        assert refused.value.retry_after > 0
        other = feed.open("bob", job)  # the cap is per user
        one.close()
        one.close()  # twice is once
        three = feed.open("alice", job)
        assert feed.open_streams == 3
        for watch in (two, three, other):
            watch.close()

    asyncio.run(scenario())
    assert feed.open_streams == 0
