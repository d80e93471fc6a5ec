"""Settings, from the environment (``QCB_*``) with defaults for the embedded mode."""

from __future__ import annotations

import getpass
import os
from pathlib import Path

import platformdirs
from pydantic import Field
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    YamlConfigSettingsSource,
)

from broker.limits import Limits

DEFAULT_POLICY = Path(__file__).resolve().parent.parent / "policies" / "examples" / "default.yaml"


CONFIG_VARIABLE = "QCB_CONFIG"

ROOT_HOME = Path("/var/lib/qcbroker")
"""The default home of a broker run as root (its task accounts pass through it)."""


def _check_settings_file(path: Path) -> None:
    """Refuse a settings file that is missing, not text or not a YAML mapping, before
    pydantic-settings reads it (``InvalidSettings`` naming what to do)."""
    import yaml

    from broker.errors import InvalidSettings
    from broker.textfile import read_text

    hint = f"unset {CONFIG_VARIABLE}, or point it at a YAML file of settings (field: value)"
    text = read_text(path, f"settings file ({CONFIG_VARIABLE})", max_bytes=1 << 20,
                     error=InvalidSettings, hint=hint)  # fmt: skip
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise InvalidSettings(f"{CONFIG_VARIABLE} file {path} is not valid YAML: {exc}") from None
    if data is not None and not isinstance(data, dict):
        raise InvalidSettings(f"{CONFIG_VARIABLE} file {path} is not a mapping", hint=hint)


def default_home() -> Path:
    """Where the broker keeps its state unless ``QCB_HOME`` says otherwise: the user data
    folder (``~/.local/share/qcbroker``), or ``/var/lib/qcbroker`` for root, whose home
    folder other accounts (which run its users' classical tasks) cannot pass through.
    ``make demo``, ``qcb`` and the SDK all use it."""
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        return ROOT_HOME
    return platformdirs.user_data_path("qcbroker")


class Settings(BaseSettings):
    """Where the broker keeps its state and how its processes talk.

    Every field can be set by an environment variable ``QCB_<FIELD>``, e.g.
    ``QCB_HOME=/scratch/qcb`` or ``QCB_BROKER_URL=redis://127.0.0.1:6379/0``, or in a YAML
    file named by ``QCB_CONFIG`` (``broker_url: redis://...``, one field per line).
    The environment wins over the file.
    """

    model_config = SettingsConfigDict(env_prefix="QCB_", extra="forbid")

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Arguments, then ``QCB_*`` variables, then the file named by ``QCB_CONFIG``."""
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        config = os.environ.get(CONFIG_VARIABLE)
        if config:
            _check_settings_file(Path(config))
            sources.append(YamlConfigSettingsSource(settings_cls, yaml_file=Path(config)))
        return tuple(sources)

    home: Path = Field(
        default_factory=default_home,
        description="Directory for the job store, the embedded queue, logs and task files "
        "(default: ~/.local/share/qcbroker; /var/lib/qcbroker for root).",
    )
    database_url: str | None = Field(
        default=None, description="SQLAlchemy URL of the job store; default: SQLite in home."
    )
    broker_url: str = Field(
        default="filesystem://",
        description="Celery transport. filesystem:// is the embedded one (a folder in home).",
    )
    policy_file: Path = Field(default=DEFAULT_POLICY, description="The policy file in force.")
    backends_file: Path | None = Field(
        default=None,
        description="YAML file of options per backend ({slurm: {workdir: ...}, ...}).",
    )
    user: str = Field(default_factory=getpass.getuser, description="Who submits (embedded).")
    url: str | None = Field(
        default=None,
        description="A qcbroker API (e.g. https://qcb.example.org): the SDK and CLI then work "
        "against it instead of a local store.",
    )
    token: str | None = Field(default=None, description="Bearer token for the API at url.")
    driver_url: str | None = Field(
        default=None,
        description="The API that driver programs call back (service mode), as reached from "
        "the classical backend's nodes; unset: drivers use the store directly (embedded).",
    )
    task_accounts: str = Field(
        default="auto",
        description="Which Unix account runs each user's classical tasks: auto (create when "
        "root, else self), self, create, same-name, or the path of a mapping file (see "
        "broker.accounts).",
    )
    worker_concurrency: int = Field(
        default=4,
        ge=1,
        description="Tasks one worker follows at once (threads: most wait on Slurm or a "
        "provider; each backend's capacity bounds how many of its tasks run).",
    )
    lease_seconds: float = Field(
        default=6.0, gt=0, description="A worker silent for this long is taken for dead."
    )
    redispatch_seconds: float = Field(
        default=20.0, gt=0, description="Re-send a released task nobody claimed for this long."
    )
    idle_shutdown_seconds: float = Field(
        default=30.0, gt=0, description="The embedded runtime stops after this long with no work."
    )
    poll_seconds: float = Field(default=0.02, gt=0, description="Polling period of loops.")
    scheduler_seconds: float = Field(
        default=0.2, gt=0, description="Period of the service scheduler's tick (qcb scheduler)."
    )

    max_body_bytes: int = Field(
        default=8 << 20, ge=1024, description="Largest API request body in bytes (413 beyond)."
    )
    max_depth: int = Field(default=64, ge=4, description="Deepest nesting of a job or body.")
    max_values: int = Field(
        default=200_000, ge=100, description="Most values (numbers, strings...) in one document."
    )
    max_observables: int = Field(
        default=10_000, ge=1, description="Most observables in one quantum task."
    )
    max_evaluations: int = Field(
        default=200_000,
        ge=1,
        description="Most results (parameter sets x observables) per task or job step.",
    )
    max_circuit_depth: int | None = Field(
        default=100_000, ge=1, description="Deepest circuit a job may send (unset: no limit)."
    )
    max_streams_per_user: int = Field(
        default=20, ge=1, description="Event streams one user may hold open at once (429 beyond)."
    )

    @property
    def limits(self) -> Limits:
        """The input limits of this deployment (:mod:`broker.limits`)."""
        return Limits(
            body_bytes=self.max_body_bytes,
            depth=self.max_depth,
            values=self.max_values,
            observables=self.max_observables,
            evaluations=self.max_evaluations,
            circuit_depth=self.max_circuit_depth,
        )

    def env(self) -> dict[str, str]:
        """These settings as ``QCB_*`` variables, for a child process (or a pilot job)."""
        return {
            f"QCB_{name.upper()}": str(value)
            for name, value in self.model_dump().items()
            if value is not None
        }

    @property
    def store_url(self) -> str:
        """The job store's SQLAlchemy URL."""
        return self.database_url or f"sqlite:///{self.home / 'qcb.sqlite'}"

    @property
    def run_dir(self) -> Path:
        """PID files, locks and logs of the embedded runtime."""
        return self.home / "run"

    @property
    def queue_dir(self) -> Path:
        """The embedded transport's message folder."""
        return self.home / "queue"

    @property
    def task_dir(self) -> Path:
        """Working directories of local classical tasks."""
        return self.home / "tasks"


PRIVATE_UMASK = 0o077
"""The broker's processes make every file and folder theirs alone (logs, the SQLite store,
the queue, runtime files); task folders are opened explicitly, as far as tasks need."""


def private_files() -> None:
    """Set this process's umask so that what it creates is readable by its account only."""
    os.umask(PRIVATE_UMASK)


def ensure_home(settings: Settings) -> Path:
    """The broker's home folder, made if missing. When it is the broker's own, other accounts
    may pass through it (mode 0711, no listing) to their task directories in ``tasks/``;
    everything else in it is private."""
    home = settings.home
    home.mkdir(parents=True, exist_ok=True)
    info = home.stat()
    if info.st_uid == os.geteuid() and info.st_mode & 0o777 != 0o711:
        home.chmod(0o711)
    return home
