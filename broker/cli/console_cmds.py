"""``qcb ui``: the web console on this machine's own store (no service to run)."""

from __future__ import annotations

import threading

import click

from broker.cli.common import user_errors
from broker.config import Settings
from broker.errors import BrokerError

KEEP_SECONDS = 2.0
"""How often ``qcb ui`` looks for unfinished jobs that need the embedded runtime."""


def _keep_runtime(settings: Settings, stop: threading.Event) -> None:
    """Start the embedded runtime whenever a job is unfinished (it stops itself when idle,
    and a job submitted from the console does not start it, as ``qcb submit`` does)."""
    from broker.core import queries
    from broker.processes import runtime
    from broker.store.db import Database

    db = Database(settings.store_url)
    while not stop.wait(KEEP_SECONDS):
        try:
            if queries.active_jobs(db) and not runtime.is_running(settings):
                runtime.ensure_running(settings)
                runtime.nudge(settings)
        except BrokerError as exc:  # said once more on the next round; the page shows the job
            click.echo(f"qcb ui: {exc.message}", err=True)
    db.dispose()


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind.")
@click.option("--port", default=8000, show_default=True, help="Port to listen on.")
@click.option("--user", help="Who logs in (default: you, as qcb names you: QCB_USER).")
@click.option("--role", default="researcher", show_default=True,
              help="The token's role: researcher, committee or admin.")  # fmt: skip
@user_errors
def ui(host: str, port: int, user: str | None, role: str) -> None:
    """Open the web console on this machine's store (the embedded default, or the store
    of the QCB_* settings), until Ctrl-C.

    \b
    qcb ui              then open http://127.0.0.1:8000/ui/ and log in with the token shown
    qcb ui --role committee --port 8080

    It makes a token for USER that lasts a day (qcb token list shows it), serves the
    console and the REST API on HOST:PORT, and starts the embedded runtime whenever a job
    is unfinished. Needs the service extra: pip install 'qcbroker[service]'.
    """
    try:
        import fastapi  # noqa: F401
        import jinja2  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError as exc:
        raise BrokerError(
            f"the console needs {exc.name}, which is not installed",
            hint="pip install 'qcbroker[service]' (or make test, which installs everything)",
        ) from None
    from broker.processes.up import serve
    from broker.service import tokens
    from broker.store.db import Database

    settings = Settings()
    user = user or settings.user
    db = Database(settings.store_url)
    _, secret = tokens.create(
        db, user=user, role=role, created_by=user, note="qcb ui", expires_days=1.0
    )
    db.dispose()
    click.echo(f"console: http://{host}:{port}/ui/  (Ctrl-C stops it)")
    click.echo(f"log in as {user} ({role}) with this token, valid for a day:\n  {secret}")
    stop = threading.Event()
    keeper = threading.Thread(target=_keep_runtime, args=(settings, stop), daemon=True)
    keeper.start()
    try:
        serve(settings, host, port)
    finally:
        stop.set()


COMMANDS = [ui]
