"""``qcb serve | scheduler | worker | up``: the service's processes; ``qcb token`` and
``qcb db``: what an admin of a deployment does."""

from __future__ import annotations

import os
import sys

import click
from rich.console import Console
from rich.table import Table

from broker.cli.common import dump, user_errors
from broker.config import Settings

_host = click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind.")
_port = click.option("--port", default=8000, show_default=True, help="Port to listen on.")


def _queues(value: str | None) -> list[str]:
    from broker.processes.runtime import worker_queues

    return [q.strip() for q in value.split(",") if q.strip()] if value else worker_queues()


@click.command()
@_host
@_port
@click.option(
    "--workers", "-w", default=1, show_default=True, help="API processes sharing the port."
)
@user_errors
def serve(host: str, port: int, workers: int) -> None:
    """Run the REST API (FastAPI) for the store and transport in the settings.

    \b
    QCB_DATABASE_URL=postgresql+psycopg://qcb@db/qcb QCB_BROKER_URL=redis://redis:6379/0 \\
        qcb serve --host 0.0.0.0
    OpenAPI: http://HOST:PORT/v1/docs. Requests need a bearer token (qcb token create).
    """
    from broker.processes.up import serve as run

    run(Settings(), host, port, workers)


@click.command()
@user_errors
def scheduler() -> None:
    """Run the scheduler: releases tasks to the workers' queues in policy order, re-sends
    lost messages, hands the tasks of dead workers to live ones, scales pilot jobs.

    One is enough per deployment; a second one is harmless (they take turns).
    """
    from broker.processes.up import run_scheduler

    run_scheduler(Settings())


@click.command()
@click.option(
    "--queues",
    "-Q",
    metavar="Q1,Q2",
    help="Queues to consume, e.g. quantum.aer,classical.slurm (default: every backend here).",
)
@click.option(
    "--concurrency", "-c", type=int, help="Tasks at once (default: QCB_WORKER_CONCURRENCY)."
)
@user_errors
def worker(queues: str | None, concurrency: int | None) -> None:
    """Run a Celery worker on QUEUES (quantum.<backend>, classical.<backend>).

    Start as many as you like, on any host that sees the same store and Redis. A worker
    that dies is noticed within QCB_LEASE_SECONDS and its tasks go to another, which
    re-attaches to their Slurm or provider jobs instead of submitting them again.
    """
    from broker.processes.up import worker_argv

    settings = Settings()
    argv = worker_argv(settings, _queues(queues), concurrency)
    sys.stdout.flush()
    os.execvpe(argv[0], argv, {**os.environ, **settings.env()})


@click.command()
@_host
@_port
@click.option("--workers", "-w", default=2, show_default=True, help="Worker processes.")
@click.option("--queues", "-Q", metavar="Q1,Q2", help="Queues of the workers (default: all).")
@user_errors
def up(host: str, port: int, workers: int, queues: str | None) -> None:
    """Start the API, the scheduler and WORKERS workers on this host, restart any that
    exits, and stop them all on Ctrl-C. Needs QCB_BROKER_URL (Redis) and QCB_DATABASE_URL
    (PostgreSQL) shared by all of them; see docker/compose.yaml for several hosts."""
    from broker.processes.up import Up

    settings = Settings()
    if settings.broker_url.startswith("filesystem://"):
        Console(stderr=True).print(
            "note: QCB_BROKER_URL is the embedded filesystem transport; set "
            "QCB_BROKER_URL=redis://HOST:6379/0 for workers on several hosts"
        )
    sys.exit(Up(settings, host=host, port=port, workers=workers, queues=_queues(queues)).run())


@click.group()
def token() -> None:
    """Create, list and revoke API tokens (admins).

    On the service's host these work on its store directly; with QCB_URL and an admin's
    QCB_TOKEN they go through the API.
    """


@token.command("create")
@click.argument("user")
@click.option("--role", default="researcher", show_default=True,
              help="researcher, committee or admin (a PI is a researcher).")  # fmt: skip
@click.option("--note", default="", help="What the token is for.")
@click.option("--expires-days", type=float, help="Expire after this many days.")
@user_errors
def token_create(user: str, role: str, note: str, expires_days: float | None) -> None:
    """Create a token for USER and print it (it is shown only this once)."""
    settings = Settings()
    if settings.url:
        from broker.service.remote import RemoteClient

        token_id, secret = RemoteClient(settings).create_token(user, role, note, expires_days)
    else:
        from broker.service import tokens
        from broker.store.db import Database

        token_id, secret = tokens.create(
            Database(settings.store_url), user=user, role=role, created_by=settings.user,
            note=note, expires_days=expires_days,
        )  # fmt: skip
    Console(stderr=True).print(f"token {token_id} for {user} ({role}); keep it secret:")
    click.echo(secret)


@token.command("revoke")
@click.argument("token_id")
@user_errors
def token_revoke(token_id: str) -> None:
    """Revoke TOKEN_ID at once."""
    settings = Settings()
    if settings.url:
        from broker.service.remote import RemoteClient

        RemoteClient(settings).revoke_token(token_id)
    else:
        from broker.service import tokens
        from broker.store.db import Database

        tokens.revoke(Database(settings.store_url), token_id, by=settings.user)
    click.echo(f"{token_id} revoked")


@token.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@user_errors
def token_list(as_json: bool) -> None:
    """List tokens (never their secrets)."""
    from broker.service import tokens
    from broker.store.db import Database

    found = tokens.listing(Database(Settings().store_url))
    if as_json:
        dump([vars(t) for t in found])
        return
    table = Table("id", "user", "role", "created", "by", "state", "note")
    for t in found:
        state = (
            "revoked"
            if t.revoked_at
            else ("expires " + str(t.expires_at)[:16] if t.expires_at else "active")
        )
        table.add_row(t.id, t.user, t.role, str(t.created_at)[:16], t.created_by, state, t.note)
    Console().print(table)


@click.group()
def db() -> None:
    """The job store's schema (Alembic migrations)."""


@db.command("upgrade")
@user_errors
def db_upgrade() -> None:
    """Create the store if it does not exist (a PostgreSQL database: needs the right to
    create one) and bring it to the newest schema. The processes also migrate when they
    start; this is for doing it once, before them."""
    from broker.store import migrate
    from broker.store.db import Database, ensure_database

    url = Settings().store_url
    if ensure_database(url):
        click.echo("created the database")
    database = Database(url)
    click.echo(f"store at revision {migrate.current(database.engine)}")


COMMANDS = [serve, scheduler, worker, up, token, db]
