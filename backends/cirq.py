"""Cirq simulators: ``cirq`` (``cirq.Simulator``, a state vector) and ``cirq-density``
(``cirq.DensityMatrixSimulator``), both in double precision.

Circuits reach Cirq through :mod:`circuits.cirq_convert`, with their parameters as sympy
symbols. Each run of a batch is one native call over all its parameter sets: in exact mode
``simulate_expectation_values_sweep`` of every observable of the item; in sampled mode
``run_sweep`` over the runs of :func:`backends.runs.sampling_plan`, on a simulator seeded
from the batch's seed (the same seed gives the same counts). The simulator runs inside the
worker, so native ids do not survive it (``reattach=False``): a redelivered task runs again,
with the same seed.
"""

from __future__ import annotations

from importlib.metadata import version
from typing import Any, ClassVar

import cirq
import numpy as np

from backends.base import Capabilities, QuantumBatch
from backends.inprocess import InProcessSimulator, ResultLabels, SimulatorRun
from backends.options import BackendOptions, PositiveCount
from backends.runs import exact_items, exact_runs, sampling_plan
from circuits.cirq_convert import clbit_key, observable_to_cirq, sweep, to_cirq


def random_state(seed: int | None) -> np.random.RandomState | None:
    """The simulator's random state for a batch seed (any int; None: unseeded)."""
    if seed is None:
        return None
    sequence = np.random.SeedSequence([int(seed < 0), abs(seed)])
    return np.random.RandomState(np.random.MT19937(sequence))


def counts(result: cirq.Result, num_clbits: int) -> dict[str, int]:
    """Counts of one ``run`` result keyed by Qiskit-order bitstrings of ``num_clbits``.

    Keys are those of :func:`circuits.cirq_convert.to_cirq` (``c<n>`` for clbit ``n``); a
    clbit measured more than once holds its last measurement, one never measured holds 0.
    """
    bits = np.zeros((result.repetitions, num_clbits), dtype=np.uint8)
    for clbit in range(num_clbits):
        records = result.records.get(clbit_key(clbit))
        if records is not None:
            bits[:, clbit] = records[:, -1, 0]
    rows, numbers = np.unique(bits[:, ::-1], axis=0, return_counts=True)
    return {"".join(map(str, row)): int(n) for row, n in zip(rows, numbers, strict=True)}


class CirqOptions(BackendOptions):
    """Options of ``cirq``."""

    max_qubits: PositiveCount = 24
    """The widest circuit taken (raise it if this machine has the memory)."""


class CirqDensityMatrixOptions(CirqOptions):
    """Options of ``cirq-density``."""

    max_qubits: PositiveCount = 12
    """The widest circuit taken (raise it if this machine has the memory)."""


class CirqBackend(InProcessSimulator):
    """Cirq's state-vector simulator, with the options of :class:`CirqOptions`."""

    name = "cirq"
    engine = "Cirq"
    width_hint = "set the backend option max_qubits if this machine has the memory"
    Options: ClassVar[type[CirqOptions]] = CirqOptions
    config: CirqOptions
    method: ClassVar[str] = "statevector"
    simulator_name: ClassVar[str] = "cirq.Simulator"

    def __init__(self, config: BackendOptions | None = None, /, **options: Any) -> None:
        super().__init__(config, **options)
        self.max_qubits = self.config.max_qubits

    def simulator(self, seed: int | None = None) -> Any:
        """A fresh double-precision simulator, seeded for sampling."""
        return cirq.Simulator(dtype=np.complex128, seed=random_state(seed))

    @property
    def version(self) -> str:
        """``cirq-core X.Y.Z``."""
        return f"cirq-core {version('cirq-core')}"

    def capabilities(self) -> Capabilities:
        """Exact and sampled simulation; the qubit limit is the ``max_qubits`` option."""
        return Capabilities(
            kind="quantum",
            version=self.version,
            max_qubits=self.max_qubits,
            basis_gates=None,
            exact=True,
            max_concurrency=1,
            reattach=False,
            details={"method": self.method, "simulator": self.simulator_name},
        )

    def labels(self) -> ResultLabels:
        """``cirq-core X`` and the method; no device."""
        return ResultLabels(version=self.version, method=self.method)

    def run_exact(self, batch: QuantumBatch) -> SimulatorRun:
        """``simulate_expectation_values_sweep`` per run, over all its parameter sets."""
        simulator = self.simulator()
        values, calls = [], 0
        for run in exact_runs(batch):
            shape = (run.values.shape[0], len(run.observables))
            if not shape[0]:
                values.append(np.zeros(shape))
                continue
            circuit, qubits = to_cirq(run.circuit.ir)
            observables = [observable_to_cirq(obs, qubits) for obs in run.observables]
            rows = simulator.simulate_expectation_values_sweep(
                circuit, observables, sweep(run.circuit.ir, run.values), qubit_order=qubits
            )
            values.append(np.real(np.asarray(rows, dtype=complex)).reshape(shape))
            calls += 1
        evaluations = sum(v.shape[0] for v in values)
        return SimulatorRun(items=exact_items(values), evaluations=evaluations, calls=calls)

    def run_sampled(self, batch: QuantumBatch, shots: int) -> SimulatorRun:
        """``run_sweep`` per run of the sampling plan, on a simulator seeded from the batch."""
        plan = sampling_plan(batch)
        simulator = self.simulator(batch.seed)
        all_counts: list[list[dict[str, int]]] = []
        calls = 0
        for run in plan.runs:
            if not run.executions:
                all_counts.append([])
                continue
            ir = run.circuit.ir
            circuit, _ = to_cirq(ir)
            results = simulator.run_sweep(circuit, sweep(ir, run.values), repetitions=shots)
            all_counts.append([counts(result, ir.num_clbits) for result in results])
            calls += 1
        return SimulatorRun(plan.assemble(all_counts), evaluations=plan.executions, calls=calls)


class CirqDensityMatrixBackend(CirqBackend):
    """``cirq-density``: Cirq's density-matrix simulator (``max_qubits`` default 12)."""

    name = "cirq-density"
    Options = CirqDensityMatrixOptions
    method = "density_matrix"
    simulator_name = "cirq.DensityMatrixSimulator"

    def simulator(self, seed: int | None = None) -> Any:
        """A fresh double-precision density-matrix simulator, seeded for sampling."""
        return cirq.DensityMatrixSimulator(dtype=np.complex128, seed=random_state(seed))
