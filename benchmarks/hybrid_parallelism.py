"""How the broker's parallelism pays off: the SQD and cutting examples with 1, 2 and 3
logical Slurm nodes (and quantum backends), in one run.

- SQD (``examples/sqd_h2o_slurm.yaml``): each configuration-recovery round is one step of
  ``num_batches`` diagonalizations, each a Slurm job taking a whole logical node. The job
  runs in partition ``first-k`` (the first k nodes of ``docker/slurm/start.sh``'s cluster),
  so at most k diagonalizations run at once.
- Cutting (``examples/cutting_su2.yaml``): the subexperiments go out in one step, dealt to
  the first k of ``aer``, ``pennylane``, ``lightning`` (each runs one task at a time; the
  worker runs up to 3).

The baseline is k = 1 of the same example in the same run; the speed-up is its wall time
over k's. Wall time is from submission to the job's end (the embedded runtime warm).
Results go to ``hybrid_parallelism.json``; ``--plot`` draws them.

    .venv/bin/python benchmarks/hybrid_parallelism.py --repeats 2 \\
        --plot benchmarks/hybrid_parallelism.png
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

CUT_BACKENDS = ["aer", "pennylane", "lightning"]


def _job(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((ROOT / "examples" / name).read_text())
    return loaded


def sqd_job(nodes: int) -> dict[str, Any]:
    """The SQD example confined to the first ``nodes`` logical nodes."""
    job = _job("sqd_h2o_slurm.yaml")
    job["classical_resources"] = {
        **job.get("classical_resources", {}),
        "partition": f"first-{nodes}",
    }
    return job


def cutting_job(backends: int) -> dict[str, Any]:
    """The cutting example over the first ``backends`` of :data:`CUT_BACKENDS`."""
    job = _job("cutting_su2.yaml")
    job["algorithm"]["inputs"]["backends"] = CUT_BACKENDS[:backends]
    return job


def run(client: Any, job: dict[str, Any]) -> dict[str, Any]:
    """Run ``job`` to its end; its wall time, busy time per task kind, and result."""
    started = time.perf_counter()
    job_id = client.submit(job)
    status = client.wait(job_id, timeout=1800)
    wall = time.perf_counter() - started
    if status.state != "COMPLETED":
        raise SystemExit(f"job {job_id} ended {status.state}: {status.message}")
    found = client.result(job_id)
    busy: dict[str, float] = {}
    for task in found.lineage.tasks:
        if task.started_at and task.finished_at:
            seconds = (task.finished_at - task.started_at).total_seconds()
            busy[task.kind] = busy.get(task.kind, 0.0) + seconds
    nodes = sorted(
        {
            t.native_id.split("@")[0]
            for t in found.lineage.tasks
            if t.kind == "classical" and t.native_id
        }
    )
    return {
        "job": job_id,
        "wall_s": wall,
        "busy_s": busy,
        "slurm_jobs": len(nodes),
        "result": found.result,
    }


def _client(name: str, backends: dict[str, Any]) -> Any:
    """An embedded client on a home of its own, with ``backends`` as its backends file."""
    from broker import Client

    home = Path(tempfile.mkdtemp(prefix=f"qcb-bench-{name}-"))
    (home / "backends.yaml").write_text(yaml.safe_dump(backends))
    os.environ.update(
        {
            "QCB_HOME": str(home),
            "QCB_BACKENDS_FILE": str(home / "backends.yaml"),
            "QCB_WORKER_CONCURRENCY": "4",
            "SLURM_CONF": "/tmp/qcb-slurm/slurm.conf",
            "PYTHONPATH": str(ROOT),
        }
    )
    return Client()


def measure(repeats: int) -> dict[str, Any]:
    """Every configuration ``repeats`` times, interleaved (k = 1, 2, 3, 1, 2, 3, ...), each
    example on its own warm runtime (SQD needs Aer at 16 qubits, cutting caps it at 4)."""
    subprocess.run([str(ROOT / "docker" / "slurm" / "start.sh")], check=True, capture_output=True)
    slurm = yaml.safe_load(Path("/tmp/qcb-slurm/backends.yaml").read_text())
    small = yaml.safe_load((ROOT / "examples" / "backends_small.yaml").read_text())
    setups = {
        "sqd": (sqd_job, slurm),
        "cutting": (cutting_job, {**slurm, **small}),
    }
    rows: dict[str, dict[int, list[dict[str, Any]]]] = {}
    for name, (make, backends) in setups.items():
        client = _client(name, backends)
        run(client, make(3))  # warm the runtime, the simulators and the Slurm nodes
        rows[name] = {}
        for repeat in range(repeats):
            for k in (1, 2, 3):
                found = run(client, make(k))
                rows[name].setdefault(k, []).append(found)
                print(f"repeat {repeat + 1} {name} k={k}: {found['wall_s']:.1f} s", flush=True)
        client.shutdown()
    out: dict[str, Any] = {"repeats": repeats, "cpus": os.cpu_count(), "examples": {}}
    for name, by_k in rows.items():
        base = statistics.median(r["wall_s"] for r in by_k[1])
        out["examples"][name] = [
            {
                "k": k,
                "wall_s": statistics.median(r["wall_s"] for r in runs),
                "speedup": base / statistics.median(r["wall_s"] for r in runs),
                "classical_busy_s": statistics.median(
                    r["busy_s"].get("classical", 0) for r in runs
                ),
                "quantum_busy_s": statistics.median(r["busy_s"].get("quantum", 0) for r in runs),
                "energy_or_values": [
                    r["result"].get("energy", r["result"].get("expectation_values")) for r in runs
                ],
            }
            for k, runs in sorted(by_k.items())
        ]
    return out


def plot(results: dict[str, Any], path: Path) -> None:
    """Wall time and speed-up per k, one panel per example."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
    labels = {"sqd": "SQD: logical Slurm nodes", "cutting": "cutting: quantum backends"}
    for ax, (name, rows) in zip(axes, results["examples"].items(), strict=True):
        ks = [r["k"] for r in rows]
        ax.bar(ks, [r["wall_s"] for r in rows], color="C0")
        for k, r in zip(ks, rows, strict=True):
            ax.text(k, r["wall_s"], f"x{r['speedup']:.2f}", ha="center", va="bottom")
        ax.set_xticks(ks)
        ax.set_xlabel(labels[name])
        ax.set_ylabel("wall time (s)")
        ax.set_title(f"{name} (median of {results['repeats']})")
    fig.suptitle(f"hybrid jobs through the broker on {results['cpus']} CPU cores")
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main() -> None:
    """Measure, write the JSON, print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--plot", type=Path)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "hybrid_parallelism.json")
    args = parser.parse_args()
    results = measure(args.repeats)
    args.out.write_text(json.dumps(results, indent=2))
    print("| example | k | wall s | speed-up vs k=1 | classical busy s | quantum busy s |")
    print("|---|---|---|---|---|---|")
    for name, rows in results["examples"].items():
        for r in rows:
            print(
                f"| {name} | {r['k']} | {r['wall_s']:.1f} | {r['speedup']:.2f} | "
                f"{r['classical_busy_s']:.1f} | {r['quantum_busy_s']:.1f} |"
            )
    if args.plot:
        plot(results, args.plot)


if __name__ == "__main__":
    main()
