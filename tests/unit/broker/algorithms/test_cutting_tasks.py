"""The reconstruction task: counts split back per register as a real Sampler reports them,
the error bound against the spread of repeated runs, and the uncut reference."""

from __future__ import annotations

import math
from collections import Counter
from functools import cache
from typing import Any

import numpy as np
import pytest
from qiskit.circuit.library import efficient_su2
from qiskit.quantum_info import PauliList, Statevector
from qiskit_addon_cutting import generate_cutting_experiments, reconstruct_expectation_values
from qiskit_addon_cutting.utils.simulation import simulate_statevector_outcomes
from qiskit_aer.primitives import SamplerV2

from broker.algorithms.cutting import plan
from broker.algorithms.cutting.plan import Layout, layout_of
from broker.algorithms.cutting.tasks import (
    pauli_sigma,
    reconstruct,
    reference_values,
    sampler_result,
    split_counts,
)
from circuits.canonical import Circuit
from circuits.observables import PauliSum


def test_split_counts_reads_each_register_at_its_offset() -> None:
    layout = Layout(num_clbits=5, observable=(0, 3), qpd=(3, 2))
    joint = split_counts({"10110": 3, "00110": 2, "10111": 1}, layout)
    assert joint == {(0b110, 0b10): 3, (0b110, 0b00): 2, (0b111, 0b10): 1}
    with pytest.raises(ValueError, match="bitstrings of \\[4\\] bits"):
        split_counts({"0110": 1}, layout)


def _su2(num_qubits: int, reps: int, seed: int) -> Any:
    qc = efficient_su2(num_qubits, reps=reps, entanglement="linear")
    values = np.random.default_rng(seed).uniform(-math.pi, math.pi, qc.num_parameters)
    return qc.assign_parameters(values)


def test_flat_counts_give_what_a_sampler_reports_per_register() -> None:
    """Aer's Sampler V2 on the addon's own subexperiments (two registers) is the model: the
    flat counts our backends return, split back, must give the same per-shot pairs of
    register values and the same reconstruction."""
    qc = _su2(4, 2, seed=2)
    paulis = PauliList(["ZZZZ", "IXXI", "YIIZ"])
    problem = plan.cut(qc, paulis.to_labels(), partition="AABB")
    experiments, coefficients = generate_cutting_experiments(
        problem.subcircuits, problem.subobservables, np.inf
    )
    assert isinstance(experiments, dict)
    native, ours = {}, {}
    for label, circuits in experiments.items():
        native[label] = SamplerV2(seed=11).run(circuits, shots=500).result()
        flat = []
        for qc_sub, pub in zip(circuits, native[label], strict=True):
            layout = layout_of(qc_sub)
            obs = pub.data.observable_measurements.array[:, 0].astype(int)
            qpd = pub.data.qpd_measurements.array[:, 0].astype(int)
            assert pub.data.observable_measurements.num_bits <= 8
            assert pub.data.qpd_measurements.num_bits <= 8
            keys = Counter(
                format((o << layout.observable[0]) | (q << layout.qpd[0]), f"0{layout.num_clbits}b")
                for o, q in zip(obs, qpd, strict=True)
            )
            assert split_counts(keys, layout) == Counter(
                zip(obs.tolist(), qpd.tolist(), strict=True)
            )
            flat.append((dict(keys), layout))
        ours[label] = sampler_result(flat)
    want = reconstruct_expectation_values(native, coefficients, problem.subobservables)
    got = reconstruct_expectation_values(ours, coefficients, problem.subobservables)
    assert got == pytest.approx(want, abs=1e-12)


@cache
def _probabilities(qasm: str) -> dict[str, float]:
    circuit = Circuit(qasm=qasm)
    outcomes = simulate_statevector_outcomes(circuit.to_qiskit())
    return {format(k, f"0{circuit.num_clbits}b"): p for k, p in outcomes.items() if p > 1e-15}


def _payload(
    problem: plan.CutProblem,
    observables: list[PauliSum],
    num_samples: float,
    seed: int,
    counts: Any,
) -> dict[str, Any]:
    experiments, coefficients = plan.generate(problem, num_samples, seed)
    partitions: dict[str, Any] = {
        label: {"subobservables": subs.to_labels(), "experiments": []}
        for label, subs in problem.subobservables.items()
    }
    for exp in experiments:
        partitions[exp.label]["experiments"].append(
            {"counts": counts(_probabilities(exp.circuit.qasm)), "layout": exp.layout.to_json()}
        )
    return {
        "coefficients": [list(c) for c in coefficients],
        "paulis": plan.paulis_of(observables),
        "observables": [o.model_dump() for o in observables],
        "num_samples": None if math.isinf(num_samples) else num_samples,
        "partitions": partitions,
        "reference": None,
    }


OBSERVABLES = [PauliSum.from_text("ZIIZ + 0.5 * IZZI"), PauliSum.from_text("XXXX")]


def _exact(qc: Any) -> np.ndarray:
    state = Statevector(qc)
    return np.array([state.expectation_value(o.to_sparse_pauli_op()).real for o in OBSERVABLES])


def test_the_bound_covers_the_spread_of_shot_noise() -> None:
    """300 reconstructions from 100-shot samples: their standard deviation stays under the
    bound's sigma, which (a worst case over the outcome distributions) is not loose by more
    than a small factor (about 3-4 here)."""
    qc = _su2(4, 1, seed=7)
    problem = plan.cut(qc, plan.paulis_of(OBSERVABLES), partition="AABB")
    rng = np.random.default_rng(0)
    shots = 100

    def sample(probabilities: dict[str, float]) -> dict[str, int]:
        keys = list(probabilities)
        p = np.array([probabilities[k] for k in keys])
        drawn = rng.multinomial(shots, p / p.sum())
        return {k: int(n) for k, n in zip(keys, drawn, strict=True) if n}

    runs = [reconstruct(_payload(problem, OBSERVABLES, math.inf, 0, sample)) for _ in range(300)]
    values = np.array([r["expectation_values"] for r in runs])
    sigma = np.array(runs[0]["std_error_bound"])
    spread = values.std(axis=0, ddof=1)
    assert np.all(spread <= sigma) and np.all(spread >= 0.2 * sigma), (spread, sigma)
    assert np.all(np.abs(values.mean(axis=0) - _exact(qc)) <= 4 * sigma / math.sqrt(len(runs)))
    assert runs[0]["shots_per_subexperiment"] == shots


def test_the_bound_covers_the_spread_of_sampled_weights() -> None:
    """With exact outcomes, the only noise left is the draw of QPD terms: over 60 seeds it
    stays under the bound's sigma, and the draws average to the exact value."""
    qc = _su2(4, 2, seed=7)
    problem = plan.cut(qc, plan.paulis_of(OBSERVABLES), partition="AABB")
    scale = 2**40

    def exact(probabilities: dict[str, float]) -> dict[str, int]:
        return {k: round(p * scale) for k, p in probabilities.items()}

    runs = [reconstruct(_payload(problem, OBSERVABLES, 10, seed, exact)) for seed in range(60)]
    values = np.array([r["expectation_values"] for r in runs])
    sigma = np.array([r["std_error_bound"] for r in runs]).max(axis=0)
    assert np.all(values.std(axis=0, ddof=1) <= sigma)
    assert np.all(np.abs(values.mean(axis=0) - _exact(qc)) <= 4 * sigma / math.sqrt(len(runs)))


def test_pauli_sigma_follows_the_variance_of_its_estimator() -> None:
    # No cut: one +-1 mean over s shots.
    assert pauli_sigma([(1.0, "EXACT")], 400, 1, math.inf) == pytest.approx(1 / 20)
    # Two partitions: Var(XY) <= (1 + 1/s)^2 - 1 for independent means of +-1 outcomes.
    six = [(0.5, "EXACT"), (-0.5, "EXACT")] * 3
    assert pauli_sigma(six, 100, 2, math.inf) == pytest.approx(math.sqrt(1.5 * 0.0201))
    assert pauli_sigma(six, 400, 2, math.inf) < pauli_sigma(six, 100, 2, math.inf) / 1.99
    # Sampled: 3 draws worth kappa = 3 in all add (3^2)/3 to the variance.
    drawn = [(2.0, "SAMPLED"), (-1.0, "SAMPLED")]
    assert pauli_sigma(drawn, 10**12, 2, 3) == pytest.approx(math.sqrt(3.0), rel=1e-6)


def test_the_reference_is_the_statevector_value() -> None:
    qc = _su2(5, 1, seed=1)
    obs = [PauliSum.from_text("ZZIII - 0.3 * XIIIY"), PauliSum.from_text("IIIIZ")]
    state = Statevector(qc)
    want = [state.expectation_value(o.to_sparse_pauli_op()).real for o in obs]
    assert reference_values(Circuit.from_qiskit(qc).qasm, obs) == pytest.approx(want, abs=1e-12)
