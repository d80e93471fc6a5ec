"""Options of the Slurm backends: what ``slurm`` and ``slurmrest`` share, each one's own, and
``slurm-pilot``'s (a local runner inside a pilot job, whose pilots a ``slurm`` backend
submits: its options include what that backend needs)."""

from __future__ import annotations

import os
import sys
from typing import Annotated, Literal, get_args

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, SecretStr

from backends.local import Environment, LocalOptions
from backends.options import BackendOptions, PositiveCount

DEFAULT_WORKDIR = "/tmp/qcb-slurm/jobs"

ApiVersion = Literal["v0.0.38", "v0.0.40", "v0.0.41", "v0.0.42", "v0.0.43", "v0.0.44", "v0.0.45"]
# The OpenAPI versions of slurmctld's plugin the broker speaks, oldest first: v0.0.38 is
# Slurm 22.05's; 23.11 serves v0.0.38-v0.0.40... newer releases drop the oldest.
API_VERSIONS: tuple[str, ...] = get_args(ApiVersion)


def _no_percent(workdir: str) -> str:
    if "%" in workdir:  # Slurm would expand it in --output (%j, %u, ...)
        raise ValueError(f"may not contain '%' (Slurm expands it): {workdir}")
    return workdir


class SlurmOptions(BackendOptions):
    """Options both ``slurm`` and ``slurmrest`` take."""

    workdir: Annotated[str, AfterValidator(_no_percent)] = DEFAULT_WORKDIR
    """Where task directories go, on a file system the cluster's nodes and the broker see."""
    python: str = Field(default_factory=lambda: sys.executable)
    """The Python on the cluster that has qcbroker installed (default: this one)."""
    account: str | None = None
    """A fixed Slurm account (default: the task's own, its job's proposal)."""
    max_concurrency: PositiveCount = 32
    """Tasks the broker keeps on the cluster at once."""
    poll_seconds: float = Field(default=0.25, gt=0)
    """Interval between status calls."""
    environment: Environment | None = None
    """Variables every task gets (e.g. ``PYTHONPATH`` of a site's libraries)."""


class SlurmCliOptions(SlurmOptions):
    """Options of ``slurm`` (Slurm's command-line tools)."""

    slurm_conf: str | None = None
    """The ``SLURM_CONF`` the tools use (default: Slurm's own default)."""
    tool_timeout: float = Field(default=30.0, gt=0)
    """Seconds a Slurm tool may take to answer."""
    chroot: str | None = None
    """A directory tree holding the cluster's own client tools (another release than the
    host's): they run there, as the task's account (``chroot --userspec``)."""


class SlurmRestOptions(SlurmOptions):
    """Options of ``slurmrest`` (slurmrestd's REST API, with a JWT)."""

    url: str = "http://127.0.0.1:6820"
    """slurmrestd's URL."""
    user: str | None = None
    """The Slurm user the token is for (default: ``$USER``)."""
    token: SecretStr | None = None
    """The broker's JWT (or give ``token_file``)."""
    token_file: str | None = None
    """A file holding the JWT, re-read on every 401 (a rotated token is picked up)."""
    jwt_key: str | None = None
    """The cluster's JWT key (mode 600): each task is submitted with a token of its own
    account."""
    api_version: Literal["auto", ApiVersion] = "auto"
    """The OpenAPI version: ``auto``, the newest both sides speak, or one to pin."""
    timeout: float = Field(default=30.0, gt=0)
    """Seconds an HTTP call may take."""
    slurmdb: bool | None = None
    """Whether slurmrestd serves slurmdbd's plugin (default: asked with ``auto``, else
    yes)."""


class PilotOptions(BaseModel):
    """The pilot settings of the ``slurm-pilot`` backend's options, defined once here:
    :class:`SlurmPilotOptions` takes these fields."""

    model_config = ConfigDict(extra="ignore", use_attribute_docstrings=True)

    min_pilots: int = Field(default=0, ge=0)
    """Pilots kept even without work."""
    max_pilots: int = Field(default=2, ge=1)
    """The most pilots at once."""
    pilot_nodes: int = Field(default=1, ge=1)
    """Nodes each pilot holds."""
    slots: int = Field(default=2, ge=1)
    """Tasks each pilot runs at once."""
    walltime_s: int = Field(default=1800, ge=60)
    """A pilot's wall time."""
    drain_s: int = Field(default=120, ge=0)
    """A pilot stops taking tasks this long before its wall time."""
    idle_s: float = Field(default=60, gt=0)
    """A pilot beyond ``min_pilots`` exits after this long with no work."""
    partition: str | None = None
    """The partition pilots run in (default: the cluster's default)."""
    python: str = Field(default_factory=lambda: sys.executable)
    """The Python on the cluster that has qcbroker installed (default: this one)."""


class SlurmPilotOptions(LocalOptions, PilotOptions):
    """Options of ``slurm-pilot``: how tasks run inside a pilot (as ``local``), the pilots
    themselves (:class:`PilotOptions`), and the ``slurm`` backend that submits them."""

    model_config = LocalOptions.model_config  # unknown options refused, as for every backend

    workdir: str | None = os.path.join(DEFAULT_WORKDIR, "pilot-tasks")
    """Where task directories go (shared with the cluster)."""
    warm_runner: bool = True
    """Keep a runner started and idle: tasks start without a Python start-up."""
    slurm_conf: str | None = None
    """The ``SLURM_CONF`` for submitting pilots (as for ``slurm``)."""
    chroot: str | None = None
    """The cluster's own client tools (as for ``slurm``); also where parallel tasks find
    ``srun`` when the pilot runs outside that tree."""
    tool_timeout: float = Field(default=30.0, gt=0)
    """Seconds a Slurm tool may take to answer (as for ``slurm``)."""
    account: str | None = None
    """A fixed Slurm account for the pilots (as for ``slurm``)."""
    poll_seconds: float = Field(default=0.25, gt=0)
    """Interval between status calls (as for ``slurm``)."""

    def pilot(self) -> PilotOptions:
        """The pilot settings alone."""
        return PilotOptions.model_validate(self.model_dump(include=set(PilotOptions.model_fields)))

    def submitter(self) -> dict[str, object]:
        """The options of the ``slurm`` backend that submits the pilots, as given."""
        shared = set(self.model_fields_set) & set(SlurmCliOptions.model_fields)
        return self.model_dump(include=shared)
