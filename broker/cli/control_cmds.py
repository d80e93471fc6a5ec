"""``qcb retry``, ``requeue``, ``hold`` and ``release``: a job stopped, run again, or kept
waiting, as Slurm's ``scontrol requeue``, ``hold`` and ``release``."""

from __future__ import annotations

import click

from broker.cli.common import client as _client
from broker.cli.common import user_errors

backend_option = click.option(
    "--backend", "-b", metavar="NAME", help="Quantum backend to use instead of the file's."
)
"""``-b NAME``: another quantum backend than the job's."""


@click.command()
@click.argument("job_id")
@backend_option
@user_errors
def retry(job_id: str, backend: str | None) -> None:
    """Resume a failed or cancelled JOB_ID from its checkpoint: a new job (on another
    --backend if given) starts at the last step the old one reached, with its algorithm's
    state (a VQE's parameters and optimizer); that step's completed tasks are not run or
    charged again. Prints the new job's id. `qcb requeue` starts over instead."""
    click.echo(_client().retry(job_id, backend=backend))


@click.command()
@click.argument("job_id")
@backend_option
@user_errors
def requeue(job_id: str, backend: str | None) -> None:
    """Submit JOB_ID again as it was submitted (on another --backend if given): a failed,
    cancelled or finished job runs anew under a new id, charged as any job; the old one
    stays as it is. Prints the new job's id."""
    click.echo(_client().requeue(job_id, backend=backend))


@click.command()
@click.argument("job_ids", nargs=-1, required=True, metavar="ID...")
@user_errors
def hold(job_ids: tuple[str, ...]) -> None:
    """Hold jobs, as scontrol hold: their pending tasks wait (queued and running ones go
    on) until `qcb release ID`. A job that has ended is left as it is."""
    client = _client()
    for job_id in job_ids:
        st = client.hold(job_id)
        click.echo(f"{st.id}  {st.state.value}  " + ("held" if st.held_by else "(ended)"))


@click.command()
@click.argument("job_ids", nargs=-1, required=True, metavar="ID...")
@user_errors
def release(job_ids: tuple[str, ...]) -> None:
    """Release held jobs: their pending tasks may start."""
    client = _client()
    for job_id in job_ids:
        st = client.release(job_id)
        click.echo(f"{st.id}  {st.state.value}")


COMMANDS = [retry, requeue, hold, release]
