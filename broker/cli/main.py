"""``qcb``: submit hybrid jobs, follow them, and read their results."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from rich.console import Console

from broker.cli.accounts_cmds import accounts
from broker.cli.allocation_cmds import explain, usage
from broker.cli.common import client as _client
from broker.cli.common import dump as _dump
from broker.cli.common import user_errors
from broker.cli.policy_admin import COMMANDS as POLICY_ADMIN
from broker.cli.policy_cmds import policy
from broker.cli.render import JobProgress, jobs_table, summary
from broker.cli.service_cmds import COMMANDS as SERVICE
from broker.config import private_files
from broker.errors import BrokerError
from broker.jobfile import load_job


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="qcbroker")
def cli() -> None:
    """Run hybrid quantum-classical jobs under an allocation proposal.

    A job file (YAML) names the proposal to charge, the algorithm with its inputs, and the
    backend for its quantum tasks. Start with:

    \b
        qcb run examples/vqe_h2.yaml            submit, follow, print the result
        qcb run examples/vqe_h2.yaml --json     the finished job as one JSON object
        qcb submit FILE; qcb status ID          submit now, look later
        qcb jobs                                your recent jobs

    Everything runs on this machine by default (no server): qcb starts a scheduler and a
    Celery worker itself and stops them when idle. State lives in $QCB_HOME.

    Against a qcbroker service, set QCB_URL and QCB_TOKEN: the same commands then go
    through its REST API. Running a service: qcb up (one host), or qcb serve, qcb
    scheduler and qcb worker on several; qcb token create USER for each user.
    """


_backend_option = click.option(
    "--backend", "-b", metavar="NAME", help="Quantum backend to use instead of the file's."
)


@cli.command()
@click.argument("file", type=click.Path(path_type=Path))
@_backend_option
@click.option("--json", "as_json", is_flag=True, help="Print the finished job as JSON only.")
@click.option("--timeout", type=float, default=None, help="Give up following after SECONDS.")
@user_errors
def run(file: Path, backend: str | None, as_json: bool, timeout: float | None) -> None:
    """Submit FILE and follow it to the end, with a progress bar.

    Exits 0 when the job completes, 1 when it fails or is cancelled.
    """
    client = _client()
    spec = load_job(file, {"backend": backend})
    job_id = client.submit(spec)
    if as_json:
        status = client.wait(job_id, timeout=timeout)
    else:
        console = Console(stderr=True)
        console.print(f"submitted job [bold]{job_id}[/] under proposal {spec.proposal}")
        with JobProgress(console, spec.name or spec.algorithm.name) as bar:
            status = client.wait(job_id, timeout=timeout, on_progress=bar.update)
    if not status.state.final:
        raise BrokerError(
            f"job {job_id} is still {status.state.value} after {timeout} s",
            hint=f"it keeps running; `qcb status {job_id}` follows it",
        )
    result = client.result(job_id)
    client.shutdown(if_idle=True)
    if as_json:
        click.echo(
            result.model_dump_json(
                indent=2, include={"id", "state", "result", "message", "charges", "lineage"}
            )
        )
    else:
        click.echo(summary(result))
    sys.exit(0 if result.state.value == "COMPLETED" else 1)


@cli.command()
@click.argument("file", type=click.Path(path_type=Path))
@_backend_option
@user_errors
def submit(file: Path, backend: str | None) -> None:
    """Submit FILE and print the job id; the job runs in the background."""
    client = _client()
    click.echo(client.submit(load_job(file, {"backend": backend})))


@cli.command()
@click.argument("job_id")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@user_errors
def status(job_id: str, as_json: bool) -> None:
    """Show a job's state and progress."""
    st = _client().status(job_id)
    if as_json:
        click.echo(st.model_dump_json(indent=2))
        return
    click.echo(f"{st.id}  {st.state.value}  step {st.step}  {st.progress}")
    if st.message:
        click.echo(st.message)


@cli.command()
@click.argument("job_id")
@click.option("--json", "as_json", is_flag=True, help="Print JSON with charges and lineage.")
@click.option(
    "--plot",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also draw it into this PNG: convergence (VQE, QAOA), energy per iteration (SQD), "
    "the grid (sweep), reconstructed values (cutting), and when each task ran.",
)
@user_errors
def result(job_id: str, as_json: bool, plot: Path | None) -> None:
    """Show a finished job's result, charges and lineage.

    \b
    qcb result j-1234                 the summary
    qcb result j-1234 --json          everything, with the lineage
    qcb result j-1234 --plot run.png  draw it
    """
    client = _client()
    res = client.result(job_id)
    click.echo(res.model_dump_json(indent=2) if as_json else summary(res))
    if plot is not None:
        from broker.cli.result_plots import plot_result

        plot_result(res, client.status(job_id).algorithm, plot)
        if not as_json:
            click.echo(f"drawn in {plot}")


@cli.command()
@click.argument("job_id")
@user_errors
def cancel(job_id: str) -> None:
    """Cancel a job: pending tasks never start, running ones are stopped, holds released."""
    st = _client().cancel(job_id)
    click.echo(f"{st.id}  {st.state.value}")


@cli.command()
@click.option("--limit", default=20, show_default=True, help="How many jobs to list.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@user_errors
def jobs(limit: int, as_json: bool) -> None:
    """List your most recent jobs."""
    statuses = _client().jobs(limit=limit)
    if as_json:
        _dump([s.model_dump(mode="json") for s in statuses])
    else:
        Console().print(jobs_table(statuses))


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@user_errors
def backends(as_json: bool) -> None:
    """List the backends on this machine: which are usable, their qubits and software.

    A backend missing its SDK says which extra to install (pip install 'qcbroker[EXTRA]');
    options come from the backends file ($QCB_BACKENDS_FILE). Pick one for a job with its
    `backend:` field or `qcb run FILE --backend NAME`.
    """
    from broker.cli.render import backends_table

    infos = _client().backends()
    if as_json:
        _dump([i.model_dump(mode="json") for i in infos])
    else:
        Console().print(backends_table(infos))


cli.add_command(usage)
cli.add_command(explain)
for _command in POLICY_ADMIN:
    policy.add_command(_command)
cli.add_command(policy)
cli.add_command(accounts)
for _command in SERVICE:
    cli.add_command(_command)


def main() -> None:
    """Console-script entry point."""
    private_files()
    cli()
