"""Broker overhead per VQE step against calling Aer directly, in one process run.

For each problem the same VQE (same ansatz, optimizer, seed and fixed number of steps) runs
twice: through the broker (SDK -> store -> scheduler -> Celery worker -> aer backend -> store)
on a warm embedded runtime, and directly (the optimizer calling Aer's EstimatorV2 in this
process). Both must reach the same energy; the difference in wall time per step is the
broker's overhead.

    .venv/bin/python benchmarks/vqe_overhead.py [--steps 40] [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from qiskit_aer.primitives import EstimatorV2

from broker.algorithms import optimizers
from broker.algorithms.vqe import VQEInputs

H2 = (
    "-1.052373245772859 * II + 0.39793742484318045 * IZ - 0.39793742484318045 * ZI"
    " - 0.01128010425623538 * ZZ + 0.18093119978423156 * XX"
)


def tfim(n: int, j: float = 1.0, h: float = 1.0) -> str:
    """Transverse-field Ising chain (open): -J sum Z_i Z_i+1 - h sum X_i."""
    terms = []
    for i in range(n - 1):
        label = ["I"] * n
        label[i] = label[i + 1] = "Z"
        terms.append(f"-{j} * {''.join(label)}")
    for i in range(n):
        label = ["I"] * n
        label[i] = "X"
        terms.append(f"-{h} * {''.join(label)}")
    return " ".join(t if k == 0 else t.replace("-", "- ", 1) for k, t in enumerate(terms))


def job(name: str, hamiltonian: str, reps: int, steps: int) -> dict[str, Any]:
    return {
        "name": name,
        "proposal": "local",
        "backend": "aer",
        "seed": 7,
        "algorithm": {
            "name": "vqe",
            "inputs": {
                "hamiltonian": hamiltonian,
                "ansatz": {"library": "real_amplitudes", "reps": reps},
                "optimizer": {"name": "adam", "maxiter": steps, "gtol": 1e-12},
                "reference": False,
            },
        },
    }


def direct(spec: dict[str, Any]) -> tuple[float, float, int]:
    """The same VQE calling Aer's EstimatorV2 in-process; (seconds, energy, steps)."""
    inputs = VQEInputs.model_validate(spec["algorithm"]["inputs"])
    circuit = inputs.circuit
    qc = circuit.to_qiskit()
    order = [circuit.parameters.index(p.name) for p in qc.parameters]
    observable = {t.pauli: t.coeff for t in inputs.hamiltonian.terms}
    seed = spec["seed"]
    started = time.perf_counter()
    x0 = np.random.default_rng(seed).uniform(-np.pi / 4, np.pi / 4, len(circuit.parameters))
    opt = optimizers.start(inputs.optimizer, x0.tolist(), seed)
    estimator = EstimatorV2(options={"default_precision": 0.0})
    while not opt.done:
        points = np.asarray(opt.ask())[:, order]
        evs = estimator.run([(qc, observable, points)]).result()[0].data.evs
        opt.tell([float(v) for v in evs])
    return time.perf_counter() - started, opt.state["best_value"], opt.state["iteration"]


def brokered(client: Any, spec: dict[str, Any]) -> tuple[float, float, int]:
    """Submit through the SDK and wait; (seconds from submit to final, energy, steps)."""
    started = time.perf_counter()
    job_id = client.submit(spec)
    status = client.wait(job_id)
    elapsed = time.perf_counter() - started
    assert status.state == "COMPLETED", status.message
    result = client.result(job_id).result
    return elapsed, result["energy"], result["iterations"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=40, help="VQE steps per run")
    parser.add_argument("--repeats", type=int, default=3, help="runs per problem and path")
    parser.add_argument("--out", type=Path, default=Path(__file__).with_name("results.json"))
    args = parser.parse_args()

    home = tempfile.mkdtemp(prefix="qcb-bench-")
    os.environ["QCB_HOME"] = home
    from broker import Client

    client = Client()
    problems = [
        ("H2 (2 qubits, 4 params, 9 circuits/step)", job("h2", H2, 1, args.steps)),
        ("TFIM (12 qubits, 36 params, 73 circuits/step)", job("tfim12", tfim(12), 2, args.steps)),
    ]
    brokered(client, job("warm-up", H2, 1, 2))  # start the runtime and import everything
    rows = []
    for label, spec in problems:
        d_times, b_times = [], []
        for _ in range(args.repeats):
            d_sec, d_energy, d_steps = direct(spec)
            b_sec, b_energy, b_steps = brokered(client, spec)
            assert d_steps == b_steps == args.steps
            assert abs(d_energy - b_energy) < 1e-9, (d_energy, b_energy)
            d_times.append(d_sec)
            b_times.append(b_sec)
        d_ms = statistics.median(d_times) / args.steps * 1000
        b_ms = statistics.median(b_times) / args.steps * 1000
        rows.append(
            {
                "problem": label,
                "steps": args.steps,
                "direct_ms_per_step": round(d_ms, 2),
                "broker_ms_per_step": round(b_ms, 2),
                "overhead_ms_per_step": round(b_ms - d_ms, 2),
                "ratio": round(b_ms / d_ms, 2),
            }
        )
    client.shutdown()
    args.out.write_text(json.dumps(rows, indent=2) + "\n")
    print("| problem | steps | direct ms/step | broker ms/step | overhead ms/step | ratio |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['problem']} | {r['steps']} | {r['direct_ms_per_step']} | "
            f"{r['broker_ms_per_step']} | {r['overhead_ms_per_step']} | {r['ratio']} |"
        )


if __name__ == "__main__":
    main()
