"""SQD: sample-based quantum diagonalization (Robledo-Moreno et al., 2024), with
``qiskit-addon-sqd``.

The job runs as a chain of steps, each a set of tasks that the broker runs at once:

1. ``problem`` (classical): the active-space integrals in the Hartree-Fock basis, the FCI
   reference energy when the space is small, and the LUCJ circuit from CCSD amplitudes
   (:func:`broker.algorithms.sqd.tasks.problem`);
2. ``sample`` (quantum): the circuit measured ``shots`` times; the counts travel on as JSON;
3. per configuration-recovery round, ``num_batches`` classical tasks in ONE step, so that
   they run at the same time (on different Slurm nodes): each recovers the configurations
   with the previous round's mean orbital occupancies, draws its own subsample, adds the
   strings carried over from earlier rounds and diagonalizes in the subspace they span
   (:func:`broker.algorithms.sqd.tasks.diagonalize`). The round's energy is its lowest batch
   energy; the occupancies are averaged over its batches, as in the original method.

Where ``diagonalize_fermionic_hamiltonian`` carries over only the best batch's significant
strings, this carries over the union of every batch's (best batch first, bounded by
``solver.max_dim``): the batches of a round screen disjoint random subsamples, and what one
of them found important is kept even when another reached the lowest energy. The loop stops
after ``iterations`` rounds, or earlier when the energy and occupancies stop changing.
"""

from __future__ import annotations

import importlib.util
from typing import Any

from backends.base import ClassicalResult, ClassicalSpec, QuantumBatch, QuantumItem, QuantumResult
from broker.algorithms.base import (
    Algorithm,
    StepOutcome,
    TaskResult,
    classical_need,
    classical_task,
    invalid,
    sum_needs,
)
from broker.algorithms.sqd.inputs import SQDInputs, problem_shape
from broker.core.models import JobSpec, TaskRequest
from broker.errors import InvalidJob
from circuits.canonical import Circuit
from circuits.errors import CircuitError
from policies.admission import Need

# The "hybrid" extra: without it this module does not import, and the registry says which
# extra to install (its own import of them waits for the tasks, which need them).
for _module in ("qiskit_addon_sqd", "pyscf"):
    if importlib.util.find_spec(_module) is None:
        raise ImportError(f"No module named {_module!r}", name=_module)

TASKS = "broker.algorithms.sqd.tasks"
_INTEGRAL_KEYS = ("norb", "nelec", "one_body", "two_body", "constant")
_PROBLEM_KEYS = ("source", "hf_energy", "ccsd_energy", "reference_energy", "fci_dimension")


def _ffsim_missing() -> bool:
    return importlib.util.find_spec("ffsim") is None  # importing it takes seconds (jax)


def batch_key(iteration: int, batch: int) -> str:
    """The task key of one batch of one configuration-recovery round."""
    return f"iter{iteration}-batch{batch}"


def merge_strings(lists: list[list[int]], limit: int | None) -> list[int]:
    """The union of ``lists``, in order of first appearance, cut at ``limit``."""
    seen: dict[int, None] = {}
    for strings in lists:
        for s in strings:
            seen.setdefault(int(s), None)
    return list(seen)[:limit]


class SQD(Algorithm):
    """Sample-based quantum diagonalization of a molecular Hamiltonian."""

    name = "sqd"
    inputs_model = SQDInputs

    def check(self, inputs: SQDInputs, job: JobSpec) -> None:
        """The molecule builds, the active space fits, and the ansatz suits the problem."""
        if inputs.molecule is not None and inputs.integrals is not None:
            raise invalid("molecule", "give either molecule or integrals, not both")
        if inputs.molecule is None and inputs.integrals is None:
            raise invalid("molecule", "give the molecule to study (or its integrals)")
        try:
            norb, nelec = problem_shape(inputs)
        except ValueError as exc:
            raise invalid("molecule", str(exc)) from None
        if inputs.solver.symmetrize_spin and nelec[0] != nelec[1]:
            raise invalid(
                "solver.symmetrize_spin",
                f"needs as many alpha as beta electrons, the problem has {nelec[0]} and "
                f"{nelec[1]}; set it to false",
            )
        if inputs.ansatz.kind == "lucj":
            if nelec[0] != nelec[1]:
                raise invalid(
                    "ansatz",
                    "the LUCJ ansatz needs a closed-shell system (spin 0); give a qasm ansatz",
                )
            if _ffsim_missing():
                raise invalid(
                    "ansatz",
                    "the LUCJ ansatz is built with ffsim, which is not installed "
                    "(pip install ffsim); or give {kind: qasm, qasm: ...}",
                )
            return
        try:
            circuit = Circuit.from_qasm(inputs.ansatz.qasm)
        except CircuitError as exc:
            raise invalid("ansatz.qasm", str(exc)) from None
        if circuit.parameters:
            raise invalid(
                "ansatz.qasm",
                f"SQD samples one fixed circuit; bind its parameters "
                f"({', '.join(circuit.parameters)})",
            )
        if circuit.num_qubits != 2 * norb or circuit.num_clbits != 2 * norb:
            raise invalid(
                "ansatz.qasm",
                f"the problem has {norb} spatial orbitals, so the circuit must measure "
                f"{2 * norb} qubits into {2 * norb} bits; it has {circuit.num_qubits} qubits "
                f"and {circuit.num_clbits} bits",
            )

    def needs(self, inputs: SQDInputs, job: JobSpec) -> list[Need]:
        """One circuit's shots, the problem task and every batch of every round."""
        needs = [
            Need(job.backend, "evaluations", 1.0),
            Need(job.backend, "shots", float(inputs.shots)),
            classical_need(job, _problem_spec(inputs)),
        ]
        batch = classical_need(job, _batch_spec(inputs, 0, 0, {}))
        batches = inputs.iterations * inputs.num_batches
        needs.append(Need(batch.backend, batch.unit, batch.amount * batches))
        return sum_needs(needs)

    def circuit_widths(self, inputs: SQDInputs) -> list[int]:
        """Two qubits per spatial orbital."""
        return [2 * problem_shape(inputs)[0]]

    def circuits(self, inputs: SQDInputs) -> list[str]:
        """A QASM ansatz (a LUCJ circuit is only known once the problem task has run)."""
        if inputs.ansatz.kind == "qasm":
            return [Circuit.from_qasm(inputs.ansatz.qasm).sha256]
        return []

    def start(self, inputs: SQDInputs, job: JobSpec, seed: int) -> StepOutcome:
        """Build the problem first."""
        state: dict[str, Any] = {
            "phase": "problem",
            "seed": seed,
            "iteration": 0,
            "occupancies": None,
            "carryover": [[], []],
            "history": [],
            "converged": False,
        }
        task = classical_task(job, "problem", _problem_spec(inputs))
        return StepOutcome(state, [task], {"step": 0, "phase": "building the problem"})

    def step(
        self, inputs: SQDInputs, job: JobSpec, state: dict[str, Any], results: dict[str, TaskResult]
    ) -> StepOutcome:
        """Take the problem, then the counts, then each round's batches."""
        if state["phase"] == "problem":
            return self._take_problem(inputs, state, results["problem"])
        if state["phase"] == "sample":
            return self._take_counts(inputs, job, state, results["sample"])
        return self._take_round(inputs, job, state, results)

    def _take_problem(
        self, inputs: SQDInputs, state: dict[str, Any], result: TaskResult
    ) -> StepOutcome:
        assert isinstance(result, ClassicalResult)
        output = result.output if isinstance(result.output, dict) else {}
        missing = [k for k in _INTEGRAL_KEYS if k not in output]
        if missing:
            raise InvalidJob(f"algorithm.inputs: the problem task returned no {', '.join(missing)}")
        qasm = output.get("circuit")
        if qasm is None and inputs.ansatz.kind == "qasm":
            qasm = inputs.ansatz.qasm
        if not isinstance(qasm, str):
            raise InvalidJob("algorithm.inputs.ansatz: the problem task built no circuit")
        circuit = Circuit(qasm=qasm)
        state["integrals"] = {k: output[k] for k in _INTEGRAL_KEYS}
        state["problem"] = {k: output.get(k) for k in _PROBLEM_KEYS}
        state["problem"]["circuit_sha256"] = circuit.sha256
        state["problem"]["num_qubits"] = circuit.num_qubits
        state["phase"] = "sample"
        batch = QuantumBatch(
            items=[QuantumItem(circuit=circuit.qasm)], shots=inputs.shots, seed=state["seed"]
        )
        task = TaskRequest(key="sample", kind="quantum", quantum=batch)
        progress = {"step": 0, "phase": "sampling", "maxiter": inputs.iterations}
        if output.get("reference_energy") is not None:
            progress["reference_energy"] = output["reference_energy"]
        return StepOutcome(state, [task], progress)

    def _take_counts(
        self, inputs: SQDInputs, job: JobSpec, state: dict[str, Any], result: TaskResult
    ) -> StepOutcome:
        assert isinstance(result, QuantumResult)
        counts = (result.items[0].counts or [{}])[0] if result.items else {}
        if not counts:
            raise InvalidJob(
                f"algorithm.inputs: the sampling task on {result.backend} gave no counts"
            )
        state["counts"] = counts
        state["sampling"] = {
            "backend": result.backend,
            "shots": result.shots_total or sum(counts.values()),
            "distinct_bitstrings": len(counts),
        }
        state["phase"] = "iterate"
        tasks = self._round(inputs, job, state)
        progress = {"step": 0, "phase": "round 1", "maxiter": inputs.iterations}
        return StepOutcome(state, tasks, progress)

    def _round(self, inputs: SQDInputs, job: JobSpec, state: dict[str, Any]) -> list[TaskRequest]:
        """The batch tasks of the next round, each with its own seed."""
        it = state["iteration"]
        tasks = []
        for b in range(inputs.num_batches):
            payload = {
                "integrals": state["integrals"],
                "counts": state["counts"],
                "occupancies": state["occupancies"],
                "carryover": state["carryover"],
                "samples_per_batch": inputs.samples_per_batch,
                "seed": state["seed"] + 1 + it * inputs.num_batches + b,
                **inputs.solver.model_dump(),
            }
            spec = _batch_spec(inputs, it, b, payload)
            tasks.append(classical_task(job, batch_key(it, b), spec))
        return tasks

    def _take_round(
        self, inputs: SQDInputs, job: JobSpec, state: dict[str, Any], results: dict[str, TaskResult]
    ) -> StepOutcome:
        it = state["iteration"]
        outputs, nodes = _batch_outputs(inputs, it, results)
        order = sorted(range(len(outputs)), key=lambda b: outputs[b]["energy"])
        best = outputs[order[0]]
        norb = state["integrals"]["norb"]
        occupancies = [
            [sum(o["occupancies"][s][p] for o in outputs) / len(outputs) for p in range(norb)]
            for s in (0, 1)
        ]
        limit = inputs.solver.max_dim
        state["carryover"] = [
            merge_strings([outputs[b]["carryover"][s] for b in order], limit) for s in (0, 1)
        ]
        previous = state["history"][-1] if state["history"] else None
        state["history"].append(_round_row(it, best, outputs, nodes, state["carryover"]))
        if previous is not None and state["occupancies"] is not None:
            change = max(
                abs(a - b)
                for s in (0, 1)
                for a, b in zip(occupancies[s], state["occupancies"][s], strict=True)
            )
            state["converged"] = (
                abs(best["energy"] - previous["energy"]) < inputs.energy_tol
                and change < inputs.occupancies_tol
            )
        state["occupancies"] = occupancies
        state["iteration"] = it + 1
        progress = _progress(inputs, state)
        if state["converged"] or state["iteration"] >= inputs.iterations:
            return StepOutcome(state, progress=progress, result=_result(inputs, state))
        return StepOutcome(state, self._round(inputs, job, state), progress)


def _batch_outputs(
    inputs: SQDInputs, it: int, results: dict[str, TaskResult]
) -> tuple[list[dict[str, Any]], list[list[str]]]:
    """The outputs of round ``it``'s batches, and the nodes each ran on."""
    outputs: list[dict[str, Any]] = []
    nodes: list[list[str]] = []
    for b in range(inputs.num_batches):
        result = results[batch_key(it, b)]
        assert isinstance(result, ClassicalResult)
        if not isinstance(result.output, dict) or "energy" not in result.output:
            raise InvalidJob(f"algorithm.inputs: batch {b} of round {it + 1} returned no energy")
        outputs.append(result.output)
        nodes.append(result.nodes)
    return outputs, nodes


def _round_row(
    it: int,
    best: dict[str, Any],
    outputs: list[dict[str, Any]],
    nodes: list[list[str]],
    carryover: list[list[int]],
) -> dict[str, Any]:
    """Round ``it``'s line of the job's history: its best batch, and every batch's."""
    return {
        "iteration": it + 1,
        "energy": best["energy"],
        "subspace_dimension": best["subspace_dimension"],
        "batch_energies": [o["energy"] for o in outputs],
        "batch_dimensions": [o["subspace_dimension"] for o in outputs],
        "batch_nodes": nodes,
        "batch_seconds": [o.get("elapsed_s") for o in outputs],
        "recovered": any(o.get("recovered") for o in outputs),
        "valid_fraction": best.get("valid_fraction"),
        "carryover_strings": [len(s) for s in carryover],
    }


def _progress(inputs: SQDInputs, state: dict[str, Any]) -> dict[str, Any]:
    """The job's progress after a round: the lowest energy of every round so far."""
    lowest = min(state["history"], key=lambda row: row["energy"])
    return {
        "step": state["iteration"],
        "maxiter": inputs.iterations,
        "iteration": state["iteration"],
        "energy": lowest["energy"],
        "best_energy": lowest["energy"],
        "subspace_dimension": lowest["subspace_dimension"],
    }


def _result(inputs: SQDInputs, state: dict[str, Any]) -> dict[str, Any]:
    """The job's result: the lowest energy over every round, with the rounds themselves."""
    lowest = min(state["history"], key=lambda row: row["energy"])
    problem = state["problem"]
    result: dict[str, Any] = {
        "energy": lowest["energy"],
        "iterations": state["history"],
        "best_iteration": lowest["iteration"],
        "subspace_dimension": lowest["subspace_dimension"],
        "fci_dimension": problem.get("fci_dimension"),
        "converged": state["converged"],
        "hf_energy": problem.get("hf_energy"),
        "norb": state["integrals"]["norb"],
        "nelec": state["integrals"]["nelec"],
        "num_qubits": problem.get("num_qubits"),
        "circuit_sha256": problem.get("circuit_sha256"),
        "occupancies": state["occupancies"],
        "sampling": state["sampling"],
        "ansatz": inputs.ansatz.kind,
    }
    if problem.get("ccsd_energy") is not None:
        result["ccsd_energy"] = problem["ccsd_energy"]
    if problem.get("reference_energy") is not None:
        result["reference_energy"] = problem["reference_energy"]
        result["error"] = result["energy"] - problem["reference_energy"]
    return result


def _problem_spec(inputs: SQDInputs) -> ClassicalSpec:
    payload: dict[str, Any] = {
        "ansatz": {"kind": inputs.ansatz.kind, "n_reps": getattr(inputs.ansatz, "n_reps", None)},
        "reference": inputs.reference,
        "reference_max_determinants": inputs.reference_max_determinants,
    }
    if inputs.molecule is not None:
        payload["molecule"] = inputs.molecule.payload()
    else:
        assert inputs.integrals is not None
        payload["integrals"] = inputs.integrals.model_dump()
    return ClassicalSpec(
        name="sqd-problem",
        entrypoint=f"{TASKS}:problem",
        payload=payload,
        time_limit_s=inputs.problem_time_limit_s,
    )


def _batch_spec(
    inputs: SQDInputs, iteration: int, batch: int, payload: dict[str, Any]
) -> ClassicalSpec:
    return ClassicalSpec(
        name=f"sqd-i{iteration + 1}-b{batch}",
        entrypoint=f"{TASKS}:diagonalize",
        payload=payload,
        time_limit_s=inputs.batch_time_limit_s,
    )
