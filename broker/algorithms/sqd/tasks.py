"""Entry points of SQD's classical tasks (``module:function``, called with a JSON payload,
returning JSON), run by the job's classical backend (Slurm in the example).

- :func:`problem` builds the problem once: active-space integrals in the Hartree-Fock basis,
  the exact FCI energy when the space is small enough, and the LUCJ sampling circuit.
- :func:`diagonalize` is one batch of one configuration-recovery iteration: it recovers
  (or post-selects) the measured configurations, draws its own subsample, adds the strings
  carried over from earlier iterations, and diagonalizes the Hamiltonian in the subspace
  they span. All batches of an iteration run as separate tasks at once.
"""

from __future__ import annotations

import socket
import time
from typing import Any

import numpy as np
from qiskit_addon_sqd.configuration_recovery import recover_configurations
from qiskit_addon_sqd.counts import counts_to_arrays
from qiskit_addon_sqd.fermion import batch_to_ci_strings, solve_sci
from qiskit_addon_sqd.subsampling import postselect_by_hamming_right_and_left, subsample

from broker.algorithms.sqd import chemistry as sqd_chem
from broker.algorithms.sqd.chemistry import Array, Integrals

DEFAULT_REFERENCE_MAX_DETERMINANTS = 1_000_000


def problem(payload: dict[str, Any]) -> dict[str, Any]:
    """Build the problem: ``{"molecule": {...}}`` or ``{"integrals": {...}}``, with
    ``"ansatz": {"kind": "lucj", "n_reps": N}`` or ``{"kind": "qasm"}``, ``"reference"``
    (bool) and ``"reference_max_determinants"``.

    Returns the integrals (:meth:`Integrals.to_json` keys): for a LUCJ ansatz in the
    Hartree-Fock basis its circuit is built in; for a QASM ansatz in the basis they came in
    (the molecule's canonical HF orbitals, or the given basis), which the circuit was written
    for. Also the HF energy, the FCI ``reference_energy`` (None when not asked for or too
    large), the ``circuit`` (canonical OpenQASM 3; None for a QASM ansatz) and where it ran.
    """
    started = time.monotonic()
    out: dict[str, Any] = {}
    hf_energy: float | None = None
    if payload.get("molecule") is not None:
        ints, hf_energy = sqd_chem.molecule_integrals(payload["molecule"])
        out["source"] = "molecule"
    else:
        ints = Integrals.from_json(payload["integrals"])
        out["source"] = "integrals"
    ansatz = payload.get("ansatz") or {"kind": "lucj", "n_reps": 1}
    circuit = None
    lucj = ansatz.get("kind") == "lucj"
    if lucj or hf_energy is None:
        rotated, mf, energy = sqd_chem.hartree_fock_basis(ints)
        hf_energy = energy if hf_energy is None else hf_energy
        if lucj:
            ints = rotated
            t1, t2, out["ccsd_energy"] = sqd_chem.ccsd_amplitudes(mf)
            circuit = sqd_chem.lucj_circuit(ints, t1, t2, int(ansatz.get("n_reps", 1)))
    limit = int(payload.get("reference_max_determinants", DEFAULT_REFERENCE_MAX_DETERMINANTS))
    reference = None
    if payload.get("reference", True) and ints.fci_dimension <= limit:
        reference = sqd_chem.fci_energy(ints)
    out.update(ints.to_json())
    out.update(
        hf_energy=hf_energy,
        reference_energy=reference,
        fci_dimension=ints.fci_dimension,
        num_qubits=2 * ints.norb,
        circuit=circuit,
        elapsed_s=time.monotonic() - started,
        hostname=socket.gethostname(),
    )
    return out


def _measured(counts: dict[str, int], norb: int) -> tuple[Array, Array]:
    """Bitstring matrix and probabilities of ``counts`` (Qiskit order, ``2 * norb`` bits)."""
    bitstrings, probabilities = counts_to_arrays(counts)
    if bitstrings.size == 0:
        raise ValueError("the sampling task returned no counts")
    if bitstrings.shape[1] != 2 * norb:
        raise ValueError(
            f"the measured bitstrings have {bitstrings.shape[1]} bits but the problem needs "
            f"{2 * norb} (two per spatial orbital)"
        )
    return bitstrings, probabilities


def _hartree_fock_occupancies(ints: Integrals) -> tuple[Array, Array]:
    return (
        np.array([1.0 if p < ints.nelec[0] else 0.0 for p in range(ints.norb)]),
        np.array([1.0 if p < ints.nelec[1] else 0.0 for p in range(ints.norb)]),
    )


def configurations(
    ints: Integrals,
    counts: dict[str, int],
    occupancies: tuple[Array, Array] | None,
    rng: np.random.Generator,
) -> tuple[Array, Array, float, bool]:
    """The configurations a batch draws from: measured ones with the right electron counts
    (first iteration), or every measured one corrected towards ``occupancies`` (later
    iterations; self-consistent configuration recovery).

    Returns the bitstrings, their probabilities, the fraction of shots that had the right
    electron counts, and whether configuration recovery ran. A first iteration without a
    single right configuration recovers from the Hartree-Fock occupancies instead.
    """
    bitstrings, probabilities = _measured(counts, ints.norb)
    norb = ints.norb
    right = (bitstrings[:, norb:].sum(axis=1) == ints.nelec[0]) & (
        bitstrings[:, :norb].sum(axis=1) == ints.nelec[1]
    )
    valid_fraction = float(probabilities[right].sum())
    if occupancies is None and valid_fraction > 0:
        kept, probs = postselect_by_hamming_right_and_left(
            bitstrings, probabilities, hamming_right=ints.nelec[0], hamming_left=ints.nelec[1]
        )
        return kept, probs, valid_fraction, False
    guide = occupancies if occupancies is not None else _hartree_fock_occupancies(ints)
    kept, probs = recover_configurations(
        bitstrings, probabilities, guide, ints.nelec[0], ints.nelec[1], rand_seed=rng
    )
    return kept, probs, valid_fraction, True


def _unique_in_order(values: Array) -> Array:
    _, first = np.unique(values, return_index=True)
    return np.asarray(values[np.sort(first)])


def _subspace(
    ints: Integrals,
    batch: Array,
    carryover: tuple[Array, Array],
    symmetrize_spin: bool,
    max_dim: int | None,
) -> tuple[Array, Array]:
    """Sorted alpha and beta CI strings: the carried-over strings first, then the batch's
    by how often they were drawn, cut at ``max_dim`` strings per spin."""
    strs_a, strs_b = batch_to_ci_strings(
        batch, ints.norb, carryover[0], carryover[1], symmetrize_spin=symmetrize_spin
    )
    strs_a = _unique_in_order(strs_a)[:max_dim]
    strs_b = strs_a if symmetrize_spin else _unique_in_order(strs_b)[:max_dim]
    return np.sort(strs_a), np.sort(strs_b)


def significant_strings(
    amplitudes: Array, strs_a: Array, strs_b: Array, threshold: float
) -> tuple[list[int], list[int]]:
    """The alpha and beta strings of configurations whose amplitude exceeds ``threshold``,
    each list by decreasing weight (summed over the other spin)."""
    probabilities = np.abs(amplitudes) ** 2
    rows, cols = np.nonzero(np.abs(amplitudes) > threshold)
    out: list[list[int]] = []
    for strings, indices, weights in (
        (strs_a, np.unique(rows), probabilities.sum(axis=1)),
        (strs_b, np.unique(cols), probabilities.sum(axis=0)),
    ):
        order = indices[np.argsort(-weights[indices], kind="stable")]
        out.append([int(s) for s in strings[order]])
    return out[0], out[1]


def diagonalize(payload: dict[str, Any]) -> dict[str, Any]:
    """One batch: configuration recovery, subsampling and diagonalization.

    Payload: ``integrals`` (:meth:`Integrals.to_json`), ``counts``, ``occupancies``
    (``[alpha, beta]`` from the previous iteration, or None), ``carryover`` (``[alpha,
    beta]`` CI strings), ``samples_per_batch``, ``seed``, and the solver options
    ``symmetrize_spin``, ``max_dim``, ``carryover_threshold``, ``spin_sq``, ``max_cycle``,
    ``tol``.

    Returns the total ``energy``, the orbital ``occupancies``, the ``subspace_dimension``,
    the ``carryover`` strings for the next iteration, and where and how long it ran.
    """
    started = time.monotonic()
    ints = Integrals.from_json(payload["integrals"])
    rng = np.random.default_rng(int(payload.get("seed", 0)))
    pool, probabilities, valid_fraction, recovered = configurations(
        ints, payload["counts"], _occupancies(payload), rng
    )
    batch = subsample(pool, probabilities, int(payload["samples_per_batch"]), 1, rand_seed=rng)[0]
    symmetrize = bool(payload.get("symmetrize_spin", False))
    carry = _carried(payload, symmetrize)
    strs_a, strs_b = _subspace(ints, batch, carry, symmetrize, payload.get("max_dim"))
    solver = {key: payload[key] for key in ("max_cycle", "tol") if payload.get(key) is not None}
    result = solve_sci(
        (strs_a, strs_b),
        ints.one_body,
        ints.two_body,
        norb=ints.norb,
        nelec=ints.nelec,
        spin_sq=payload.get("spin_sq"),
        **solver,
    )
    assert result.sci_state is not None
    next_a, next_b = significant_strings(
        result.sci_state.amplitudes,
        result.sci_state.ci_strs_a,
        result.sci_state.ci_strs_b,
        float(payload.get("carryover_threshold", 1e-4)),
    )
    return {
        "energy": float(result.energy) + ints.constant,
        "occupancies": [np.asarray(o).tolist() for o in result.orbital_occupancies],
        "subspace_dimension": len(strs_a) * len(strs_b),
        "strings": [len(strs_a), len(strs_b)],
        "carryover": [next_a, next_b],
        "configurations": len(pool),
        "valid_fraction": valid_fraction,
        "recovered": recovered,
        "seed": int(payload.get("seed", 0)),
        "elapsed_s": time.monotonic() - started,
        "hostname": socket.gethostname(),
    }


def _occupancies(payload: dict[str, Any]) -> tuple[Array, Array] | None:
    """The previous iteration's (alpha, beta) orbital occupancies, or None in the first."""
    raw = payload.get("occupancies")
    if raw is None:
        return None
    return np.asarray(raw[0], dtype=float), np.asarray(raw[1], dtype=float)


def _carried(payload: dict[str, Any], symmetrize: bool) -> tuple[Array, Array]:
    """The (alpha, beta) CI strings carried over from earlier iterations."""
    carry = payload.get("carryover") or [[], []]
    carry_a = np.asarray(carry[0], dtype=np.int64)
    carry_b = np.asarray(carry[1], dtype=np.int64)
    if symmetrize:  # one set of strings for both spins: carry both sets over
        carry_a = carry_b = _unique_in_order(np.concatenate((carry_a, carry_b)))
    return carry_a, carry_b
