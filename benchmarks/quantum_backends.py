"""Quantum backends through the broker against calling them directly, and the gain of batching.

Part 1, one run: a 20-qubit VQE (20-term Hamiltonian: 10 ZZ, 5 X, 5 YY; RealAmplitudes with
one repetition, 40 parameters; SPSA, 3 circuit evaluations per step, exact expectation
values) runs ``--steps`` steps on each state-vector simulator through the broker (SDK ->
store -> scheduler -> Celery worker -> backend -> store, warm embedded runtime), then the very
batches that the broker's tasks carried (read back from the store) are replayed directly on
the same backend class in this process. The ratio is broker wall time over direct time.

Part 2, same run: the gain of batching. 50 distinct 12-qubit circuits (RealAmplitudes, two
repetitions, each bound to its own random point) with one 12-term observable go to each
state-vector backend once as one batch (one call) and once as 50 one-circuit batches (one
call per circuit), exactly; the IonQ stand-in server of the tests (real
HTTP, 1,000 shots) shows the gain where each call is a network round trip and a queued job.

    .venv/bin/python benchmarks/quantum_backends.py [--steps 2] [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from qiskit.circuit.library import real_amplitudes
from sqlalchemy import select

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from backends import registry  # noqa: E402
from backends.base import QuantumBackend, QuantumBatch, QuantumItem, QuantumResult  # noqa: E402
from circuits.canonical import Circuit  # noqa: E402
from circuits.observables import PauliSum  # noqa: E402

VQE_BACKENDS = ["aer", "aer-mps", "pennylane", "lightning", "cirq", "braket"]
# Density-matrix methods are left out of part 2: at 12 qubits each circuit costs seconds
# (4^12 amplitudes), which hides any per-call cost.
BATCH_BACKENDS = ["aer", "aer-mps", "pennylane", "lightning", "cirq", "braket"]


def hamiltonian(n: int = 20) -> PauliSum:
    """10 ZZ on neighbours, 5 X, 5 YY (the environment notes' 20-term benchmark)."""
    terms: list[tuple[str, float]] = []

    def label(letters: dict[int, str]) -> str:
        return "".join(letters.get(n - 1 - k, "I") for k in range(n))

    for i in range(10):
        terms.append((label({2 * i: "Z", (2 * i + 1) % n: "Z"}), 0.5 + 0.01 * i))
    for i in range(5):
        terms.append((label({4 * i + 1: "X"}), -0.3))
        terms.append((label({4 * i + 2: "Y", 4 * i + 3: "Y"}), 0.2))
    return PauliSum.from_list(terms)


def vqe_job(backend: str, steps: int) -> dict[str, Any]:
    return {
        "name": f"bench-{backend}",
        "proposal": "local",
        "backend": backend,
        "seed": 3,
        "algorithm": {
            "name": "vqe",
            "inputs": {
                "hamiltonian": [{"pauli": t.pauli, "coeff": t.coeff} for t in hamiltonian().terms],
                "ansatz": {"library": "real_amplitudes", "reps": 1},
                "optimizer": {"name": "spsa", "maxiter": steps},
                "reference": False,
            },
        },
    }


def run(backend: QuantumBackend, batch: QuantumBatch) -> QuantumResult:
    native_id = backend.submit(batch, task_id="bench")
    while not backend.status(native_id).state.final:
        time.sleep(0.01)
    return backend.result(native_id)


def timed(call: Callable[[], object]) -> float:
    started = time.perf_counter()
    call()
    return time.perf_counter() - started


def vqe_part(client: Any, steps: int, repeats: int) -> list[dict[str, Any]]:
    from broker.store.db import Database
    from broker.store.schema import tasks

    db = Database(client.settings.store_url)
    rows = []
    for name in VQE_BACKENDS:
        backend = registry.quantum(name)
        client.wait(client.submit(vqe_job(name, 1)))  # warm the worker's backend
        broker_s, direct_s = [], []
        for _ in range(repeats):
            started = time.perf_counter()
            job_id = client.submit(vqe_job(name, steps))
            status = client.wait(job_id)
            broker_s.append(time.perf_counter() - started)
            assert status.state == "COMPLETED", status.message
            with db.read() as conn:
                payloads = conn.execute(
                    select(tasks.c.payload)
                    .where(tasks.c.job_id == job_id, tasks.c.kind == "quantum")
                    .order_by(tasks.c.step)
                ).scalars()
                batches = [QuantumBatch.model_validate(p) for p in payloads]
            run(backend, batches[0])  # warm this process's backend
            started = time.perf_counter()
            for b in batches:
                run(backend, b)
            direct_s.append(time.perf_counter() - started)
        b, d = statistics.median(broker_s), statistics.median(direct_s)
        rows.append(
            {
                "backend": name,
                "quantum_tasks": len(batches),
                "direct_s": round(d, 3),
                "broker_s": round(b, 3),
                "overhead_s": round(b - d, 3),
                "ratio": round(b / d, 2),
            }
        )
        print(rows[-1], flush=True)
    return rows


def batch_items(count: int = 50, n: int = 12, *, measured: bool = False) -> list[QuantumItem]:
    template = real_amplitudes(n, reps=2)
    rng = np.random.default_rng(5)
    observable = PauliSum.from_list(
        [("".join("Z" if k in (i, i + 1) else "I" for k in range(n)), 1.0) for i in range(n - 1)]
        + [("X" + "I" * (n - 1), 0.5)]
    )
    items = []
    for _ in range(count):
        qc = template.assign_parameters(rng.uniform(-np.pi, np.pi, template.num_parameters))
        if measured:
            qc.measure_all()
            items.append(QuantumItem(circuit=Circuit.from_qiskit(qc).qasm))
        else:
            items.append(
                QuantumItem(circuit=Circuit.from_qiskit(qc).qasm, observables=[observable])
            )
    return items


def batching_row(
    name: str, backend: QuantumBackend, items: list[QuantumItem], shots: int | None, repeats: int
) -> dict[str, Any]:
    whole = QuantumBatch(items=items, shots=shots, seed=1)
    single = [QuantumBatch(items=[item], shots=shots, seed=1) for item in items]
    run(backend, single[0])  # warm
    one_call, per_circuit = [], []
    for _ in range(repeats):
        one_call.append(timed(lambda: run(backend, whole)))
        per_circuit.append(timed(lambda: [run(backend, b) for b in single]))
    calls = run(backend, whole).calls
    a, b = statistics.median(one_call), statistics.median(per_circuit)
    return {
        "backend": name,
        "mode": "exact" if shots is None else f"{shots} shots",
        "native_calls_batched": calls,
        "one_call_s": round(a, 3),
        "one_call_per_circuit_s": round(b, 3),
        "gain": round(b / a, 2),
    }


def batching_part(repeats: int) -> list[dict[str, Any]]:
    rows = []
    exact_items = batch_items()
    for name in BATCH_BACKENDS:
        rows.append(batching_row(name, registry.quantum(name), exact_items, None, repeats))
        print(rows[-1], flush=True)
    try:
        from tests.integration.providers.ionq_standin import IonQStandIn  # type: ignore
    except ImportError as exc:
        print(f"IonQ stand-in not available: {exc}")
        return rows
    server = IonQStandIn().start()
    try:
        ionq = registry.quantum("ionq", url=server.url, api_key=server.api_key, poll_seconds=0.05)
        rows.append(batching_row("ionq (stand-in)", ionq, batch_items(measured=True), 1000, 1))
        print(rows[-1], flush=True)
    finally:
        server.stop()
    return rows


def table(rows: list[dict[str, Any]]) -> str:
    keys = list(rows[0])
    lines = ["| " + " | ".join(keys) + " |", "|" + "---|" * len(keys)]
    lines += ["| " + " | ".join(str(r[k]) for k in keys) + " |" for r in rows]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--steps", type=int, default=2, help="VQE steps per run")
    parser.add_argument("--repeats", type=int, default=3, help="runs per backend and path")
    parser.add_argument(
        "--out", type=Path, default=Path(__file__).with_name("quantum_backends.json")
    )
    args = parser.parse_args()
    os.environ["QCB_HOME"] = tempfile.mkdtemp(prefix="qcb-bench-")
    from broker import Client

    client = Client()
    try:
        vqe = vqe_part(client, args.steps, args.repeats)
    finally:
        client.shutdown()
    batching = batching_part(args.repeats)
    args.out.write_text(json.dumps({"vqe_20q": vqe, "batching_12q_50": batching}, indent=2))
    print("\n## 20-qubit VQE steps: broker against direct\n")
    print(table(vqe))
    print("\n## 12 qubits, 50 circuits: one call against one call per circuit\n")
    print(table(batching))


if __name__ == "__main__":
    main()
