"""SQD's classical entry points called directly: the problem (integrals, FCI reference, LUCJ
circuit) and one batch (recovery, subsampling, diagonalization), checked against pyscf."""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
import pytest
from pyscf import fci, gto, mcscf, scf
from qiskit_aer import AerSimulator

from broker.algorithms.sqd import tasks as sqd_tasks
from broker.algorithms.sqd.chemistry import Integrals
from circuits.canonical import Circuit

WATER = {"atom": "O 0 0 0; H 0 0.757 0.587; H 0 -0.757 0.587", "basis": "sto-3g"}
NORB, NELEC = 6, (4, 4)  # water/STO-3G without the oxygen 1s: 12 qubits, 15 x 15 determinants


@pytest.fixture(scope="module")
def pyscf_water() -> dict[str, float]:
    """RHF and frozen-core FCI (CASCI over every other orbital) straight from pyscf."""
    mol = gto.M(atom=WATER["atom"], basis=WATER["basis"], verbose=0)
    mf = scf.RHF(mol).run()
    casci = mcscf.CASCI(mf, NORB, NELEC).run()
    return {"hf": float(mf.e_tot), "fci": float(casci.e_tot)}


@pytest.fixture(scope="module")
def problem() -> dict[str, Any]:
    """The problem task's output for water with its core frozen and a LUCJ ansatz."""
    payload = {
        "molecule": {**WATER, "frozen_core": 1},
        "ansatz": {"kind": "lucj", "n_reps": 1},
        "reference": True,
    }
    return sqd_tasks.problem(payload)


def _integrals(problem: dict[str, Any]) -> dict[str, Any]:
    return {k: problem[k] for k in ("norb", "nelec", "one_body", "two_body", "constant")}


def _bitstring(alpha: tuple[int, ...], beta: tuple[int, ...]) -> str:
    """Qiskit-order bitstring (beta half left, alpha half right; orbital 0 rightmost)."""
    bits = ["0"] * (2 * NORB)
    for p in alpha:
        bits[2 * NORB - 1 - p] = "1"
    for p in beta:
        bits[NORB - 1 - p] = "1"
    return "".join(bits)


def _every_configuration() -> dict[str, int]:
    strings = list(itertools.combinations(range(NORB), NELEC[0]))
    return {_bitstring(a, b): 1 for a in strings for b in strings}


def _hf_energy(ints: Integrals) -> float:
    """The energy of the determinant with the lowest orbitals occupied (closed shell)."""
    occ = range(ints.nelec[0])
    g = ints.two_body
    one = sum(2 * ints.one_body[i, i] for i in occ)
    two = sum(2 * g[i, i, j, j] - g[i, j, j, i] for i in occ for j in occ)
    return float(ints.constant + one + two)


def test_the_problem_has_pyscf_energies(
    problem: dict[str, Any], pyscf_water: dict[str, float]
) -> None:
    assert problem["norb"] == NORB and tuple(problem["nelec"]) == NELEC
    assert problem["num_qubits"] == 2 * NORB and problem["fci_dimension"] == 225
    assert problem["reference_energy"] == pytest.approx(pyscf_water["fci"], abs=1e-8)
    assert problem["hf_energy"] == pytest.approx(pyscf_water["hf"], abs=1e-8)
    ints = Integrals.from_json(_integrals(problem))
    assert _hf_energy(ints) == pytest.approx(pyscf_water["hf"], abs=1e-8)  # HF basis
    assert pyscf_water["fci"] < problem["ccsd_energy"] < pyscf_water["hf"]


def test_the_integrals_survive_their_packed_json_form(problem: dict[str, Any]) -> None:
    ints = Integrals.from_json(_integrals(problem))
    again = Integrals.from_json(ints.to_json())
    assert np.array_equal(again.two_body, ints.two_body)
    assert np.array_equal(again.one_body, ints.one_body)
    full = {**ints.to_json(), "two_body": ints.two_body.tolist()}  # unpacked also accepted
    assert np.array_equal(Integrals.from_json(full).two_body, ints.two_body)
    assert len(ints.to_json()["two_body"]) < ints.two_body.size / 5


def test_the_lucj_circuit_keeps_the_electron_counts_and_starts_from_hartree_fock(
    problem: dict[str, Any],
) -> None:
    qc = Circuit(qasm=problem["circuit"]).to_qiskit()
    assert qc.num_qubits == 2 * NORB
    counts = AerSimulator().run(qc, shots=4000, seed_simulator=3).result().get_counts()
    for bits in counts:
        assert bits[NORB:].count("1") == NELEC[0] and bits[:NORB].count("1") == NELEC[1]
    hartree_fock = _bitstring(tuple(range(4)), tuple(range(4)))
    assert max(counts, key=counts.__getitem__) == hartree_fock
    assert len(counts) > 1  # correlated: more than the HF determinant


def _batch(problem: dict[str, Any], counts: dict[str, int], **extra: Any) -> dict[str, Any]:
    payload = {
        "integrals": _integrals(problem),
        "counts": counts,
        "occupancies": None,
        "carryover": [[], []],
        "samples_per_batch": 1000,
        "seed": 5,
        "symmetrize_spin": True,
        **extra,
    }
    return sqd_tasks.diagonalize(payload)


def test_a_complete_subspace_gives_the_fci_energy(
    problem: dict[str, Any], pyscf_water: dict[str, float]
) -> None:
    out = _batch(problem, _every_configuration())
    assert out["subspace_dimension"] == 225 and out["strings"] == [15, 15]
    assert out["energy"] == pytest.approx(pyscf_water["fci"], abs=1e-8)
    assert out["valid_fraction"] == pytest.approx(1.0) and out["recovered"] is False
    occ_a, occ_b = out["occupancies"]
    assert sum(occ_a) == pytest.approx(4) and sum(occ_b) == pytest.approx(4)
    assert out["hostname"] and out["elapsed_s"] >= 0


def test_a_partial_subspace_is_variational_and_seeded(
    problem: dict[str, Any], pyscf_water: dict[str, float]
) -> None:
    out = _batch(problem, _every_configuration(), samples_per_batch=6, seed=1)
    assert out["subspace_dimension"] < 225
    assert out["energy"] > pyscf_water["fci"] + 1e-6  # variational, and incomplete
    again = _batch(problem, _every_configuration(), samples_per_batch=6, seed=1)
    assert {**again, "elapsed_s": 0} == {**out, "elapsed_s": 0}
    assert out["carryover"][0]  # strings that matter, for the next round


def test_carried_over_strings_join_the_subspace(
    problem: dict[str, Any], pyscf_water: dict[str, float]
) -> None:
    hf_only = {_bitstring(tuple(range(4)), tuple(range(4))): 10}
    alone = _batch(problem, hf_only)
    assert alone["subspace_dimension"] == 1
    assert alone["energy"] == pytest.approx(pyscf_water["hf"], abs=1e-8)
    full = _batch(problem, _every_configuration())
    helped = _batch(problem, hf_only, carryover=full["carryover"])
    assert helped["subspace_dimension"] > 1
    assert helped["energy"] < alone["energy"] - 1e-3


def test_configuration_recovery_corrects_wrong_electron_counts(
    problem: dict[str, Any], pyscf_water: dict[str, float]
) -> None:
    # Every sample has one alpha electron too many or too few: none is usable as measured.
    wrong = {
        _bitstring((0, 1, 2, 3, 4), (0, 1, 2, 3)): 30,
        _bitstring((0, 1, 2), (0, 1, 2, 3)): 20,
        _bitstring((0, 1, 2, 5, 4), (0, 1, 3, 2)): 10,
    }
    first = _batch(problem, wrong)  # no occupancies yet: recovers from Hartree-Fock's
    assert first["valid_fraction"] == 0 and first["recovered"] is True
    later = _batch(problem, wrong, occupancies=first["occupancies"])
    assert later["recovered"] is True and later["configurations"] >= 1
    for out in (first, later):
        assert out["energy"] >= pyscf_water["fci"] - 1e-10 and out["subspace_dimension"] >= 1
    ints = Integrals.from_json(_integrals(problem))
    occupancies = (np.array(first["occupancies"][0]), np.array(first["occupancies"][1]))
    rng = np.random.default_rng(0)
    fixed, probs, valid, recovered = sqd_tasks.configurations(ints, wrong, occupancies, rng)
    assert recovered and valid == 0 and probs.sum() == pytest.approx(1.0)
    assert (fixed[:, NORB:].sum(axis=1) == NELEC[0]).all()
    assert (fixed[:, :NORB].sum(axis=1) == NELEC[1]).all()


def test_counts_of_the_wrong_width_are_refused(problem: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="have 4 bits but the problem needs 12"):
        _batch(problem, {"0101": 3})


def test_inline_integrals_in_another_basis_are_rotated_to_hartree_fock_for_lucj(
    problem: dict[str, Any], pyscf_water: dict[str, float]
) -> None:
    ints = Integrals.from_json(_integrals(problem))
    q, _ = np.linalg.qr(np.random.default_rng(4).normal(size=(NORB, NORB)))
    g = np.einsum("pqrs,pi,qj,rk,sl->ijkl", ints.two_body, q, q, q, q)
    rotated = {
        "norb": NORB,
        "nelec": list(NELEC),
        "one_body": (q.T @ ints.one_body @ q).tolist(),
        "two_body": g.tolist(),
        "constant": ints.constant,
    }
    assert _hf_energy(Integrals.from_json(rotated)) > pyscf_water["hf"] + 1e-3  # not HF
    out = sqd_tasks.problem({"integrals": rotated, "ansatz": {"kind": "lucj", "n_reps": 1}})
    assert out["circuit"] is not None and out["source"] == "integrals"
    assert out["hf_energy"] == pytest.approx(pyscf_water["hf"], abs=1e-7)
    assert _hf_energy(Integrals.from_json(out)) == pytest.approx(pyscf_water["hf"], abs=1e-7)
    assert out["reference_energy"] == pytest.approx(pyscf_water["fci"], abs=1e-8)
    assert out["ccsd_energy"] == pytest.approx(problem["ccsd_energy"], abs=1e-7)
    back = Integrals.from_json(out)
    energy, _ = fci.direct_spin1.kernel(back.one_body, back.two_body, NORB, NELEC)
    assert energy + back.constant == pytest.approx(pyscf_water["fci"], abs=1e-8)
    # A QASM circuit was written for the basis given: the integrals stay in it.
    kept = sqd_tasks.problem({"integrals": rotated, "ansatz": {"kind": "qasm"}})
    assert kept["circuit"] is None and "ccsd_energy" not in kept
    assert np.allclose(kept["one_body"], rotated["one_body"], atol=1e-12)
    assert kept["hf_energy"] == pytest.approx(pyscf_water["hf"], abs=1e-7)
    assert kept["reference_energy"] == pytest.approx(pyscf_water["fci"], abs=1e-8)


def test_no_reference_beyond_the_limit(problem: dict[str, Any]) -> None:
    payload = {"integrals": _integrals(problem), "ansatz": {"kind": "qasm"}}
    out = sqd_tasks.problem({**payload, "reference_max_determinants": 224})
    assert out["reference_energy"] is None and out["fci_dimension"] == 225
    assert sqd_tasks.problem({**payload, "reference": False})["reference_energy"] is None


def test_significant_strings_are_ranked_by_weight() -> None:
    amplitudes = np.array([[0.1, 0.0, 0.0], [0.9, 0.3, 0.0], [0.0, 0.0, 1e-6]])
    alpha, beta = sqd_tasks.significant_strings(
        amplitudes, np.array([3, 5, 6]), np.array([9, 10, 12]), threshold=1e-4
    )
    assert alpha == [5, 3]  # row weights 0.9, 0.01; row 2 below the threshold
    assert beta == [9, 10]
