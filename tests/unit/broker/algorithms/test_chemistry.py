"""The H2 STO-3G Hamiltonian built from scratch against the example's and the literature's."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from broker.algorithms import chemistry
from circuits.observables import PauliSum
from tests.conftest import H2_TERMS

OFFSET = 0.7199689944489797  # examples/vqe_h2.yaml
FCI_ENERGY = -1.13730  # H2/STO-3G at 0.735 Å, literature
HF_ENERGY = -1.1167  # Szabo & Ostlund §3.5.2 (at R = 1.4 bohr; 0.735 Å is 1.389 bohr)


@pytest.fixture(scope="module")
def problem() -> chemistry.H2Problem:
    return chemistry.build_h2(0.735)


def total_energy(payload: dict[str, object]) -> float:
    result = chemistry.h2(payload)
    electronic = PauliSum.model_validate(result["hamiltonian"]).ground_energy()
    return electronic + float(result["energy_offset"])


def test_reduced_hamiltonian_matches_the_example_term_by_term(
    problem: chemistry.H2Problem,
) -> None:
    built = {t.pauli: t.coeff for t in problem.reduced.terms}
    assert set(built) == {label for label, _ in H2_TERMS}
    for label, coeff in H2_TERMS:
        assert built[label] == pytest.approx(coeff, abs=1e-6), label


def test_entry_point_returns_json_with_the_example_offset() -> None:
    result = chemistry.h2({})
    assert json.loads(json.dumps(result)) == result
    assert result["num_qubits"] == 2
    assert abs(result["energy_offset"] - OFFSET) < 1e-9
    terms = result["hamiltonian"]["terms"]
    assert [t["pauli"] for t in terms] == [label for label, _ in H2_TERMS]  # same order too
    assert [t["coeff"] for t in terms] == pytest.approx([c for _, c in H2_TERMS], abs=1e-6)


def test_fci_and_hf_energies_match_the_literature() -> None:
    result = chemistry.h2({"bond_length": 0.735})
    assert total_energy({"bond_length": 0.735}) == pytest.approx(FCI_ENERGY, abs=1e-4)
    assert result["hf_energy"] == pytest.approx(HF_ENERGY, abs=1e-3)
    assert result["hf_energy"] > FCI_ENERGY


def test_szabo_ostlund_integrals_at_1_4_bohr() -> None:
    # Szabo & Ostlund, section 3.5.2: STO-3G H2 at R = 1.4 bohr.
    r = 1.4
    centers = [(0.0, 0.0, 0.0), (0.0, 0.0, r)]
    basis = [
        chemistry.ContractedGaussian(c, chemistry.STO3G_EXPONENTS, chemistry.STO3G_COEFFICIENTS)
        for c in centers
    ]
    ints = chemistry.ao_integrals(basis, [(c, 1.0) for c in centers])
    assert ints.overlap[0, 1] == pytest.approx(0.6593, abs=1e-4)
    assert ints.kinetic[0, 0] == pytest.approx(0.7600, abs=1e-4)
    assert (ints.kinetic + ints.nuclear)[0, 0] == pytest.approx(-1.1204, abs=1e-4)
    assert (ints.kinetic + ints.nuclear)[0, 1] == pytest.approx(-0.9584, abs=1e-4)
    assert ints.eri[0, 0, 0, 0] == pytest.approx(0.7746, abs=1e-4)
    assert ints.eri[0, 0, 1, 1] == pytest.approx(0.5697, abs=1e-4)
    assert ints.eri[1, 0, 0, 0] == pytest.approx(0.4441, abs=1e-4)
    assert ints.eri[1, 0, 1, 0] == pytest.approx(0.2970, abs=1e-4)
    scf = chemistry.rhf(ints, n_occupied=1)
    assert scf.energy + 1 / r == pytest.approx(-1.1167, abs=1e-4)
    assert scf.orbital_energies == pytest.approx([-0.578, 0.670], abs=1e-3)


def test_jordan_wigner_two_electron_ground_state_equals_the_reduced_one(
    problem: chemistry.H2Problem,
) -> None:
    assert problem.jordan_wigner.num_qubits == 4
    matrix = problem.jordan_wigner.to_matrix()
    two_electrons = [i for i in range(16) if i.bit_count() == 2]
    sector = matrix[np.ix_(two_electrons, two_electrons)]
    assert np.allclose(matrix, matrix.conj().T)
    lowest = float(np.linalg.eigvalsh(sector)[0])
    assert lowest == pytest.approx(problem.reduced.ground_energy(), abs=1e-9)


def test_hartree_fock_determinant_energy(problem: chemistry.H2Problem) -> None:
    # Spin orbitals 0 (sigma_g alpha) and 2 (sigma_g beta) occupied: basis index 0b0101.
    matrix = problem.jordan_wigner.to_matrix()
    assert matrix[0b0101, 0b0101].real + problem.energy_offset == pytest.approx(
        problem.hf_energy, abs=1e-10
    )


def test_dissociation_curve_has_its_minimum_near_equilibrium() -> None:
    energies = {r: total_energy({"bond_length": r}) for r in (0.5, 0.735, 2.0)}
    assert energies[0.735] < energies[0.5]
    assert energies[0.735] < energies[2.0]


@pytest.mark.parametrize("bad", [0.0, -1.0, math.inf, "0.7", True])
def test_rejects_bad_bond_lengths(bad: object) -> None:
    with pytest.raises(ValueError, match="bond_length"):
        chemistry.h2({"bond_length": bad})


def test_boys_function_limits() -> None:
    assert chemistry.boys0(0.0) == 1.0
    assert chemistry.boys0(1e-9) == pytest.approx(1.0 - 1e-9 / 3)
    assert chemistry.boys0(50.0) == pytest.approx(0.5 * math.sqrt(math.pi / 50.0))
