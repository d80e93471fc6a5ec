"""Qiskit Aer simulators: ``aer`` (statevector), ``aer-mps``, ``aer-density``, ``aer-noisy``
(a device's noise model) and ``aer-gpu`` (statevector on an NVIDIA GPU).

A batch runs in one primitive call: exact expectation values through Aer's ``EstimatorV2``
(one PUB per circuit with all its parameter sets and observables), sampled ones through
``SamplerV2`` over the runs of :func:`backends.runs.sampling_plan`. ``aer-noisy`` first
transpiles each circuit to its device (qiskit-ibm-runtime's fake devices: the gates, the
coupling map and the noise model of a real IBM device at a recorded calibration) and maps
the observables onto the physical qubits. The simulator runs inside the worker, so a native
id lives only as long as the worker process (``reattach=False``): a redelivered task simply
runs again, with the same seed.
"""

from __future__ import annotations

from importlib.metadata import version
from typing import Any, ClassVar, Literal, get_args

import numpy as np
from pydantic import Field
from qiskit import QuantumCircuit
from qiskit.quantum_info import SparsePauliOp
from qiskit.transpiler import Target
from qiskit_aer import AerSimulator
from qiskit_aer.primitives import EstimatorV2, SamplerV2

from backends.base import Capabilities, QuantumBatch
from backends.errors import BackendUnavailable
from backends.fake_devices import fake_device
from backends.inprocess import InProcessSimulator, ResultLabels, SimulatorRun
from backends.options import BackendOptions, PositiveCount
from backends.runs import exact_items, exact_runs, sampling_plan
from circuits.canonical import Circuit
from circuits.observables import PauliSum

TRANSPILE_SEED = 7
"""The transpiler's seed for device models: one layout per circuit, whatever the batch seed."""


def _as_sparse(obs: PauliSum) -> SparsePauliOp:
    return SparsePauliOp.from_list([(t.pauli, t.coeff) for t in obs.terms]).simplify(atol=0)


def _qiskit_values(circuit: Circuit, qc: QuantumCircuit, values: np.ndarray) -> np.ndarray:
    """Parameter values re-ordered from the canonical order to ``qc.parameters`` order."""
    order = [circuit.parameters.index(p.name) for p in qc.parameters]
    return values[:, order]


Method = Literal["statevector", "matrix_product_state", "density_matrix"]
METHODS: tuple[str, ...] = get_args(Method)


class AerOptions(BackendOptions):
    """Options of ``aer`` and ``aer-gpu``."""

    method: Method = "statevector"
    """Aer's simulation method."""
    max_qubits: PositiveCount | None = None
    """The widest circuit taken (default: what Aer's memory allows, or the device's width)."""
    device: str | None = None
    """A fake device (``fake_manila``, ``fake_torino``...) whose noise and gates to simulate."""
    optimization_level: int = Field(default=1, ge=0, le=3)
    """The transpiler's optimization level for a device model."""


class AerMPSOptions(AerOptions):
    """Options of ``aer-mps``."""

    method: Method = "matrix_product_state"
    """Aer's simulation method."""


class AerDensityMatrixOptions(AerOptions):
    """Options of ``aer-density``."""

    method: Method = "density_matrix"
    """Aer's simulation method."""


class AerNoisyOptions(AerOptions):
    """Options of ``aer-noisy``: density matrix, so that exact mode gives noisy values."""

    method: Method = "density_matrix"
    """Aer's simulation method."""
    device: str | None = "fake_manila"
    """A fake device (``fake_manila``, ``fake_torino``...) whose noise and gates to simulate."""


class AerBackend(InProcessSimulator):
    """Qiskit Aer, with the options of :class:`AerOptions`."""

    name = "aer"
    engine = "Aer"
    Options: ClassVar[type[AerOptions]] = AerOptions
    config: AerOptions
    aer_device: ClassVar[str] = "CPU"

    def __init__(self, config: BackendOptions | None = None, /, **options: Any) -> None:
        super().__init__(config, **options)
        self.method: str = self.config.method
        self.device_name = self.config.device
        self.device = fake_device(self.device_name) if self.device_name else None
        self.optimization_level = self.config.optimization_level
        self._simulator = self._make_simulator()
        self._transpiled: dict[str, QuantumCircuit] = {}
        self._target: Target | None = None
        self._capabilities: Capabilities | None = None

    def _make_simulator(self) -> AerSimulator:
        if self.aer_device != "CPU" and self.aer_device not in AerSimulator().available_devices():
            raise BackendUnavailable(
                f"{self.name} needs Aer built with {self.aer_device} support",
                hint="pip install qiskit-aer-gpu (instead of qiskit-aer) on a machine with CUDA",
            )
        if self.device is not None:
            return AerSimulator.from_backend(self.device, method=self.method)
        return AerSimulator(method=self.method, device=self.aer_device)

    def capabilities(self) -> Capabilities:
        """Exact and sampled simulation; the qubit limit comes from Aer (memory bound) or the
        device model."""
        if self._capabilities is None:
            self._capabilities = self._describe()
        return self._capabilities

    def _describe(self) -> Capabilities:
        limit = self.config.max_qubits or self._simulator.num_qubits
        details: dict[str, Any] = {"method": self.method, "device": self.aer_device}
        basis = None
        if self.device is not None:
            limit = min(int(limit), self.device.num_qubits)
            basis = sorted(self.device.operation_names)
            details["model"] = self.device.name
        return Capabilities(
            kind="quantum",
            version=f"qiskit-aer {version('qiskit-aer')}",
            max_qubits=int(limit),
            basis_gates=basis,
            exact=True,
            max_concurrency=1,
            reattach=False,
            details=details,
        )

    def labels(self) -> ResultLabels:
        """``qiskit-aer X``, the method, and the device model or Aer's device."""
        return ResultLabels(
            version=f"qiskit-aer {version('qiskit-aer')}",
            method=self.method,
            device=self.device.name if self.device is not None else self.aer_device,
            calibration_time=self._calibration_time(),
        )

    def _calibration_time(self) -> str | None:
        if self.device is None:
            return None
        props = self.device.properties()
        when = getattr(props, "last_update_date", None) if props is not None else None
        return when.isoformat() if when is not None else None

    def _prepared(self, circuit: Circuit) -> QuantumCircuit:
        """The circuit as Aer will run it: transpiled to the device model, or to the gates
        the simulation method supports (``ch`` for every method, controlled rotations for
        MPS and density matrix).

        Controlled rotations (``cp``, ``crx``, ``cry``, ``crz``) are decomposed first:
        qiskit-aer 0.18 binds their parameters wrongly when it binds them itself (seen as
        results for an angle of 0; ``tests/unit/backends/test_aer.py`` checks each).

        Done once per circuit: a VQE sends the same parameterized ansatz at every step, with
        a new seed each step, and transpiling is slower than simulating a small circuit. The
        layout on a device model is therefore chosen with a fixed transpiler seed
        (:data:`TRANSPILE_SEED`), not the batch's: every step of a job runs on the same
        physical qubits, as it would on hardware, and results stay reproducible.
        """
        key = circuit.sha256
        if key not in self._transpiled:
            from qiskit import transpile
            from qiskit.transpiler import generate_preset_pass_manager

            qc = circuit.to_qiskit().decompose(gates_to_decompose=["cp", "crx", "cry", "crz"])
            if self.device is not None:
                pm = generate_preset_pass_manager(
                    backend=self.device,
                    optimization_level=self.optimization_level,
                    seed_transpiler=TRANSPILE_SEED,
                )
                qc = pm.run(qc)
            else:
                # Aer rebuilds its Target on every access (about 3 ms each, dozens of
                # accesses per transpile): take it once per backend instance.
                if self._target is None:
                    self._target = self._simulator.target
                qc = transpile(qc, target=self._target, optimization_level=0)
            if len(self._transpiled) >= 64:
                self._transpiled.pop(next(iter(self._transpiled)))
            self._transpiled[key] = qc
        return self._transpiled[key]

    def _backend_options(self) -> dict[str, Any]:
        options: dict[str, Any] = {"method": self.method, "device": self.aer_device}
        if self.device is not None:
            options["noise_model"] = self._simulator.options.noise_model
        return options

    def run_exact(self, batch: QuantumBatch) -> SimulatorRun:
        """All items in one ``EstimatorV2`` call: one PUB per circuit."""
        run_options: dict[str, Any] = {}
        if batch.seed is not None:
            run_options["seed"] = batch.seed
        options: dict[str, Any] = {
            "default_precision": 0.0,
            "backend_options": self._backend_options(),
            "run_options": run_options,
        }
        pubs = []
        for run in exact_runs(batch):
            isa = self._prepared(run.circuit)
            values = _qiskit_values(run.circuit, isa, run.values)
            observables = [_as_sparse(obs) for obs in run.observables]
            if isa.layout is not None:
                observables = [obs.apply_layout(isa.layout) for obs in observables]
            pubs.append((isa, [observables], values[:, None, :]))
        results = EstimatorV2(options=options).run(pubs).result()
        items = exact_items([np.asarray(pub.data.evs, dtype=float) for pub in results])
        evaluations = sum(len(item.parameter_values) for item in batch.items)
        return SimulatorRun(items=items, evaluations=evaluations, calls=1)

    def run_sampled(self, batch: QuantumBatch, shots: int) -> SimulatorRun:
        """The sampling plan's runs in one ``SamplerV2`` call."""
        plan = sampling_plan(batch)
        pubs: list[tuple[QuantumCircuit, np.ndarray]] = []
        for run in plan.runs:
            isa = self._prepared(run.circuit)
            pubs.append((isa, _qiskit_values(run.circuit, isa, run.values)))
        options = {"backend_options": self._backend_options()}
        sampler = SamplerV2(default_shots=shots, seed=batch.seed, options=options)
        results = sampler.run(pubs).result()
        counts = [
            [res.join_data().get_counts(i) for i in range(len(pub[1]))]
            for res, pub in zip(results, pubs, strict=True)
        ]
        return SimulatorRun(items=plan.assemble(counts), evaluations=plan.executions, calls=1)


class AerMPSBackend(AerBackend):
    """``aer-mps``: Aer's matrix-product-state simulator (wide, weakly entangled circuits)."""

    name = "aer-mps"
    Options = AerMPSOptions


class AerDensityMatrixBackend(AerBackend):
    """``aer-density``: Aer's density-matrix simulator."""

    name = "aer-density"
    Options = AerDensityMatrixOptions


class AerNoisyBackend(AerBackend):
    """``aer-noisy``: a device's noise model, gates and coupling map (default: IBM Manila, a
    5-qubit fake device from qiskit-ibm-runtime; option ``device``), on the density-matrix
    method so that exact mode gives the noisy expectation values."""

    name = "aer-noisy"
    Options = AerNoisyOptions


class AerGPUBackend(AerBackend):
    """``aer-gpu``: Aer's statevector on an NVIDIA GPU (registered only where there is one)."""

    name = "aer-gpu"
    aer_device = "GPU"
