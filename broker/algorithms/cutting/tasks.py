"""The classical step of the ``cutting`` algorithm: from subexperiment counts to expectation
values, with the error bound the method gives and an uncut reference.

:func:`reconstruct` is the entry point (``broker.algorithms.cutting.tasks:reconstruct``) that
a classical task calls with the JSON payload the algorithm builds. It splits the flat counts
the backends return back into each subexperiment's ``observable_measurements`` and
``qpd_measurements`` registers, rebuilds per partition the Sampler results that
qiskit-addon-cutting reads, and calls ``reconstruct_expectation_values``.

The bound
---------
For one Pauli string ``P`` the reconstruction is ``E = sum_i c_i prod_j X_ij``: ``c_i`` the
QPD coefficients, ``X_ij`` the mean over ``s`` shots of a +-1 outcome (QPD parity times
Pauli parity) of partition ``j``'s subexperiment for sample ``i``. Each ``X_ij`` lies in
``[-1, 1]`` with variance ``(1 - mu^2)/s <= 1/s``, and distinct subexperiments are
independent, so for ``J`` partitions ``Var(prod_j X_ij) <= (1 + 1/s)^J - 1`` and, with exact
weights, ``Var(E) <= ((1 + 1/s)^J - 1) * sum_i c_i^2``. Sampled weights (finite
``num_samples``) add the variance of drawing the tail of the distribution: ``n`` draws,
each worth at most ``t / n`` in magnitude (``t = sum |c_i|`` over the sampled
coefficients, ``n = ceil(num_samples * t / kappa)`` as the addon draws them), add at most
``t^2 / n``.
An observable ``sum_k a_k P_k`` then has a standard deviation of at most
``sigma = sum_k |a_k| sigma_P`` (Minkowski; identity terms are exact). Since
``sum_i |c_i| = kappa`` with ``kappa^2`` the sampling overhead, ``sigma`` grows like
``kappa / sqrt(s)``: the price of the cut.

The reported ``bound`` is ``BOUND_SIGMAS * sigma``: by Chebyshev's inequality the error
exceeds it with probability at most ``1/BOUND_SIGMAS^2`` whatever the distribution, and,
the estimate being a sum of many independent bounded shots (close to normal), about 6e-5.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from qiskit.primitives import SamplerResult
from qiskit.quantum_info import PauliList, Statevector
from qiskit.result import QuasiDistribution
from qiskit_addon_cutting import reconstruct_expectation_values
from qiskit_addon_cutting.qpd import WeightType

from broker.algorithms.cutting.plan import Layout
from circuits.canonical import Circuit
from circuits.observables import PauliSum

BOUND_SIGMAS = 4.0
"""How many (upper bounds of) standard deviations the reported ``bound`` is."""

REFERENCE_MAX_QUBITS = 20
"""Widest uncut circuit whose exact statevector the reconstruction computes as a reference."""

__all__ = [
    "BOUND_SIGMAS",
    "REFERENCE_MAX_QUBITS",
    "pauli_sigma",
    "reconstruct",
    "reference_values",
    "sampler_result",
    "split_counts",
]


def split_counts(counts: Mapping[str, int], layout: Layout) -> dict[tuple[int, int], int]:
    """One subexperiment's counts (Qiskit-order bitstrings over all its clbits) split per
    register: ``(observable_measurements value, qpd_measurements value) -> count``."""
    if not counts:
        raise ValueError("a subexperiment came back without counts")
    width = {len(key) for key in counts}
    if width != {layout.num_clbits}:
        raise ValueError(
            f"counts have bitstrings of {sorted(width)} bits; the subexperiment has "
            f"{layout.num_clbits} clbits"
        )
    joint: dict[tuple[int, int], int] = {}
    (obs_at, obs_size), (qpd_at, qpd_size) = layout.observable, layout.qpd
    for key, count in counts.items():
        value = int(key, 2)
        pair = (
            (value >> obs_at) & ((1 << obs_size) - 1),
            (value >> qpd_at) & ((1 << qpd_size) - 1),
        )
        joint[pair] = joint.get(pair, 0) + count
    return joint


def sampler_result(experiments: Sequence[tuple[Mapping[str, int], Layout]]) -> SamplerResult:
    """The Sampler result of one partition's subexperiments, in their order, as the addon
    reads it: one quasi-distribution per subexperiment over outcomes whose low bits are the
    ``observable_measurements`` register and whose high bits are ``qpd_measurements``.

    The addon reads Sampler V2 results shot by shot, this one outcome by outcome: the same
    sums, in time that does not grow with the shots.
    """
    dists = []
    for counts, layout in experiments:
        joint = split_counts(counts, layout)
        shots = sum(joint.values())
        size = layout.observable[1]
        dists.append(
            QuasiDistribution({obs | (qpd << size): n / shots for (obs, qpd), n in joint.items()})
        )
    return SamplerResult(quasi_dists=dists, metadata=[{} for _ in dists])


def pauli_sigma(
    coefficients: Sequence[tuple[float, str]],
    shots: int,
    partitions: int,
    num_samples: float,
) -> float:
    """An upper bound on the standard deviation of one reconstructed Pauli expectation value
    (see the module docstring)."""
    per_sample = (1.0 + 1.0 / shots) ** partitions - 1.0
    variance = per_sample * sum(value**2 for value, _ in coefficients)
    tail = sum(abs(value) for value, kind in coefficients if kind == WeightType.SAMPLED.name)
    if tail > 0.0 and math.isfinite(num_samples):
        kappa = sum(abs(value) for value, _ in coefficients)
        draws = max(1, math.ceil(tail / kappa * num_samples - 1e-9))
        variance += tail**2 / draws
    return math.sqrt(variance)


def reference_values(circuit: str, observables: Sequence[PauliSum]) -> list[float]:
    """Exact expectation values of the uncut circuit (its statevector)."""
    state = Statevector(Circuit(qasm=circuit).to_qiskit())
    return [
        float(np.real(state.expectation_value(obs.to_sparse_pauli_op()))) for obs in observables
    ]


def _combine(
    observables: Sequence[PauliSum], paulis: Sequence[str], values: Sequence[float], sigma: float
) -> tuple[list[float], list[float]]:
    index = {pauli: i for i, pauli in enumerate(paulis)}
    expectation, sigmas = [], []
    for obs in observables:
        total, weight = 0.0, 0.0
        for term in obs.terms:
            if term.is_identity:
                total += term.coeff
            else:
                total += term.coeff * float(values[index[term.pauli]])
                weight += abs(term.coeff)
        expectation.append(total)
        sigmas.append(weight * sigma)
    return expectation, sigmas


def reconstruct(payload: dict[str, Any]) -> dict[str, Any]:
    """Entry point of the reconstruction task.

    ``payload``: ``coefficients`` (``[value, "EXACT"|"SAMPLED"]``), ``paulis`` (the Pauli
    strings measured, qubit 0 rightmost), ``observables`` (Pauli sums), ``num_samples``
    (null: exact weights), ``partitions`` (label -> ``subobservables`` and ``experiments``,
    each ``{"counts": ..., "layout": ...}`` in the addon's order) and ``reference`` (the
    uncut circuit's OpenQASM, or null). Returns ``expectation_values``,
    ``std_error_bound``, ``bound``, ``bound_sigmas``, ``pauli_values``,
    ``shots_per_subexperiment`` and ``reference`` (or null).
    """
    coefficients = [(float(v), str(k)) for v, k in payload["coefficients"]]
    weights = [(v, WeightType[k]) for v, k in coefficients]
    paulis = list(payload["paulis"])
    observables = [PauliSum.model_validate(o) for o in payload["observables"]]
    results: dict[str, SamplerResult] = {}
    subobservables: dict[str, PauliList] = {}
    shots = None
    for label, part in payload["partitions"].items():
        experiments = [(e["counts"], Layout.from_json(e["layout"])) for e in part["experiments"]]
        results[label] = sampler_result(experiments)
        subobservables[label] = PauliList(part["subobservables"])
        fewest = min(sum(counts.values()) for counts, _ in experiments)
        shots = fewest if shots is None else min(shots, fewest)
    assert shots is not None, "no partitions"
    values = reconstruct_expectation_values(results, weights, subobservables)
    num_samples = payload.get("num_samples")
    sigma = pauli_sigma(
        coefficients, shots, len(results), math.inf if num_samples is None else num_samples
    )
    expectation, sigmas = _combine(observables, paulis, values, sigma)
    reference = None
    if payload.get("reference") is not None:
        reference = reference_values(payload["reference"], observables)
    return {
        "expectation_values": expectation,
        "std_error_bound": sigmas,
        "bound": [BOUND_SIGMAS * s for s in sigmas],
        "bound_sigmas": BOUND_SIGMAS,
        "pauli_values": dict(zip(paulis, (float(v) for v in values), strict=True)),
        "shots_per_subexperiment": shots,
        "reference": reference,
    }
