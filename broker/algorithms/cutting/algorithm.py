"""Circuit cutting: run a circuit wider than any allowed backend as narrower pieces.

The circuit is cut with qiskit-addon-cutting (at the gates between user-given partition
labels, or where ``find_cuts`` chooses for a width limit) into subcircuits, and each
quasi-probability (QPD) sample of each subcircuit, per commuting group of its observables,
becomes a *subexperiment*: a circuit that measures into an ``observable_measurements`` and
a ``qpd_measurements`` register. Step 1 sends every subexperiment at once, dealt in turn
over ``backends`` (several tasks per backend when there are many), so they run in
parallel. Step 2 is a classical task (:mod:`broker.algorithms.cutting.tasks`) that splits
the counts back into the two registers, calls ``reconstruct_expectation_values``, bounds the
error (see that module's docstring: ``BOUND_SIGMAS`` times an upper bound on the standard
deviation, which grows like ``sqrt(sampling_overhead / shots)``), and computes the exact
value of the uncut circuit as a reference when it is small enough.
"""

from __future__ import annotations

from typing import Any

from backends.base import ClassicalResult, ClassicalSpec, QuantumBatch, QuantumItem, QuantumResult
from broker.algorithms.base import (
    Algorithm,
    StepOutcome,
    TaskResult,
    check_backend_kind,
    classical_need,
    classical_task,
    invalid,
)
from broker.algorithms.cutting import plan
from broker.algorithms.cutting.inputs import CuttingInputs, ParameterCount, QasmCircuit
from broker.algorithms.cutting.tasks import REFERENCE_MAX_QUBITS
from broker.core.models import JobSpec, TaskRequest
from broker.errors import InvalidJob
from circuits.errors import CircuitError
from policies.admission import Need

MAX_SUBEXPERIMENTS = 20_000
"""Most subexperiments a job may generate (exact weights multiply them by up to 6 per cut
gate, 8 per cut wire)."""
_RECONSTRUCT_LIMIT_S = 600


class Cutting(Algorithm):
    """Circuit cutting with qiskit-addon-cutting."""

    name = "cutting"
    inputs_model = CuttingInputs

    def check(self, inputs: CuttingInputs, job: JobSpec) -> None:
        """The circuit, observables and cut fit together; every backend is a quantum one; the
        subexperiments stay within :data:`MAX_SUBEXPERIMENTS`."""
        where = "circuit.qasm" if isinstance(inputs.circuit, QasmCircuit) else "circuit"
        try:
            width = inputs.uncut.num_qubits
        except ParameterCount as exc:
            raise invalid("circuit.parameters", str(exc)) from None
        except CircuitError as exc:
            raise invalid(where, str(exc)) from None
        for index, obs in enumerate(inputs.observables):
            if obs.num_qubits != width:
                raise invalid(
                    f"observables.{index}",
                    f"acts on {obs.num_qubits} qubits but the circuit has {width}",
                )
        if not inputs.paulis:
            raise invalid("observables", "only identity terms: there is nothing to measure")
        self._check_cut_inputs(inputs, width)
        for index, name in enumerate(inputs.backends or []):
            check_backend_kind(f"algorithm.inputs.backends[{index}]", name, "quantum")
        if inputs.backends and len(set(inputs.backends)) != len(inputs.backends):
            raise invalid("backends", "names a backend twice")
        path = "partition" if inputs.partition is not None else "max_subcircuit_qubits"
        try:
            problem = inputs.problem
        except ValueError as exc:
            raise invalid(path, f"cannot cut the circuit there: {exc}") from None
        count = problem.max_subexperiments(inputs.samples)
        if count > MAX_SUBEXPERIMENTS:
            raise invalid(
                "num_samples",
                f"{len(problem.bases)} cuts give up to {count} subexperiments, more than "
                f"{MAX_SUBEXPERIMENTS}; set num_samples (e.g. 1000) to sample the weights",
            )

    @staticmethod
    def _check_cut_inputs(inputs: CuttingInputs, width: int) -> None:
        if inputs.partition is None and inputs.max_subcircuit_qubits is None:
            raise invalid(
                "partition", "give how to cut: partition (labels) or max_subcircuit_qubits"
            )
        if inputs.partition is not None and inputs.max_subcircuit_qubits is not None:
            raise invalid(
                "partition", "give either partition (labels) or max_subcircuit_qubits, not both"
            )
        if inputs.partition is not None and len(inputs.partition) != width:
            raise invalid(
                "partition",
                f"has {len(inputs.partition)} labels but the circuit has {width} qubits",
            )
        if inputs.cut_finding is not None and inputs.max_subcircuit_qubits is None:
            raise invalid("cut_finding", "only applies with max_subcircuit_qubits")

    def _backends(self, inputs: CuttingInputs, job: JobSpec) -> list[str]:
        return list(inputs.backends or [job.backend])

    def needs(self, inputs: CuttingInputs, job: JobSpec) -> list[Need]:
        """Per backend, its share of the most subexperiments the cut can give (evaluations,
        and shots each); the reconstruction task's time."""
        count = inputs.problem.max_subexperiments(inputs.samples)
        shares: dict[str, int] = {}
        for name in plan.assign_round_robin(count, self._backends(inputs, job)):
            shares[name] = shares.get(name, 0) + 1
        needs = []
        for name, share in shares.items():
            needs.append(Need(name, "evaluations", float(share)))
            needs.append(Need(name, "shots", float(share * inputs.shots)))
        needs.append(classical_need(job, _reconstruct_spec(None)))
        return needs

    def start(self, inputs: CuttingInputs, job: JobSpec, seed: int) -> StepOutcome:
        """Generate the subexperiments and send them all, dealt over the backends."""
        problem = inputs.problem
        experiments, coefficients = plan.generate(problem, inputs.samples, seed)
        dealt = plan.assign_round_robin(len(experiments), self._backends(inputs, job))
        per_backend: dict[str, list[int]] = {}
        for index, name in enumerate(dealt):
            per_backend.setdefault(name, []).append(index)
        where: list[list[Any]] = [[] for _ in experiments]
        tasks: list[TaskRequest] = []
        for name, indices in per_backend.items():
            for start in range(0, len(indices), inputs.per_task):
                chunk = indices[start : start + inputs.per_task]
                key = f"sub-{len(tasks):03d}"
                items = [QuantumItem(circuit=experiments[i].circuit.qasm) for i in chunk]
                batch = QuantumBatch(items=items, shots=inputs.shots, seed=seed + len(tasks))
                tasks.append(TaskRequest(key=key, kind="quantum", backend=name, quantum=batch))
                for item, i in enumerate(chunk):
                    where[i] = [key, item]
        state: dict[str, Any] = {
            "phase": "sample",
            "seed": seed,
            "coefficients": [list(c) for c in coefficients],
            "experiments": [
                {"label": e.label, "task": w[0], "item": w[1], "layout": e.layout.to_json()}
                for e, w in zip(experiments, where, strict=True)
            ],
            "subobservables": {
                label: [p.to_label() for p in paulis]
                for label, paulis in problem.subobservables.items()
            },
            "widths": problem.widths,
            "backends": {name: len(indices) for name, indices in per_backend.items()},
            "tasks": len(tasks),
            "cuts": len(problem.bases),
            "wire_cuts": problem.wire_cuts,
            "sampling_overhead": problem.sampling_overhead,
        }
        return StepOutcome(state=state, tasks=tasks, progress=_progress(state, 0, "sampling"))

    def step(
        self,
        inputs: CuttingInputs,
        job: JobSpec,
        state: dict[str, Any],
        results: dict[str, TaskResult],
    ) -> StepOutcome:
        """Hand the counts to the reconstruction task, or finish with its output."""
        total = len(state["experiments"])
        if state["phase"] == "sample":
            spec = _reconstruct_spec(self._payload(inputs, state, results))
            state["phase"] = "reconstruct"
            progress = _progress(state, total, "reconstructing")
            return StepOutcome(state, [classical_task(job, "reconstruct", spec)], progress)
        done = results["reconstruct"]
        assert isinstance(done, ClassicalResult)
        output = done.output if isinstance(done.output, dict) else {}
        if "expectation_values" not in output:
            raise InvalidJob("the reconstruction task returned no expectation values")
        result: dict[str, Any] = {
            **{k: output[k] for k in ("expectation_values", "bound", "std_error_bound")},
            "bound_sigmas": output["bound_sigmas"],
            "reference": output["reference"],
            "subexperiments": total,
            "backends": state["backends"],
            "tasks": state["tasks"],
            "sampling_overhead": state["sampling_overhead"],
            "cuts": state["cuts"],
            "wire_cuts": state["wire_cuts"],
            "subcircuit_widths": state["widths"],
            "coefficients": len(state["coefficients"]),
            "shots": inputs.shots,
            "num_samples": inputs.num_samples,
        }
        if output["reference"] is not None:
            result["error"] = [
                v - r
                for v, r in zip(output["expectation_values"], output["reference"], strict=True)
            ]
        return StepOutcome(state, progress=_progress(state, total, "done"), result=result)

    def _payload(
        self, inputs: CuttingInputs, state: dict[str, Any], results: dict[str, TaskResult]
    ) -> dict[str, Any]:
        partitions: dict[str, Any] = {
            label: {"subobservables": subs, "experiments": []}
            for label, subs in state["subobservables"].items()
        }
        for exp in state["experiments"]:
            res = results[exp["task"]]
            assert isinstance(res, QuantumResult)
            counts = res.items[exp["item"]].counts
            if not counts:
                raise InvalidJob(f"task {exp['task']} returned no counts for a subexperiment")
            partitions[exp["label"]]["experiments"].append(
                {"counts": counts[0], "layout": exp["layout"]}
            )
        small = inputs.reference and inputs.uncut.num_qubits <= REFERENCE_MAX_QUBITS
        return {
            "coefficients": state["coefficients"],
            "paulis": inputs.paulis,
            "observables": [obs.model_dump() for obs in inputs.observables],
            "num_samples": None if inputs.num_samples == "exact" else inputs.num_samples,
            "partitions": partitions,
            "reference": inputs.uncut.qasm if small else None,
        }

    def circuits(self, inputs: CuttingInputs) -> list[str]:
        """The uncut circuit."""
        return [inputs.uncut.sha256]

    def observables(self, inputs: CuttingInputs) -> list[str]:
        """The observables."""
        return [obs.sha256 for obs in inputs.observables]


def _progress(state: dict[str, Any], done: int, phase: str) -> dict[str, Any]:
    """Subexperiments ``done`` of ``total`` (the keys ``qcb``'s progress bar reads)."""
    progress = {
        "phase": phase,
        "done": done,
        "total": len(state["experiments"]),
        "backends": state["backends"],
    }
    if phase == "reconstructing":
        progress["running"] = ["reconstruction"]
    return progress


def _reconstruct_spec(payload: dict[str, Any] | None) -> ClassicalSpec:
    return ClassicalSpec(
        name="cutting-reconstruct",
        entrypoint="broker.algorithms.cutting.tasks:reconstruct",
        payload=payload,
        time_limit_s=_RECONSTRUCT_LIMIT_S,
    )
