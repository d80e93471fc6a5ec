"""``slurm-pilot``: classical tasks run inside pilot jobs that already hold Slurm nodes.

A pilot is a Slurm job that hosts a broker worker consuming the ``classical.slurm-pilot``
queue for its wall time (the program is :mod:`broker.processes.pilot_job`; the scheduler starts and
scales pilots). Inside it, this backend starts each task like ``local`` does — a runner
process recording its outcome in the task directory — and a parallel task as an ``srun``
step inside the pilot's allocation. So the many short classical steps of an iterative
algorithm start in milliseconds instead of waiting for Slurm's scheduler each time.

Options (in the backends file): ``slurm_conf``, ``workdir`` (shared), ``python``,
``partition``, ``chroot`` (as for ``slurm``), ``min_pilots`` (0), ``max_pilots`` (2),
``pilot_nodes`` (1), ``slots`` (tasks per pilot, 2), ``walltime_s`` (1800), ``drain_s``
(stop taking tasks this long before the wall time, 120), ``idle_s`` (a pilot beyond
``min_pilots`` exits after this long with no work, 60).
"""

from __future__ import annotations

import json
import os
from typing import Any, ClassVar

from backends.base import Capabilities, ClassicalResult, ClassicalSpec
from backends.local import LocalBackend
from backends.options import BackendOptions
from backends.slurm import requests
from backends.slurm.cli import SlurmBackend, chroot_argv
from backends.slurm.options import PilotOptions, SlurmPilotOptions

__all__ = ["PilotOptions", "SlurmPilotBackend", "SlurmPilotOptions"]


class SlurmPilotBackend(LocalBackend):
    """Runs classical tasks inside a pilot job's allocation (see the module docstring), with
    the options of :class:`~backends.slurm.options.SlurmPilotOptions`."""

    name = "slurm-pilot"
    charge_unit = "node_hours"
    hosted = True
    Options: ClassVar[type[SlurmPilotOptions]] = SlurmPilotOptions
    config: SlurmPilotOptions

    def __init__(self, config: BackendOptions | None = None, /, **options: Any) -> None:
        super().__init__(config, **options)
        self.pilot = self.config.pilot()

    def submitter(self, workdir: str) -> SlurmBackend:
        """The ``slurm`` backend that submits this backend's pilots (their directories under
        ``workdir``), configured from this backend's options."""
        return SlurmBackend(**{**self.config.submitter(), "workdir": workdir})

    def capabilities(self) -> Capabilities:
        """As many tasks at once as all pilots have slots."""
        return Capabilities(
            kind="classical",
            version=f"pilot on {os.environ.get('SLURM_CLUSTER_NAME', 'slurm')}",
            max_concurrency=self.pilot.max_pilots * self.pilot.slots,
            details={"pilot": self.pilot.model_dump()},
        )

    def refusal(self, spec: ClassicalSpec) -> str | None:
        """A task larger than one pilot's allocation."""
        if spec.nodes > self.pilot.pilot_nodes:
            return (
                f"asks for {spec.nodes} nodes; a pilot holds {self.pilot.pilot_nodes} "
                "(the slurm-pilot backend's pilot_nodes option)"
            )
        if spec.time_limit_s is not None and spec.time_limit_s > self.pilot.walltime_s:
            return (
                f"asks for a time limit of {spec.time_limit_s} s; a pilot lives "
                f"{self.pilot.walltime_s} s (walltime_s)"
            )
        return None

    def platform_environment(self) -> dict[str, str]:
        """The pilot's allocation (``SLURM_*``: where it is, so that ``srun`` starts a
        parallel task's steps inside it); nothing else of the pilot's environment."""
        return {k: v for k, v in os.environ.items() if k.startswith("SLURM_")}

    def extra_files(self, spec: ClassicalSpec) -> dict[str, str]:
        """An explicit ``srun`` step for parallel tasks, inside the pilot's allocation
        (the ``chroot`` option's ``srun`` when this process runs outside that tree: a pilot
        job of a chroot release runs inside it and takes its own)."""
        launcher = requests.launcher(spec, explicit=True)
        root = self.config.chroot
        if launcher and root and os.path.isfile(os.path.join(root, "usr/bin/srun")):
            launcher = chroot_argv(root, launcher, None)
        return {"launcher.json": json.dumps(launcher)} if launcher else {}

    def usage(self, spec: ClassicalSpec, elapsed_s: float) -> dict[str, float]:
        """Node-hours: the task's share of the pilot (its nodes x its hours)."""
        return {self.charge_unit: spec.nodes * elapsed_s / 3600}

    def result(self, native_id: str) -> ClassicalResult:
        """As ``local``, placed on the pilot's node."""
        result = super().result(native_id)
        if "SLURMD_NODENAME" in os.environ:
            result.nodes = [os.environ["SLURMD_NODENAME"]]
        return result
