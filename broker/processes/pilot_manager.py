"""Starts and scales pilot jobs for a hosted backend (``slurm-pilot``) with queue depth.

A hosted backend has one queue for open work (``classical.slurm-pilot``) and one per
controlled security domain (``classical.slurm-pilot@DOMAIN``): each queue has pilots of its
own, so controlled work never shares a pilot with open work. Each tick (at most once a
second) the manager counts each queue's open tasks and the pilots that Slurm knows for this
broker, and submits pilots up to ``clamp(ceil(open / slots), min_pilots, max_pilots)`` for
the open queue (``clamp(ceil(open / slots), 0, max_pilots)`` for a controlled one). The
first ``min_pilots`` of the open queue are *core* pilots that stay for their wall time; the
rest are *burst* pilots that leave when idle. A pilot drains before its wall time, and the
next tick replaces it if work remains.
"""

from __future__ import annotations

import hashlib
import logging
import math
import time
import uuid

from backends.base import ClassicalSpec
from backends.slurm.pilot import PilotOptions, SlurmPilotBackend
from backends.slurm.records import task_state
from broker.core.orchestrator import Broker
from broker.core.placement import queue_for
from broker.processes.pilot_job import PilotPayload, open_work

log = logging.getLogger(__name__)


def desired_pilots(open_tasks: int, options: PilotOptions, *, minimum: bool = True) -> int:
    """``clamp(ceil(open_tasks / slots), min_pilots, max_pilots)`` (no minimum for a queue
    of controlled work)."""
    wanted = math.ceil(open_tasks / options.slots)
    floor = options.min_pilots if minimum else 0
    return max(floor, min(options.max_pilots, wanted))


class PilotManager:
    """Keeps the right number of pilot jobs for each queue of one hosted backend."""

    period_s = 1.0

    def __init__(self, broker: Broker, name: str = "slurm-pilot") -> None:
        self.broker = broker
        self.name = name
        options = broker.backend_options(name)
        backend = SlurmPilotBackend(**options)
        self.options = backend.pilot
        self.slurm = backend.submitter(str(backend.root.parent / "pilots"))
        home = str(broker.settings.home.resolve())
        self.prefix = f"qcb-pilot-{hashlib.sha256(home.encode()).hexdigest()[:8]}"
        self.open_queue = queue_for("classical", name)
        self._last = 0.0

    def job_name(self, queue: str, role: str) -> str:
        """A pilot's Slurm job name: which broker, which queue, which role."""
        domain = queue.partition("@")[2]
        return f"{self.prefix}{'@' + domain if domain else ''}-{role}"

    def pilots(self) -> dict[tuple[str, str], list[str]]:
        """Slurm job ids of this broker's live pilots, by (queue, role)."""
        live: dict[tuple[str, str], list[str]] = {}
        for job in self.slurm.jobs().values():
            if not job.name.startswith(self.prefix) or task_state(job)[0].final:
                continue
            rest, _, role = job.name[len(self.prefix) :].rpartition("-")
            if role not in ("core", "burst") or (rest and not rest.startswith("@")):
                continue
            queue = queue_for("classical", self.name, rest.removeprefix("@") or None)
            live.setdefault((queue, role), []).append(job.job_id)
        return live

    def tick(self) -> int:
        """Submit the pilots that are missing; returns how many it submitted."""
        now = time.monotonic()
        if now - self._last < self.period_s:
            return 0
        self._last = now
        work = {queue: n for queue, n in open_work(self.broker.db, self.name).items() if n}
        if self.options.min_pilots:
            work.setdefault(self.open_queue, 0)  # core pilots stay even with no work
        if not work:
            return 0
        live = self.pilots()
        submitted = 0
        for queue, open_tasks in work.items():
            is_open = queue == self.open_queue
            core = len(live.get((queue, "core"), []))
            burst = len(live.get((queue, "burst"), []))
            missing = desired_pilots(open_tasks, self.options, minimum=is_open) - core - burst
            for _ in range(max(missing, 0)):
                as_core = is_open and core < self.options.min_pilots
                self.submit(queue, core=as_core)
                core += as_core
                submitted += 1
        return submitted

    def submit(self, queue: str, *, core: bool) -> str:
        """Submit one pilot job for ``queue``."""
        opts = self.options
        payload = PilotPayload(
            backend=self.name,
            queue=queue,
            slots=opts.slots,
            walltime_s=opts.walltime_s,
            drain_s=opts.drain_s,
            idle_s=None if core else opts.idle_s,
        )
        spec = ClassicalSpec(
            name=self.job_name(queue, "core" if core else "burst"),
            entrypoint="broker.processes.pilot_job:run",
            payload=payload.model_dump(),
            nodes=opts.pilot_nodes,
            ntasks=opts.slots,
            time_limit_s=opts.walltime_s,
            partition=opts.partition,
        )
        # A pilot is the broker itself (a worker with its settings), so it runs as the broker;
        # the tasks it hosts each drop to their own account (backends.slurm.pilot).
        native = self.slurm.submit_service(
            spec, task_id=f"pilot-{uuid.uuid4().hex[:8]}", env=self.broker.settings.env()
        )
        log.info("submitted %s pilot %s for %s", "core" if core else "burst", native, queue)
        return native

    def shutdown(self) -> None:
        """Cancel every pilot of this broker (when the broker stops)."""
        for ids in self.pilots().values():
            for job_id in ids:
                self.slurm.cancel_job(job_id)
