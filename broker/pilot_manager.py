"""Starts and scales pilot jobs for a hosted backend (``slurm-pilot``) with queue depth.

Each tick (at most once a second) it counts the backend's open tasks and the pilots that
Slurm knows for this broker, and submits pilots up to
``clamp(ceil(open / slots), min_pilots, max_pilots)``. The first ``min_pilots`` are *core*
pilots that stay for their wall time; the rest are *burst* pilots that leave when idle. A
pilot drains before its wall time, and the next tick replaces it if work remains.
"""

from __future__ import annotations

import hashlib
import logging
import math
import time
import uuid

from backends.base import ClassicalSpec
from backends.slurm.cli import SlurmBackend
from backends.slurm.pilot import PilotOptions, SlurmPilotBackend
from backends.slurm.records import task_state
from broker.orchestrator import Broker
from broker.pilot_job import PilotPayload, _open_work

log = logging.getLogger(__name__)


def desired_pilots(open_tasks: int, options: PilotOptions) -> int:
    """``clamp(ceil(open_tasks / slots), min_pilots, max_pilots)``."""
    wanted = math.ceil(open_tasks / options.slots)
    return max(options.min_pilots, min(options.max_pilots, wanted))


class PilotManager:
    """Keeps the right number of pilot jobs for one hosted backend."""

    period_s = 1.0

    def __init__(self, broker: Broker, name: str = "slurm-pilot") -> None:
        self.broker = broker
        self.name = name
        options = broker.backend_options(name)
        backend = SlurmPilotBackend(**options)
        self.options = backend.pilot
        self.slurm = SlurmBackend(**{**options, "workdir": str(backend.root.parent / "pilots")})
        home = str(broker.settings.home.resolve())
        self.prefix = f"qcb-pilot-{hashlib.sha256(home.encode()).hexdigest()[:8]}"
        self._last = 0.0

    def pilots(self) -> dict[str, list[str]]:
        """Native ids of this broker's live pilots, by role (``core``, ``burst``)."""
        live: dict[str, list[str]] = {"core": [], "burst": []}
        for job in self.slurm.jobs().values():
            role = job.name.removeprefix(self.prefix + "-")
            if role in live and not task_state(job)[0].final:
                live[role].append(job.job_id)
        return live

    def desired(self, open_tasks: int) -> int:
        """How many pilots the open work asks for, within the configured bounds."""
        return desired_pilots(open_tasks, self.options)

    def tick(self) -> int:
        """Submit the pilots that are missing; returns how many it submitted."""
        now = time.monotonic()
        if now - self._last < self.period_s:
            return 0
        self._last = now
        open_tasks = _open_work(self.broker.db, self.name)
        if open_tasks == 0 and self.options.min_pilots == 0:
            return 0
        live = self.pilots()
        missing = self.desired(open_tasks) - len(live["core"]) - len(live["burst"])
        submitted = 0
        for _ in range(max(missing, 0)):
            core = len(live["core"]) < self.options.min_pilots
            live["core" if core else "burst"].append(self.submit(core=core))
            submitted += 1
        return submitted

    def submit(self, *, core: bool) -> str:
        """Submit one pilot job."""
        opts = self.options
        payload = PilotPayload(
            backend=self.name,
            queue=f"classical.{self.name}",
            slots=opts.slots,
            walltime_s=opts.walltime_s,
            drain_s=opts.drain_s,
            idle_s=None if core else opts.idle_s,
        )
        spec = ClassicalSpec(
            name=f"{self.prefix}-{'core' if core else 'burst'}",
            entrypoint="broker.pilot_job:run",
            payload=payload.model_dump(),
            env=self.broker.settings.env(),
            nodes=opts.pilot_nodes,
            ntasks=opts.slots,
            time_limit_s=opts.walltime_s,
            partition=opts.partition,
        )
        native = self.slurm.submit(spec, task_id=f"pilot-{uuid.uuid4().hex[:8]}")
        log.info("submitted %s pilot %s", "core" if core else "burst", native)
        return native

    def shutdown(self) -> None:
        """Cancel every pilot of this broker (when the broker stops)."""
        for ids in self.pilots().values():
            for job_id in ids:
                self.slurm.cancel_job(job_id)
