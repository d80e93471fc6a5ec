"""``qcb``: submit hybrid jobs, follow them, and read their results."""

from __future__ import annotations

import os
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

import click
from rich.console import Console

from broker.cli.accounts_cmds import accounts
from broker.cli.allocation_cmds import explain, usage
from broker.cli.common import client as _client
from broker.cli.common import dump as _dump
from broker.cli.common import show_error, user_errors
from broker.cli.console_cmds import COMMANDS as CONSOLE
from broker.cli.control_cmds import COMMANDS as CONTROL
from broker.cli.control_cmds import backend_option
from broker.cli.crash import internal_error
from broker.cli.paths import InputFile, OutputFile, OutputFolder
from broker.cli.policy_admin import COMMANDS as POLICY_ADMIN
from broker.cli.policy_cmds import policy
from broker.cli.render import JobProgress, jobs_table, status_text, summary
from broker.cli.service_cmds import COMMANDS as SERVICE
from broker.cli.share_cmds import fairshare, priority
from broker.config import private_files
from broker.errors import EXIT_CODES, BrokerError
from broker.jobfile import load_job

INTERRUPTED = 130

EXIT_TABLE = "\n".join(f"  {code:<4} {meaning}" for code, meaning in EXIT_CODES.items())


@click.group(
    context_settings={"help_option_names": ["-h", "--help"]},
    epilog="\b\nExit status:\n" + EXIT_TABLE,
)
@click.version_option(package_name="qcbroker")
def cli() -> None:
    """Run hybrid quantum-classical jobs under an allocation proposal.

    Jobs, results and logs are kept in one store: $QCB_HOME, by default
    ~/.local/share/qcbroker (/var/lib/qcbroker for root), whichever way qcb is started
    (make demo, qcb, the Python SDK).

    A job file (YAML) names the proposal to charge, the algorithm with its inputs, and the
    backend for its quantum tasks. Start with:

    \b
        qcb run examples/vqe_h2.yaml            submit, follow, print the result
        qcb run examples/vqe_h2.yaml --json     the finished job as one JSON object
        qcb submit FILE; qcb status ID          submit now, look later
        qcb jobs                                your recent jobs

    Everything runs on this machine by default (no server): qcb starts a scheduler and a
    Celery worker itself and stops them when idle.

    Against a qcbroker service, set QCB_URL and QCB_TOKEN: the same commands then go
    through its REST API. Running a service: qcb up (one host), or qcb serve, qcb
    scheduler and qcb worker on several; qcb token create USER for each user. The web
    console: /ui on the service, or qcb ui on this machine's store.
    """


def _overrides(func: Any) -> Any:
    """The options that replace a job file's top-level fields (as sbatch's -A, --qos, -J,
    -d)."""
    for option in (
        click.option(
            "--dependency",
            "-d",
            metavar="LIST",
            help="Start after other jobs of yours end: afterok:ID[:ID...] (each completed), "
            "afternotok:ID (failed or cancelled), afterany:ID (ended); several joined by ','. "
            "Cancelled if it can never be met.",
        ),
        click.option("--name", "-J", metavar="NAME", help="The job's name instead of the file's."),
        click.option("--qos", metavar="LEVEL", help="Quality of service instead of the file's."),
        click.option(
            "--proposal", "-A", metavar="ID", help="The proposal to charge instead of the file's."
        ),
        backend_option,
    ):
        func = option(func)
    return func


_JOB_FILE = InputFile("job file")


@cli.command()
@click.argument("file", type=_JOB_FILE)
@_overrides
@click.option("--json", "as_json", is_flag=True, help="Print the finished job as JSON only.")
@click.option("--timeout", type=float, default=None, help="Stop following after SECONDS (exit 8).")
@user_errors
def run(file: Path, as_json: bool, timeout: float | None, **overrides: str | None) -> None:
    """Submit FILE and follow it to the end, with a progress bar.

    Exits 0 when the job completes, 1 when it fails or is cancelled, 8 when --timeout
    passes first. Ctrl-C stops following (exit 130); the job keeps running either way:
    `qcb status ID` follows it again and `qcb cancel ID` stops it.
    """
    client = _client()
    spec = load_job(file, overrides)
    job_id = client.submit(spec)
    try:
        if as_json:
            client.wait(job_id, timeout=timeout)
        else:
            console = Console(stderr=True)
            console.print(f"submitted job [bold]{job_id}[/] under proposal {spec.proposal}")
            with JobProgress(console, spec.name or spec.algorithm.name) as bar:
                client.wait(job_id, timeout=timeout, on_progress=bar.update)
    except KeyboardInterrupt:
        click.echo(
            f"stopped following job {job_id}; it keeps running: `qcb status {job_id}` "
            f"shows it, `qcb cancel {job_id}` stops it",
            err=True,
        )
        sys.exit(INTERRUPTED)
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
@click.argument("file", type=_JOB_FILE)
@_overrides
@user_errors
def submit(file: Path, **overrides: str | None) -> None:
    """Submit FILE and print the job id; the job runs in the background.

    \b
    qcb submit job.yaml                        as the file says
    qcb submit job.yaml -A QCP-042 -J scan-3   under another proposal, with a name
    """
    client = _client()
    click.echo(client.submit(load_job(file, overrides)))


@cli.command()
@click.argument("job_ids", nargs=-1, required=True, metavar="ID...")
@click.option("--timeout", type=float, default=None, help="Give up after SECONDS (exit 8).")
@user_errors
def wait(job_ids: tuple[str, ...], timeout: float | None) -> None:
    """Wait until every job ID has ended; print each one's final state.

    Exits 0 when all COMPLETED, 1 when any failed or was cancelled, 8 at --timeout.
    """
    statuses = _client().wait_all(list(job_ids), timeout=timeout)
    for st in statuses.values():
        click.echo(f"{st.id}  {st.state.value}")
    sys.exit(0 if all(s.state.value == "COMPLETED" for s in statuses.values()) else 1)


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
    click.echo(status_text(st))


@cli.command()
@click.argument("job_id")
@click.option("--json", "as_json", is_flag=True, help="Print JSON with charges and lineage.")
@click.option(
    "--plot",
    type=OutputFile("plot", "result.png"),
    help="Also draw it into this PNG: convergence (VQE, QAOA), energy per iteration (SQD), "
    "the grid (sweep), reconstructed values (cutting), and when each task ran.",
)
@user_errors
def result(job_id: str, as_json: bool, plot: Path | None) -> None:
    """Show a finished job's result, charges and lineage.

    A job still running has no result yet: exits 5 (`qcb status ID` shows its progress).

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
@click.option(
    "--output",
    "-o",
    "folder",
    type=OutputFolder(),
    default=".",
    show_default=True,
    help="Write into FOLDER/JOB_ID (made if missing).",
)
@click.option("--no-plot", is_flag=True, help="Do not draw result.png.")
@user_errors
def download(job_id: str, folder: Path, no_plot: bool) -> None:
    """Download a job's artifacts into one folder: job.yaml (as submitted), status.json,
    and once it has ended result.json (result, charges, lineage) and result.png, and each
    classical task's stdout, stderr and exit code under logs/.

    
    qcb download j-1234                 into ./j-1234
    qcb download j-1234 -o runs/ --no-plot
    """
    written = _client().download(job_id, folder, plot=not no_plot)
    click.echo(f"{len(written)} files in {folder / job_id}")


@cli.command()
@click.argument("ident", metavar="TASK_OR_JOB_ID")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@user_errors
def logs(ident: str, as_json: bool) -> None:
    """Show what a task printed (stdout, stderr, exit code), or every classical task of a
    job, as Slurm's output files would. A task's output comes when it ends.

    \b
    qcb logs j-1234        every classical task of the job
    qcb logs t-5678        one task (its id is in `qcb result ID --json`'s lineage)
    """
    found = _client().logs(ident)
    if as_json:
        _dump([log.model_dump(mode="json") for log in found])
        return
    if not found:
        click.echo(f"{ident} has no classical task: its quantum tasks print nothing")
    for log in found:
        code = "" if log.exit_code is None else f", exit {log.exit_code}"
        click.echo(f"== {log.key} ({log.task_id}) on {log.backend}: {log.state.value}{code}")
        if log.message:
            click.echo(log.message)
        if not log.state.final:
            click.echo("(its output comes when it ends)")
        for name, text in (("stdout", log.stdout), ("stderr", log.stderr)):
            if text:
                click.echo(f"--- {name}")
                click.echo(text.rstrip("\n"))


@cli.command()
@click.argument("job_id")
@user_errors
def cancel(job_id: str) -> None:
    """Cancel a job: pending tasks never start, running ones are stopped, holds released.

    A job that has already ended is left as it is (exit 0, with a note)."""
    client = _client()
    before = client.status(job_id)
    if before.state.final:
        click.echo(f"{before.id}  {before.state.value}  (it had already ended: nothing to cancel)")
        return
    st = client.cancel(job_id)
    click.echo(f"{st.id}  {st.state.value}")


@cli.command()
@click.option("--limit", "-n", default=20, show_default=True, help="How many jobs to list.")
@click.option(
    "--state",
    "-t",
    "states",
    multiple=True,
    metavar="STATES",
    help="Only jobs in these states, comma-separated: pending, queued, running, completed, "
    "failed, cancelled, timeout (or squeue's PD, R, CD, F, CA, TO).",
)
@click.option("--proposal", "-A", metavar="ID", help="Only jobs charged to this proposal.")
@click.option(
    "--since",
    "-S",
    type=click.DateTime(["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M"]),
    help="Only jobs submitted then or later (UTC), as sacct -S.",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@user_errors
def jobs(
    limit: int,
    states: tuple[str, ...],
    proposal: str | None,
    since: datetime | None,
    as_json: bool,
) -> None:
    """List your most recent jobs, newest first (and those of the proposals you lead).

    \b
    qcb jobs -t running,pending        what is still going on (squeue -t R,PD)
    qcb jobs -A QCP-042 -S 2026-12-01   one proposal's jobs since a day (sacct -A -S)
    """
    statuses = _client().jobs(limit=limit, states=states, proposal=proposal, since=since)
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
cli.add_command(fairshare)
cli.add_command(priority)
for _command in POLICY_ADMIN:
    policy.add_command(_command)
cli.add_command(policy)
cli.add_command(accounts)
for _command in CONTROL:
    cli.add_command(_command)
for _command in SERVICE + CONSOLE:
    cli.add_command(_command)


def run_cli(args: list[str]) -> int:
    """Run ``qcb`` with ``args``; its exit status (:data:`broker.errors.EXIT_CODES`). Every
    error becomes a paragraph on stderr: a usage mistake click's way, a user's mistake as
    ``error: ...``, an unforeseen one as a crash report (exit 70), never a traceback."""
    try:
        result = cli.main(args, prog_name="qcb", standalone_mode=False)
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except (click.Abort, KeyboardInterrupt):
        click.echo("\ninterrupted", err=True)
        return INTERRUPTED
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except BrokerError as exc:
        show_error(exc)
        return exc.exit_code
    except BrokenPipeError:  # stdout closed early (qcb jobs | head): not an error
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except Exception as exc:
        return internal_error(exc, args)
    return result if isinstance(result, int) else 0


def main() -> None:
    """Console-script entry point."""
    private_files()
    sys.exit(run_cli(sys.argv[1:]))
