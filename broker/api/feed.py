"""One change feed per API process: which jobs changed, for every event stream at once.

An open stream costs nothing while its job is quiet: it awaits an :class:`asyncio.Event`
that the feed sets when the job (or one of its tasks) changes. One thread per process finds
the changes: on PostgreSQL it ``LISTEN``s to the channel that the store's triggers notify
(migration ``0004_change_feed``); on SQLite it reads the watched jobs' marks in one query per
poll period, and only while some stream is open.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import threading
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterable
from typing import Any, TypeVar

from sqlalchemy import func, select
from sqlalchemy.engine import make_url
from starlette.concurrency import run_in_threadpool

from broker.core.models import JobStatus
from broker.errors import TooManyRequests
from broker.store.db import Database
from broker.store.schema import jobs, tasks

log = logging.getLogger(__name__)

T = TypeVar("T")

CHANNEL = "qcb_jobs"
"""The PostgreSQL channel the store's triggers notify with a job's id."""

LISTEN_TIMEOUT = 5.0
"""How long the listener waits for a notification before it looks whether to stop."""


class ChangeFeed:
    """Watches jobs for the event streams of one API process."""

    def __init__(self, db: Database, poll_seconds: float, streams_per_user: int) -> None:
        self.db = db
        self.poll_seconds = poll_seconds
        self.streams_per_user = streams_per_user
        self._waiters: dict[str, set[asyncio.Event]] = {}
        self._generation: dict[str, int] = {}
        self._reads: dict[str, tuple[int, asyncio.Future[Any]]] = {}
        self._open: Counter[str] = Counter()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    @property
    def open_streams(self) -> int:
        """Streams open now, over every user."""
        return sum(self._open.values())

    def open(self, user: str, job_id: str) -> Watch:
        """A watch on ``job_id`` for one stream of ``user``; ``TooManyRequests`` beyond
        :attr:`streams_per_user` open streams. Close it when the stream ends."""
        return self.open_many(user, [job_id])

    def open_many(self, user: str, job_ids: Iterable[str]) -> Watch:
        """One stream's watch on several jobs (a page listing them): it counts as one
        stream, and its event is set when any of them changes."""
        if self._open[user] >= self.streams_per_user:
            raise TooManyRequests(
                f"you have {self._open[user]} event streams open, the most one user may",
                hint="close a stream first; `qcb status` and `GET /v1/jobs/ID` poll instead "
                "(the limit is the setting QCB_MAX_STREAMS_PER_USER)",
            )
        self._start()
        watch = Watch(self, user, tuple(dict.fromkeys(job_ids)))
        self._open[user] += 1
        with self._lock:
            for job_id in watch.job_ids:
                self._waiters.setdefault(job_id, set()).add(watch.event)
        return watch

    def _close(self, watch: Watch) -> None:
        with self._lock:
            for job_id in watch.job_ids:
                watchers = self._waiters.get(job_id, set())
                watchers.discard(watch.event)
                if not watchers:
                    self._waiters.pop(job_id, None)
                    self._reads.pop(job_id, None)
                    self._generation.pop(job_id, None)
        self._open[watch.user] -= 1
        if self._open[watch.user] <= 0:
            del self._open[watch.user]

    def _start(self) -> None:
        if self._thread is not None:
            return
        self._loop = asyncio.get_running_loop()
        postgres = self.db.engine.dialect.name == "postgresql"
        target = self._listen if postgres else self._poll
        self._thread = threading.Thread(target=target, name="qcb-change-feed", daemon=True)
        self._thread.start()

    def changed(self, job_ids: Iterable[str]) -> None:
        """Wake the streams of ``job_ids`` (from any thread)."""
        with self._lock:
            watched = [j for j in set(job_ids) if self._waiters.get(j)]
        if watched and self._loop is not None:
            self._loop.call_soon_threadsafe(self._wake, watched)

    def _wake(self, job_ids: list[str]) -> None:
        """In the event loop: a new generation of each job, and its streams woken."""
        for job_id in job_ids:
            self._generation[job_id] = self._generation.get(job_id, 0) + 1
            with self._lock:
                events = list(self._waiters.get(job_id, ()))
            for event in events:
                event.set()

    async def read(self, job_id: str, reader: Callable[[], T]) -> T:
        """``reader()`` (run in a thread) as of the job's latest change, shared by every
        stream of the job: 500 streams woken by one change make one read, not 500."""
        generation = self._generation.get(job_id, 0)
        shared = self._reads.get(job_id)
        if shared is None or shared[0] != generation or _failed(shared[1]):
            task: asyncio.Future[Any] = asyncio.ensure_future(run_in_threadpool(reader))
            shared = self._reads[job_id] = (generation, task)
        found: T = await asyncio.shield(shared[1])
        return found

    def _everyone(self) -> None:
        with self._lock:
            ids = list(self._waiters)
        self.changed(ids)

    def _listen(self) -> None:
        """PostgreSQL: wait on the channel; after any break, reconnect and wake everyone
        (they re-read, so nothing missed meanwhile is lost)."""
        import psycopg

        url = make_url(self.db.engine.url).set(drivername="postgresql")
        dsn = url.render_as_string(hide_password=False)
        while True:
            try:
                with psycopg.connect(dsn, autocommit=True) as conn:
                    conn.execute(f"LISTEN {CHANNEL}")
                    self._everyone()
                    while True:  # each notification at once (the timeout only ends a wait)
                        for notice in conn.notifies(timeout=LISTEN_TIMEOUT):
                            self.changed([notice.payload])
            except Exception:  # the store restarts: streams go on once it is back
                log.warning("the change feed lost the store; reconnecting", exc_info=True)
                time.sleep(1.0)

    def _poll(self) -> None:
        """SQLite: one query per period for every watched job's mark."""
        marks: dict[str, tuple[object, ...]] = {}
        while True:
            time.sleep(self.poll_seconds)
            with self._lock:
                ids = list(self._waiters)
            if not ids:
                marks.clear()
                continue
            try:
                now = self._marks(ids)
            except Exception:
                log.warning("the change feed cannot read the store", exc_info=True)
                continue
            self.changed(j for j in ids if now.get(j) != marks.get(j))
            marks = now

    def _marks(self, ids: list[str]) -> dict[str, tuple[object, ...]]:
        """Each watched job's state, step, update time and task counts by state."""
        counts = (
            select(tasks.c.job_id, tasks.c.state, func.count())
            .where(tasks.c.job_id.in_(ids))
            .group_by(tasks.c.job_id, tasks.c.state)
        )
        with self.db.read() as conn:
            rows = conn.execute(
                select(jobs.c.id, jobs.c.state, jobs.c.step, jobs.c.updated_at).where(
                    jobs.c.id.in_(ids)
                )
            ).all()
            by_job: dict[str, list[tuple[str, int]]] = {}
            for job_id, state, count in conn.execute(counts).all():
                by_job.setdefault(job_id, []).append((state, count))
        return {r.id: (*r[1:], tuple(sorted(by_job.get(r.id, [])))) for r in rows}


class Watch:
    """One stream's interest in some jobs: :attr:`event` is set when one of them changes."""

    def __init__(self, feed: ChangeFeed, user: str, job_ids: tuple[str, ...]) -> None:
        self.feed = feed
        self.user = user
        self.job_ids = job_ids
        self.event = asyncio.Event()
        self.closed = False

    def close(self) -> None:
        """Stop watching (once; later calls do nothing)."""
        if not self.closed:
            self.closed = True
            self.feed._close(self)


async def status_events(
    feed: ChangeFeed, watch: Watch, read: Callable[[str], JobStatus], keepalive: float
) -> AsyncIterator[str]:
    """Server-sent events for a watch's jobs: a ``status`` event (a JobStatus) whenever one
    changes, then ``end`` once all are final (its data: the state of a lone job, else the
    ids); comments every ``keepalive`` seconds keep an idle connection open. Closes the
    watch when it ends."""
    try:
        last: dict[str, str] = {}
        left = list(watch.job_ids)
        while True:
            for job_id in list(left):
                now = await feed.read(job_id, functools.partial(read, job_id))
                data = now.model_dump_json()
                if data != last.get(job_id):
                    yield f"event: status\ndata: {data}\n\n"
                    last[job_id] = data
                if now.state.final:
                    left.remove(job_id)
            if not left:
                ids = list(watch.job_ids)
                end = {"state": now.state.value} if len(ids) == 1 else {"jobs": ids}
                yield f"event: end\ndata: {json.dumps(end)}\n\n"
                return
            try:
                await asyncio.wait_for(watch.event.wait(), keepalive)
            except TimeoutError:
                yield ": keepalive\n\n"
            watch.event.clear()
    finally:
        watch.close()


def _failed(future: asyncio.Future[Any]) -> bool:
    """Whether a shared read ended without a result (the next reader tries again)."""
    return future.done() and (future.cancelled() or future.exception() is not None)
