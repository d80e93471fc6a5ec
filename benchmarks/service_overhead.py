"""Broker overhead per quantum task in service mode, against raw Celery on the same Redis.

The measurements, the baseline and the report live in the ``service`` package next to this
file (:mod:`service`, whose docstring says what is measured); this is the command:

    .venv/bin/python benchmarks/service_overhead.py [--quick]

It writes ``service_overhead.json`` (every figure, sample and phase) next to itself and
prints the table.
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from service.measure import load, measure
from service.report import analyse, environment, print_report


def parse_args() -> argparse.Namespace:
    """The command's options (``--quick`` sets smaller counts)."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--warmup", type=int, default=20, help="unmeasured jobs (and tasks)")
    parser.add_argument("--samples", type=int, default=200, help="sequential jobs (and tasks)")
    parser.add_argument("--burst", type=int, default=300, help="jobs (and tasks) sent at once")
    parser.add_argument("--threads", type=int, default=8, help="client threads of a burst")
    parser.add_argument("--repeats", type=int, default=2, help="bursts per path (alternated)")
    parser.add_argument(
        "--long-maxiter", type=int, default=None, help="cap the long job's steps (default: none)"
    )
    parser.add_argument(
        "--capacity",
        type=int,
        default=2,
        help="aer's capacity in the stack's backends file: tasks at once in the deployment "
        "(default 2, one per worker process; 0: no entry, aer's own max_concurrency of 1)",
    )
    parser.add_argument(
        "--quick", action="store_true", help="5 warm-up, 30 samples, bursts of 60, long job 20"
    )
    parser.add_argument(
        "--out", type=Path, default=Path(__file__).with_name("service_overhead.json")
    )
    parser.add_argument("--keep", action="store_true", help="keep the work folder (logs)")
    args = parser.parse_args()
    if args.quick:
        args.warmup, args.samples, args.burst, args.repeats = 5, 30, 60, 1
        args.long_maxiter = args.long_maxiter or 20
    return args


def main() -> None:
    """Measure, write the JSON file, print the report."""
    args = parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="qcb-svc-bench-"))
    workdir.chmod(0o711)  # classical tasks run as other accounts pass through it
    print(f"work folder {workdir}; load {load()}", flush=True)
    started = time.perf_counter()
    measured = measure(args, workdir)
    results: dict[str, Any] = {
        "environment": environment(),
        "args": {k: v for k, v in vars(args).items() if k != "out"},
        **analyse(measured, args),
        "seconds": round(time.perf_counter() - started, 1),
    }
    args.out.write_text(json.dumps(results, indent=2, default=str) + "\n")
    if not args.keep:
        shutil.rmtree(workdir, ignore_errors=True)
    print_report(results)


if __name__ == "__main__":
    main()
