"""A whole service deployment on this host, in child processes: a private Redis, the API,
the scheduler and workers, on a store you name (a fresh PostgreSQL database by default).

For the tests, the benchmarks and for trying the service mode; ``qcb up`` is the one to use
for real work. Each process can be stopped, killed and restarted on its own, which is how
the tests check that a job survives a restart of any of them.

    with LocalStack(workers=2) as stack:
        client = stack.client("root")          # an admin token's client
        job = client.submit("examples/vqe_h2.yaml")
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from broker.config import Settings, ensure_home

SERVICES_RUN = Path(os.environ.get("QCB_SERVICES_RUN", "/tmp/qcb-services"))
"""Where ``docker/services/start.sh`` keeps its PostgreSQL, Redis and their passwords."""


def pg_admin_url() -> str:
    """Where fresh databases are created: ``QCB_TEST_PG_URL``, else the password-protected
    cluster that ``docker/services/start.sh`` runs (its URL is in a file only root reads)."""
    if os.environ.get("QCB_TEST_PG_URL"):
        return os.environ["QCB_TEST_PG_URL"]
    path = SERVICES_RUN / "pg.url"
    try:
        return path.read_text().strip()
    except OSError:
        raise RuntimeError(
            f"no PostgreSQL for the tests ({path} is missing): run docker/services/start.sh"
        ) from None


def free_port() -> int:
    """A TCP port nobody listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def new_password() -> str:
    """A fresh password, recognizable as one (``qcbsecret-`` and 32 hex digits), so that a
    test can search whatever a hostile task obtained for any such string."""
    return f"qcbsecret-{secrets.token_hex(16)}"


def create_database(admin_url: str | None = None) -> str:
    """Create an empty PostgreSQL database owned by a new role of the same name with a
    password of its own; return its URL (the deployment knows nothing of the admin's)."""
    admin_url = admin_url or pg_admin_url()
    name = f"qcb_{uuid.uuid4().hex[:12]}"
    password = new_password()  # letters, digits and -: safe in the SQL below
    engine = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f"CREATE ROLE \"{name}\" LOGIN PASSWORD '{password}'"))
        conn.execute(text(f'CREATE DATABASE "{name}" OWNER "{name}"'))
    engine.dispose()
    url = make_url(admin_url).set(database=name, username=name, password=password)
    return url.render_as_string(hide_password=False)


def drop_database(url: str, admin_url: str | None = None) -> None:
    """Drop a database made by :func:`create_database` (closing its connections) and its
    role."""
    name = make_url(url).database
    engine = create_engine(admin_url or pg_admin_url(), isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'DROP ROLE IF EXISTS "{name}"'))
    engine.dispose()


class RedisServer:
    """A private ``redis-server`` on a free port (nothing kept on disk), restartable, that
    takes no command without its password (kept in a file only its owner reads, never on
    a command line: every account can read those)."""

    def __init__(self, workdir: Path) -> None:
        if shutil.which("redis-server") is None:
            raise RuntimeError("redis-server is not installed: run docker/services/start.sh")
        self.port = free_port()
        self.workdir = workdir
        self.password = new_password()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """Its URL for Celery (database 0), password included."""
        return f"redis://:{self.password}@127.0.0.1:{self.port}/0"

    def start(self) -> RedisServer:
        """Start it and wait until it answers."""
        self.workdir.mkdir(parents=True, exist_ok=True, mode=0o700)
        config = self.workdir / "redis.conf"
        fd = os.open(config, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(
                f"port {self.port}\nbind 127.0.0.1\nrequirepass {self.password}\n"
                f'save ""\nappendonly no\ndir {self.workdir}\n'
            )
        log = open(self.workdir / "redis.log", "ab")  # noqa: SIM115 - the child keeps it
        self.process = subprocess.Popen(["redis-server", str(config)], stdout=log, stderr=log)
        _wait_port(self.port, 10.0)
        return self

    def stop(self) -> None:
        """Stop it (SIGTERM, then SIGKILL)."""
        _terminate(self.process)
        self.process = None


def _wait_port(port: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.5):
            return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listens on port {port} after {timeout} s")


def _terminate(process: subprocess.Popen[bytes] | None, timeout: float = 30.0) -> None:
    if process is None or process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


class LocalStack:
    """Redis, the API, the scheduler and ``workers`` workers, as child processes.

    Args:
        workdir: home of the deployment (logs, task folders); a temporary folder if None.
        database_url: the store; a fresh PostgreSQL database (dropped at exit) if None.
        workers: worker processes, each consuming ``queues`` (default: every backend).
        api_workers: processes of the API.
        env: extra environment for every process (``QCB_BACKENDS_FILE``, ...).
    """

    def __init__(
        self,
        workdir: Path,
        *,
        database_url: str | None = None,
        workers: int = 2,
        api_workers: int = 1,
        queues: list[str] | None = None,
        env: dict[str, str] | None = None,
        settings: dict[str, Any] | None = None,
    ) -> None:
        self.workdir = workdir
        self.redis = RedisServer(workdir / "redis")
        self._own_db = database_url is None
        self.database_url = database_url or create_database()
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.settings = Settings(
            home=workdir / "home",
            database_url=self.database_url,
            broker_url=self.redis.url,
            **{"driver_url": self.url, **(settings or {})},
        )
        self.env = {**os.environ, **(env or {}), **self.settings.env()}
        for name in ("QCB_URL", "QCB_TOKEN"):
            self.env.pop(name, None)
        from broker.processes.runtime import worker_queues

        self.queues = queues or worker_queues()
        self.processes: dict[str, subprocess.Popen[bytes]] = {}
        self.workers = [f"worker{n + 1}" for n in range(workers)]
        self.api_workers = api_workers
        self.tokens: dict[str, str] = {}

    def _argv(self, name: str) -> list[str]:
        qcb = [sys.executable, "-m", "broker.cli"]
        if name == "api":
            return [*qcb, "serve", "--port", str(self.port), "-w", str(self.api_workers)]
        if name == "scheduler":
            return [*qcb, "scheduler"]
        return [*qcb, "worker", "--queues", ",".join(self.queues)]

    def start(self, name: str) -> None:
        """Start one process: ``api``, ``scheduler`` or ``workerN``."""
        logs = self.workdir / "logs"
        logs.mkdir(parents=True, exist_ok=True, mode=0o700)
        log = open(logs / f"{name}.log", "ab")  # noqa: SIM115 - the child keeps it
        self.processes[name] = subprocess.Popen(
            self._argv(name), env=self.env, stdout=log, stderr=log, start_new_session=True
        )
        if name == "api":
            from broker.processes.up import wait_for_api

            wait_for_api(self.url, timeout=60)

    def stop(self, name: str, *, kill: bool = False) -> None:
        """Stop one process: SIGTERM (a worker finishes its running tasks), or SIGKILL."""
        process = self.processes.pop(name, None)
        if process is None:
            return
        if kill:
            process.kill()
            process.wait()
        else:
            _terminate(process)

    def restart(self, name: str, *, kill: bool = False) -> None:
        """Stop then start one process (``redis`` too)."""
        if name == "redis":
            self.redis.stop()
            self.redis.start()
            return
        self.stop(name, kill=kill)
        self.start(name)

    def token(self, user: str, role: str = "researcher") -> str:
        """A token for ``user`` (made once per user)."""
        if user not in self.tokens:
            from broker.service import tokens
            from broker.store.db import Database

            db = Database(self.database_url)
            _, self.tokens[user] = tokens.create(db, user=user, role=role, created_by="stack")
            db.dispose()
        return self.tokens[user]

    def client(self, user: str, role: str = "researcher") -> Any:
        """A remote :class:`broker.Client` acting as ``user``."""
        from broker.service.remote import RemoteClient

        return RemoteClient(url=self.url, token=self.token(user, role))

    def __enter__(self) -> LocalStack:
        ensure_home(self.settings)  # the task folder inside it: other accounts pass through
        self.redis.start()
        from broker.store.db import Database

        Database(self.database_url).dispose()  # migrate once, before the processes race
        for name in ["api", "scheduler", *self.workers]:
            self.start(name)
        return self

    def __exit__(self, *_: object) -> None:
        for name in list(self.processes):
            self.stop(name)
        self.redis.stop()
        if self._own_db:
            drop_database(self.database_url)

    def log(self, name: str) -> str:
        """The log of one process so far (for failure messages)."""
        path = self.workdir / "logs" / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""
