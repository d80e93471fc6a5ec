"""A job's artifacts in one folder (``qcb download``, as Braket's ``download_result``): what
was submitted, where it stands, its result with charges and lineage, what its tasks printed
and a plot of the result. Built on the client's own calls, so the embedded and the remote
client give the same files."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import yaml

if TYPE_CHECKING:
    from broker.client import Client

_SAFE = str.maketrans({c: "_" for c in "/\\\0:"})


def download(client: Client, job_id: str, folder: Path, *, plot: bool = True) -> list[Path]:
    """Write job ``job_id``'s artifacts into ``folder``/``job_id`` (made if missing); the
    files written, in order. ``job.yaml`` (as submitted), ``status.json``, for an ended job
    ``result.json`` (result, charges, lineage) and ``result.png`` (with ``plot``), and
    under ``logs/`` each ended classical task's ``.out``, ``.err`` and ``.json`` (its state
    and exit code)."""
    status = client.status(job_id)  # NotFound before anything is written
    spec = client.job_file(job_id)
    logs = client.logs(job_id)
    result = client.result(job_id) if status.state.final else None
    where = folder / job_id
    (where / "logs").mkdir(parents=True, exist_ok=True)
    written: list[Path] = []

    def write(name: str, text: str) -> None:
        path = where / name
        path.write_text(text, encoding="utf-8")
        written.append(path)

    job_yaml = yaml.safe_dump(spec.model_dump(mode="json", by_alias=True, exclude_none=True))
    write("job.yaml", job_yaml)
    write("status.json", status.model_dump_json(indent=2) + "\n")
    for log in (log for log in logs if log.state.final):  # output comes when a task ends
        stem = f"logs/{log.key.translate(_SAFE)}.{log.task_id}"
        write(f"{stem}.out", log.stdout)
        write(f"{stem}.err", log.stderr)
        meta = log.model_dump(mode="json", exclude={"stdout", "stderr"})
        write(f"{stem}.json", json.dumps(meta, indent=2) + "\n")
    if result is not None:
        write("result.json", result.model_dump_json(indent=2) + "\n")
        if plot and result.result is not None:
            from broker.cli.result_plots import plot_result

            plot_result(result, status.algorithm, where / "result.png")
            written.append(where / "result.png")
    return written
