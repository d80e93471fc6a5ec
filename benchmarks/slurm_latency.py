"""Latency from "classical task ready" to "running" on slurm, slurmrest and slurm-pilot.

For each classical backend, in one process run and through the real broker (embedded
runtime, real Celery worker, the real single-host Slurm of ``docker/slurm/start.sh``), N jobs
run one after the other (each waited on). Each job is ``examples/vqe_h2_slurm.yaml`` with
``reference: false``, ``analysis: false`` and one optimizer step, so it has exactly one
classical task (``problem``) followed by a tiny quantum step on Aer. The latency of a task is

    runner's ``DIR/started`` (epoch seconds)  -  the task row's ``created_at`` (naive UTC)

that is, from the moment the broker created the task PENDING to the moment the task runner
started on a node. ``slurm`` and ``slurmrest`` submit one Slurm job per task; ``slurm-pilot``
runs the task inside a pilot job that is already RUNNING (a core pilot, warmed up by one job
before measuring). Every backend gets a fresh ``QCB_HOME`` and one unmeasured warm-up job,
and its runtime is shut down afterwards (which cancels the pilot); the script then checks
with ``squeue`` that none of its Slurm jobs is left.

Before each measured job it pauses a random 0 to ``--think`` seconds (default 1, seeded), so
that submissions do not lock onto the phase of slurmctld's scheduling pass, which comes about
once a second: back-to-back jobs of a fixed length would otherwise see the same wait every
time (``--think 0`` submits back to back). Each latency is also cut into phases (``PHASES``)
from the store's times, the task directory's files and, for Slurm jobs, slurmctld's and
slurmd's logs.

    .venv/bin/python benchmarks/slurm_latency.py [--tasks 50] [--plot slurm_latency.png]
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import platform
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table
from sqlalchemy import select

from broker.client import Client
from broker.store.db import Database
from broker.store.schema import tasks

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "vqe_h2_slurm.yaml"
START_SCRIPT = ROOT / "docker" / "slurm" / "start.sh"
SLURM_RUN = Path(os.environ.get("QCB_SLURM_RUN", "/tmp/qcb-slurm"))
BACKENDS = ("slurm", "slurmrest", "slurm-pilot")
PILOT = "slurm-pilot"
PILOT_OPTIONS: dict[str, Any] = {
    "min_pilots": 1,
    "max_pilots": 1,
    "slots": 2,
    "walltime_s": 1200,
    "drain_s": 60,
    "idle_s": 60,
}
# The phases a latency is cut into (consecutive; a phase whose end is unknown merges into the
# next one), with what each covers.
PHASES = {
    "release": "created PENDING -> the scheduler marks it QUEUED and sends its Celery message",
    "deliver": "-> a worker (embedded, or the pilot's) receives the message and claims the task",
    "submit": "-> the backend has written the task directory (and sbatch / slurmrestd answered)",
    "schedule": "-> slurmctld allocates the job (slurmctld.log 'sched: Allocate')",
    "dispatch": "-> slurmd launches the batch script (slurmd log 'Launching batch job')",
    "start": "-> process start and Python startup until the runner writes DIR/started",
}
ACTIVE = {"PENDING", "RUNNING", "COMPLETING", "CONFIGURING", "SUSPENDED"}
TARGET_RATIO = 20.0
JOB_TIMEOUT_S = 300.0
WARMUP_TIMEOUT_S = 600.0
LOG_MARKERS = ("WARNING", "ERROR", "CRITICAL", "Traceback")
# Lines that every Celery worker here writes, not signs of trouble: kombu's default host for
# the filesystem transport, and Celery's warning about running as root (this host's Slurm
# runs jobs as root).
BENIGN = ("No hostname was supplied", "_warn_or_raise_security_error")
SLURM_EVENTS = {
    "allocated": re.compile(r"sched: Allocate JobId=(\d+) |_start_job: Started JobId=(\d+) "),
    "launching": re.compile(r"Launching batch job (\d+) "),
}

console = Console()


# --- the cluster ---------------------------------------------------------------------------


def start_slurm() -> None:
    """Start the single-host Slurm (idempotent) and take ``SLURM_CONF`` from its env.sh."""
    proc = subprocess.run([str(START_SCRIPT)], capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"cannot start Slurm with {START_SCRIPT}:\n{proc.stdout}\n{proc.stderr}")
    console.print(f"[dim]{proc.stdout.strip().splitlines()[-1]}[/dim]")
    for line in (SLURM_RUN / "env.sh").read_text().splitlines():
        name, sep, value = line.removeprefix("export ").partition("=")
        if sep and name == "SLURM_CONF":
            os.environ["SLURM_CONF"] = value


def slurm_jobs() -> dict[str, dict[str, Any]]:
    """Every job the controller still knows (``MinJobAge`` keeps ended ones for an hour)."""
    out = subprocess.run(
        ["squeue", "--json", "--all"], capture_output=True, text=True, check=True, timeout=60
    ).stdout
    return {str(j["job_id"]): j for j in json.loads(out).get("jobs", [])}


def active(records: dict[str, dict[str, Any]], ids: set[str]) -> dict[str, str]:
    """Those of ``ids`` that Slurm has not finished: id -> state."""
    return {
        i: str(r["job_state"])
        for i, r in records.items()
        if i in ids and str(r["job_state"]) in ACTIVE
    }


def pilot_jobs(home: Path) -> dict[str, Path]:
    """Slurm job ids of the pilots that the broker in ``home`` submitted -> their directory.

    Found by the pilot's own spec (its environment names the broker's ``QCB_HOME``), so this
    does not depend on how the pilot manager names its jobs.
    """
    options = yaml.safe_load((SLURM_RUN / "backends.yaml").read_text())
    pilots_dir = Path(options[PILOT]["workdir"]).parent / "pilots"
    found: dict[str, Path] = {}
    for spec_file in pilots_dir.glob("*/spec.json"):
        try:
            env = json.loads(spec_file.read_text()).get("env") or {}
            job_id = (spec_file.parent / "job_id").read_text().strip()
        except (OSError, ValueError):
            continue
        if Path(env.get("QCB_HOME", "/nonexistent")).resolve() == home.resolve():
            found[job_id] = spec_file.parent
    return found


# --- the workload --------------------------------------------------------------------------


def job_spec(backend: str, name: str) -> dict[str, Any]:
    """The Slurm VQE example with exactly one classical task (``problem``) and one step."""
    job: dict[str, Any] = yaml.safe_load(EXAMPLE.read_text())
    job["name"] = name
    job["classical_backend"] = backend
    inputs = job["algorithm"]["inputs"]
    inputs.update(reference=False, analysis=False)
    inputs["optimizer"]["maxiter"] = 1
    return job


def backends_file(directory: Path, backend: str) -> Path:
    """The generated backends file, with the pilot settings for ``slurm-pilot``."""
    options: dict[str, Any] = yaml.safe_load((SLURM_RUN / "backends.yaml").read_text())
    if backend == PILOT:
        options[PILOT] = {**options[PILOT], **PILOT_OPTIONS}
    path = directory / "backends.yaml"
    path.write_text(yaml.safe_dump(options))
    return path


# --- one measurement -----------------------------------------------------------------------


def epoch(moment: datetime | None) -> float | None:
    """A naive-UTC store time as epoch seconds (``naive.timestamp()`` would take it for
    local time)."""
    if moment is None:
        return None
    assert moment.tzinfo is None, moment
    return moment.replace(tzinfo=UTC).timestamp()


def mtime(path: Path) -> float | None:
    """A file's modification time, or None if it does not exist."""
    try:
        return path.stat().st_mtime
    except OSError:
        return None


def slurm_log_times() -> dict[str, dict[str, float]]:
    """Per Slurm job id, when slurmctld allocated it and slurmd launched its batch script,
    from their logs (millisecond stamps in local time; the last record of an id wins)."""
    times: dict[str, dict[str, float]] = {}
    logs = SLURM_RUN / "log"
    for path in [logs / "slurmctld.log", *sorted(logs.glob("slurmd-*.log"))]:
        try:
            lines = path.read_text(errors="replace").splitlines()
        except OSError:  # the logs are root's; without them those phases merge into "start"
            continue
        for line in lines:
            stamp, _, text = line.partition("] ")
            for event, pattern in SLURM_EVENTS.items():
                match = pattern.search(text)
                if match:
                    job = match.group(1) or match.group(2)
                    # naive local time, as Slurm writes it: .timestamp() reads it as local
                    moment = datetime.fromisoformat(stamp.lstrip("[")).timestamp()
                    times.setdefault(job, {})[event] = moment
    return times


def add_slurm_times(samples: list[Sample]) -> None:
    """Fill in ``allocated`` and ``launching`` of Slurm tasks from Slurm's logs."""
    times = slurm_log_times()
    for sample in samples:
        job = sample.native_id.partition("@")[0] if "@" in sample.native_id else ""
        events = times.get(job, {})
        for event in SLURM_EVENTS:
            moment = events.get(event)
            if moment is not None and sample.created - 1 < moment < sample.started + 1:
                setattr(sample, event, moment)


@dataclass
class Sample:
    """One classical task: the store's times, the task directory's files' times, where it ran.

    ``prepared`` is when the backend wrote ``spec.json``; ``submitted`` is when it wrote
    ``job_id`` (``sbatch`` or slurmrestd had answered; Slurm backends only); ``allocated``
    and ``launching`` come from slurmctld's and slurmd's logs (Slurm backends only, when the
    logs are readable).
    """

    job_id: str
    task_id: str
    native_id: str
    worker_id: str
    created: float
    dispatched: float | None
    claimed: float | None
    prepared: float | None
    submitted: float | None
    started: float
    ran_in_slurm_job: str | None
    allocated: float | None = None
    launching: float | None = None

    @property
    def latency(self) -> float:
        """Seconds from the task row's creation to the runner's start."""
        return self.started - self.created

    def phases(self) -> dict[str, float]:
        """The latency cut at the times we know (consecutive; they add up to it)."""
        marks = [
            ("release", self.dispatched),
            ("deliver", self.claimed),
            ("submit", self.submitted or self.prepared),
            ("schedule", self.allocated),
            ("dispatch", self.launching),
            ("start", self.started),
        ]
        out: dict[str, float] = {}
        previous = self.created
        for name, moment in marks:
            if moment is None:
                continue
            out[name] = moment - previous
            previous = moment
        return out


def read_sample(db: Database, job_id: str) -> Sample:
    """The ``problem`` task of a finished job, with its task directory's times."""
    with db.read() as conn:
        row = conn.execute(
            select(tasks).where(tasks.c.job_id == job_id, tasks.c.kind == "classical")
        ).one()
    assert row.key == "problem", row.key
    native = str(row.native_id)
    workdir = Path(native.partition("@")[2] or native)
    started = float((workdir / "started").read_text())
    created = epoch(row.created_at)
    assert created is not None
    try:
        record = json.loads((workdir / "state.json").read_text())
    except (OSError, ValueError):
        record = {}
    return Sample(
        job_id=job_id,
        task_id=row.id,
        native_id=native,
        worker_id=str(row.worker_id),
        created=created,
        dispatched=epoch(row.dispatched_at),
        claimed=epoch(row.started_at),
        prepared=mtime(workdir / "spec.json"),
        submitted=mtime(workdir / "job_id"),
        started=started,
        ran_in_slurm_job=record.get("slurm_job_id"),
    )


# --- one backend ---------------------------------------------------------------------------


@dataclass
class BackendRun:
    """What one backend's run measured and left behind."""

    backend: str
    home: Path
    samples: list[Sample] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    pilot_ids: list[str] = field(default_factory=list)
    warm_pilot: str | None = None
    window: tuple[float, float] = (0.0, 0.0)
    load: tuple[float, float] = (0.0, 0.0)
    leftover: dict[str, str] = field(default_factory=dict)
    log_lines: dict[str, list[str]] = field(default_factory=dict)
    task_dirs: list[str] = field(default_factory=list)

    def slurm_ids(self) -> set[str]:
        """Every Slurm job this run submitted (tasks and pilots)."""
        ids = {s.native_id.partition("@")[0] for s in self.samples if "@" in s.native_id}
        return ids | set(self.pilot_ids)


def submit_and_wait(client: Client, spec: dict[str, Any], timeout: float) -> tuple[str, str]:
    """Submit a job and wait for it; (job id, "" or why it did not complete)."""
    job_id = client.submit(spec)
    status = client.wait(job_id, timeout=timeout)
    if status.state != "COMPLETED":
        return job_id, f"{job_id} ended {status.state}: {status.message}"
    return job_id, ""


def warm_pilot(run: BackendRun, db: Database, job_id: str) -> str:
    """The core pilot that ran the warm-up job's task; it must be RUNNING now."""
    deadline = time.monotonic() + 60
    while True:
        pilots = pilot_jobs(run.home)
        records = slurm_jobs()
        running = [i for i in pilots if records.get(i, {}).get("job_state") == "RUNNING"]
        warm = read_sample(db, job_id)
        if warm.ran_in_slurm_job in running:
            run.pilot_ids = sorted(pilots)
            run.warm_pilot = warm.ran_in_slurm_job
            return warm.ran_in_slurm_job
        if time.monotonic() > deadline:
            raise SystemExit(
                f"no RUNNING pilot ran the warm-up task: pilots {pilots}, "
                f"warm-up task ran in Slurm job {warm.ran_in_slurm_job}"
            )
        time.sleep(0.5)


def measure(backend: str, n: int, think: float, progress: Progress) -> BackendRun:
    """Warm up, then run ``n`` jobs one after the other on ``backend``, each after a random
    pause of up to ``think`` seconds; shut down; check that its Slurm jobs are gone."""
    rng = random.Random(7)
    home = Path(tempfile.mkdtemp(prefix=f"qcb-latency-{backend}-"))
    os.environ["QCB_HOME"] = str(home)
    os.environ["QCB_BACKENDS_FILE"] = str(backends_file(home, backend))
    run = BackendRun(backend=backend, home=home)
    bar = progress.add_task(f"{backend}: warming up", total=n)
    client = Client()
    db = Database(client.settings.store_url)
    try:
        warm_id, error = submit_and_wait(client, job_spec(backend, "warm-up"), WARMUP_TIMEOUT_S)
        if error:
            raise SystemExit(f"{backend}: the warm-up job failed: {error} (see {home}/run)")
        if backend == PILOT:
            pilot = warm_pilot(run, db, warm_id)
            progress.update(bar, description=f"{backend} (pilot {pilot})")
        else:
            progress.update(bar, description=backend)
        run.load = (os.getloadavg()[0], 0.0)
        started = time.time()
        for i in range(n):
            time.sleep(rng.uniform(0, think))
            job_id, error = submit_and_wait(client, job_spec(backend, f"lat-{i}"), JOB_TIMEOUT_S)
            if error:
                run.failures.append(error)
                progress.console.print(f"[red]{backend}: {error}[/red]")
                if len(run.failures) > max(3, n // 10):
                    raise SystemExit(f"{backend}: too many failed jobs; see {home}/run")
            else:
                sample = read_sample(db, job_id)
                run.samples.append(sample)
                progress.update(bar, description=f"{backend} (last {sample.latency:.3f} s)")
            progress.advance(bar)
        run.window = (started, time.time())
        add_slurm_times(run.samples)
        run.load = (run.load[0], os.getloadavg()[0])
    finally:
        client.shutdown()
        with db.read() as conn:
            natives = conn.execute(
                select(tasks.c.native_id).where(
                    tasks.c.kind == "classical", tasks.c.native_id.is_not(None)
                )
            ).scalars()
            run.task_dirs = [str(n).partition("@")[2] or str(n) for n in natives]
        db.dispose()
        pilots = pilot_jobs(home)
        run.pilot_ids = sorted(set(run.pilot_ids) | set(pilots))
        run.leftover = wait_gone(run.slurm_ids())
        run.log_lines = scan_logs(home, list(pilots.values()))
    return run


def wait_gone(ids: set[str], timeout: float = 60) -> dict[str, str]:
    """Wait until Slurm has ended every job in ``ids``; those still active after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        left = active(slurm_jobs(), ids)
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.5)


def scan_logs(home: Path, pilot_dirs: list[Path]) -> dict[str, list[str]]:
    """Warning and error lines of the runtime, its worker and the pilots, by file."""
    files = sorted((home / "run").glob("*.log"))
    for directory in pilot_dirs:
        files += [directory / name for name in ("stdout", "stderr", "slurm.out")]
    found: dict[str, list[str]] = {}
    for path in files:
        try:
            lines = path.read_text(errors="replace").splitlines()
        except OSError:
            continue
        hits = [
            line.strip()
            for line in lines
            if any(m in line for m in LOG_MARKERS) and not any(b in line for b in BENIGN)
        ]
        if hits:
            found[str(path)] = hits
    return found


# --- context and summary -------------------------------------------------------------------


def python_startup(reps: int = 10) -> float:
    """Median seconds from starting ``python`` to having imported the task runner: the floor
    of any backend's launch (the runner writes ``started`` right after)."""
    times = []
    code = "import time, backends.local_runner; print(repr(time.time()))"
    for _ in range(reps):
        before = time.time()
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
        times.append(float(out.stdout) - before)
    return statistics.median(times)


def summary(values: list[float]) -> dict[str, float]:
    """n, median, p10, p90, min, max and mean, in seconds."""
    deciles = statistics.quantiles(values, n=10, method="inclusive")
    return {
        "n": len(values),
        "median_s": statistics.median(values),
        "p10_s": deciles[0],
        "p90_s": deciles[-1],
        "min_s": min(values),
        "max_s": max(values),
        "mean_s": statistics.fmean(values),
    }


def foreign_jobs(runs: list[BackendRun]) -> dict[str, list[str]]:
    """Slurm jobs not ours that were active during each backend's measurement window."""
    records = slurm_jobs()
    ours = set().union(*(r.slurm_ids() for r in runs))
    out: dict[str, list[str]] = {}
    for run in runs:
        lo, hi = run.window
        out[run.backend] = sorted(
            f"{i} {r.get('name', '')!r} {r.get('job_state')}"
            for i, r in records.items()
            if i not in ours
            and int(r.get("start_time") or 0) < hi
            and (int(r.get("end_time") or 0) > lo or str(r["job_state"]) in ACTIVE)
            and int(r.get("start_time") or 0) > 0
        )
    return out


def report(runs: list[BackendRun], startup: float, args: argparse.Namespace) -> dict[str, Any]:
    """The results as one JSON-able dict."""
    backends: dict[str, Any] = {}
    for run in runs:
        latencies = [s.latency for s in run.samples]
        phase_names = [p for p in PHASES if any(p in s.phases() for s in run.samples)]
        backends[run.backend] = {
            **summary(latencies),
            "failed_jobs": run.failures,
            "phases_median_s": {
                p: statistics.median(s.phases()[p] for s in run.samples if p in s.phases())
                for p in phase_names
            },
            "ran_where_expected": sum(
                s.ran_in_slurm_job
                == (run.warm_pilot if run.backend == PILOT else s.native_id.partition("@")[0])
                for s in run.samples
            ),
            "pilot_jobs": run.pilot_ids,
            "warm_pilot": run.warm_pilot,
            "loadavg_1min_before_after": list(run.load),
            "slurm_jobs_left_after_shutdown": run.leftover,
            "log_lines": {k: v[:20] for k, v in run.log_lines.items()},
            "log_line_counts": {k: len(v) for k, v in run.log_lines.items()},
            "latencies_s": [round(x, 6) for x in latencies],
            "samples": [asdict(s) for s in run.samples],
        }
    pilot = backends[PILOT]["median_s"]
    ratios = {f"{b}/{PILOT}": backends[b]["median_s"] / pilot for b in backends if b != PILOT}
    return {
        "what": "seconds from the classical task's created_at (PENDING) to the runner's start",
        "command": " ".join([".venv/bin/python", *sys.argv]),
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "python": platform.python_version(),
            "slurm": subprocess.run(
                ["sinfo", "--version"], capture_output=True, text=True, check=False
            ).stdout.strip(),
        },
        "tasks_per_backend": args.tasks,
        "think_s": args.think,
        "phases": PHASES,
        "pilot_options": PILOT_OPTIONS,
        "python_startup_s": startup,
        "backends": backends,
        "median_ratios": ratios,
        "target_ratio": TARGET_RATIO,
        "target_met": all(r >= TARGET_RATIO for r in ratios.values()),
        "foreign_slurm_jobs_during_window": foreign_jobs(runs),
    }


def plot(results: dict[str, Any], path: Path) -> None:
    """A box plot (log scale) of each backend's latencies, with every sample drawn."""
    try:
        matplotlib = importlib.import_module("matplotlib")
    except ImportError:
        console.print(f"matplotlib is not installed; no plot ({path} not written)")
        return
    matplotlib.use("Agg")
    plt: Any = importlib.import_module("matplotlib.pyplot")
    names = list(results["backends"])
    data = [[x * 1000 for x in results["backends"][b]["latencies_s"]] for b in names]
    fig, ax = plt.subplots(figsize=(7, 4.5))
    ax.boxplot(data, whis=(10, 90), showfliers=False)
    ax.set_xticks(range(1, len(names) + 1), names)
    for i, values in enumerate(data, start=1):
        ax.scatter([i] * len(values), values, s=8, alpha=0.4)
    ax.set_yscale("log")
    ax.set_ylabel("task ready -> running (ms, log scale)")
    ratios = ", ".join(f"{k} = {v:.1f}x" for k, v in results["median_ratios"].items())
    ax.set_title(
        f"{results['tasks_per_backend']} tasks per backend (box: quartiles, whiskers: p10-p90)\n"
        f"median ratios: {ratios}"
    )
    ax.title.set_fontsize(9)
    ax.grid(axis="y", which="both", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    console.print(f"plot: {path}")


def print_table(results: dict[str, Any]) -> None:
    """The summary as a table, and as Markdown for the README."""
    table = Table(title="classical task ready -> running (ms)")
    columns = ["backend", "n", "median", "p10", "p90", "min", "max", "median phases"]
    for column in columns:
        table.add_column(
            column, justify="left" if column in ("backend", "median phases") else "right"
        )
    rows = []
    for name, b in results["backends"].items():
        phases = ", ".join(f"{p} {v * 1000:.0f}" for p, v in b["phases_median_s"].items())
        row = [name, str(b["n"])]
        row += [f"{b[k] * 1000:.0f}" for k in ("median_s", "p10_s", "p90_s", "min_s", "max_s")]
        rows.append([*row, phases])
        table.add_row(*rows[-1])
    console.print(table)
    for key, ratio in results["median_ratios"].items():
        console.print(f"median {key} = {ratio:.1f}x (target >= {TARGET_RATIO:.0f}x)")
    print("\n| " + " | ".join(columns) + " |")
    print("|" + "---|" * len(columns))
    for row in rows:
        print("| " + " | ".join(row) + " |")


def cleanup(runs: list[BackendRun], keep: bool) -> None:
    """Remove the homes and task directories, unless asked to keep them or a run went wrong."""
    for run in runs:
        suspicious = run.failures or run.leftover or run.log_lines
        if keep or suspicious:
            console.print(f"kept {run.home} ({'--keep' if keep else 'see its logs'})")
            continue
        for directory in [*run.task_dirs, *map(str, pilot_jobs(run.home).values())]:
            shutil.rmtree(directory, True)
        shutil.rmtree(run.home, True)


def main() -> None:
    """Measure every backend, write the JSON (and the plot), print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=50, help="measured tasks per backend")
    parser.add_argument("--out", type=Path, default=Path(__file__).with_name("slurm_latency.json"))
    parser.add_argument("--plot", type=Path, default=None, help="write a box plot here (PNG)")
    parser.add_argument(
        "--think",
        type=float,
        default=1.0,
        help="random pause of up to this many seconds before each job (0: back to back)",
    )
    parser.add_argument("--keep", action="store_true", help="keep QCB_HOMEs and task dirs")
    args = parser.parse_args()
    if args.tasks < 2:
        parser.error("--tasks must be at least 2")

    start_slurm()
    os.environ["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p
    )
    startup = python_startup()
    runs: list[BackendRun] = []
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console) as progress:
        for backend in BACKENDS:
            runs.append(measure(backend, args.tasks, args.think, progress))
    results = report(runs, startup, args)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    console.print(f"results: {args.out}")
    if args.plot is not None:
        plot(results, args.plot)
    print_table(results)
    for run in runs:
        if run.leftover:
            console.print(f"[red]{run.backend}: Slurm jobs left: {run.leftover}[/red]")
        else:
            console.print(
                f"{run.backend}: squeue shows none of its {len(run.slurm_ids())} Slurm job(s) left"
            )
        for path, lines in run.log_lines.items():
            console.print(f"[yellow]{run.backend}: {len(lines)} warning/error line(s) in {path}")
    console.print(
        f"foreign Slurm jobs during the windows: {results['foreign_slurm_jobs_during_window']}"
    )
    cleanup(runs, args.keep)


if __name__ == "__main__":
    main()
