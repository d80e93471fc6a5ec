"""The chemistry behind SQD's classical tasks: integrals of an active space, the Hartree-Fock
basis they are expressed in, the exact (FCI) reference, and the LUCJ sampling circuit.

Conventions are those of ``qiskit-addon-sqd`` and ``ffsim``: spatial orbital ``p`` is qubit
``p`` for spin alpha and qubit ``norb + p`` for spin beta (Jordan-Wigner), so a measured
bitstring in Qiskit order reads ``beta | alpha`` from left to right. Two-electron integrals
are in chemists' notation, (pq|rs).

Only the classical tasks import this module (through :mod:`broker.algorithms.sqd.tasks`);
``ffsim`` is imported only when a LUCJ circuit is built.
"""

from __future__ import annotations

from dataclasses import dataclass
from math import comb
from typing import Any

import numpy as np
from pyscf import ao2mo, cc, fci, gto, mcscf, scf

Array = np.ndarray[Any, np.dtype[Any]]

# Gates the LUCJ circuit is written in: all in the canonical gate set, so the circuit
# survives the round trip to OpenQASM 3 unchanged.
_BASIS_GATES = ["x", "sx", "rz", "ry", "rx", "h", "p", "cx", "cp"]
_TRANSPILE_SEED = 11


@dataclass(frozen=True)
class Integrals:
    """A fermionic Hamiltonian: ``constant + Σ h_pq a†p aq + ½ Σ (pq|rs) a†p a†r as aq``
    over ``norb`` spatial orbitals, with ``nelec`` (alpha, beta) electrons."""

    norb: int
    nelec: tuple[int, int]
    one_body: Array
    two_body: Array
    constant: float

    def to_json(self) -> dict[str, Any]:
        """JSON form; the two-body tensor is packed by its 8-fold symmetry to stay small."""
        packed = ao2mo.restore(8, self.two_body, self.norb)
        return {
            "norb": self.norb,
            "nelec": list(self.nelec),
            "one_body": self.one_body.tolist(),
            "two_body": np.asarray(packed).tolist(),
            "constant": self.constant,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Integrals:
        """Read :meth:`to_json`'s form, or a full ``norb``^4 nested list as the two-body part."""
        norb = int(data["norb"])
        na, nb = (int(n) for n in data["nelec"])
        two = np.asarray(data["two_body"], dtype=float)
        full = two.reshape((norb,) * 4) if two.size == norb**4 else ao2mo.restore(1, two, norb)
        return cls(
            norb=norb,
            nelec=(na, nb),
            one_body=np.asarray(data["one_body"], dtype=float).reshape(norb, norb),
            two_body=np.asarray(full),
            constant=float(data.get("constant", 0.0)),
        )

    @property
    def fci_dimension(self) -> int:
        """Determinants of the full space with these electron counts."""
        return comb(self.norb, self.nelec[0]) * comb(self.norb, self.nelec[1])


def build_molecule(spec: dict[str, Any]) -> gto.Mole:
    """A pyscf molecule from the job's ``molecule`` inputs."""
    mol = gto.Mole()
    mol.build(
        atom=spec["atom"],
        basis=spec.get("basis", "sto-3g"),
        charge=int(spec.get("charge", 0)),
        spin=int(spec.get("spin", 0)),
        unit=spec.get("unit", "angstrom"),
        verbose=0,
    )
    return mol


def frozen_core_count(mol: gto.Mole, frozen_core: bool | int) -> int:
    """Doubly occupied orbitals left out: a number, or pyscf's chemical core for ``True``."""
    if frozen_core is True:
        from pyscf.data import elements

        return int(elements.chemcore(mol))
    return int(frozen_core or 0)


def molecule_integrals(spec: dict[str, Any]) -> tuple[Integrals, float]:
    """Active-space integrals of a molecule in its Hartree-Fock orbitals, and the HF energy.

    The core orbitals are frozen (folded into the constant and the one-body term); the
    active space is the next ``active_orbitals`` orbitals by energy (default: all).
    """
    mol = build_molecule(spec)
    mf = scf.RHF(mol) if mol.spin == 0 else scf.ROHF(mol)
    mf.kernel()
    if not mf.converged:
        raise RuntimeError("the Hartree-Fock calculation did not converge")
    ncore = frozen_core_count(mol, spec.get("frozen_core", False))
    nmo = mf.mo_coeff.shape[1]
    ncas = int(spec.get("active_orbitals") or nmo - ncore)
    na, nb = mol.nelec
    nelec = (na - ncore, nb - ncore)
    if min(nelec) < 0 or ncore + ncas > nmo or max(nelec) > ncas:
        raise ValueError(
            f"an active space of {ncas} orbitals after {ncore} frozen ones does not fit "
            f"{nmo} orbitals and {na}+{nb} electrons"
        )
    cas = mcscf.CASCI(mf, ncas, nelec)
    one_body, constant = cas.get_h1eff()
    two_body = ao2mo.restore(1, cas.get_h2eff(), ncas)
    ints = Integrals(ncas, nelec, np.asarray(one_body), np.asarray(two_body), float(constant))
    return ints, float(mf.e_tot)


def _model_scf(ints: Integrals) -> scf.hf.SCF:
    """A pyscf SCF object whose Hamiltonian is ``ints`` in an orthonormal basis."""
    mol = gto.M(verbose=0)
    mol.nelectron = sum(ints.nelec)
    mol.spin = ints.nelec[0] - ints.nelec[1]
    mol.incore_anyway = True
    mf = scf.RHF(mol) if mol.spin == 0 else scf.ROHF(mol)
    mf.get_hcore = lambda *args: ints.one_body
    mf.get_ovlp = lambda *args: np.eye(ints.norb)
    mf.energy_nuc = lambda *args: ints.constant
    mf._eri = ao2mo.restore(8, ints.two_body, ints.norb)
    return mf


def hartree_fock_basis(ints: Integrals) -> tuple[Integrals, Any, float]:
    """``ints`` rotated to their own Hartree-Fock orbitals, the converged SCF object, and the
    HF energy.

    Integrals from :func:`molecule_integrals` are already in HF orbitals: the SCF starts
    there and stops at once. Integrals given inline may be in any orthonormal basis; the
    sampling circuit starts from the HF determinant, so they are rotated first.
    """
    mf = _model_scf(ints)
    occ_a = np.diag([1.0 if p < ints.nelec[0] else 0.0 for p in range(ints.norb)])
    occ_b = np.diag([1.0 if p < ints.nelec[1] else 0.0 for p in range(ints.norb)])
    dm0 = occ_a + occ_b if ints.nelec[0] == ints.nelec[1] else np.array([occ_a, occ_b])
    mf.kernel(dm0=dm0)
    if not mf.converged:
        raise RuntimeError("the Hartree-Fock calculation on the given integrals did not converge")
    c = np.asarray(mf.mo_coeff)
    rotated = Integrals(
        norb=ints.norb,
        nelec=ints.nelec,
        one_body=c.T @ ints.one_body @ c,
        two_body=np.asarray(ao2mo.restore(1, ao2mo.full(ints.two_body, c), ints.norb)),
        constant=ints.constant,
    )
    return rotated, mf, float(mf.e_tot)


def fci_energy(ints: Integrals) -> float:
    """The exact ground energy in the space of ``ints`` (with its constant)."""
    energy, _ = fci.direct_spin1.kernel(
        ints.one_body, ints.two_body, ints.norb, ints.nelec, ecore=ints.constant
    )
    return float(energy)


def ccsd_amplitudes(mf: Any) -> tuple[Array, Array, float]:
    """CCSD t1, t2 amplitudes and total energy on a converged closed-shell SCF object."""
    ccsd = cc.CCSD(mf)
    ccsd.kernel()
    if not ccsd.converged:
        raise RuntimeError("CCSD did not converge; use a QASM ansatz for this system")
    return np.asarray(ccsd.t1), np.asarray(ccsd.t2), float(ccsd.e_tot)


def lucj_circuit(ints: Integrals, t1: Array, t2: Array, n_reps: int) -> str:
    """The measured LUCJ circuit from CCSD amplitudes, as canonical OpenQASM 3.

    The local unitary cluster Jastrow ansatz (Motta et al., 2023) truncated to ``n_reps``
    layers, initialised from the t2 (and t1, as a final orbital rotation) amplitudes, on
    the Hartree-Fock state, with all same-spin and opposite-spin pair interactions (a
    simulator has all-to-all connectivity).
    """
    import ffsim
    from qiskit import QuantumCircuit, QuantumRegister, transpile

    from circuits.canonical import Circuit

    op = ffsim.UCJOpSpinBalanced.from_t_amplitudes(t2, t1=t1, n_reps=n_reps)
    qubits = QuantumRegister(2 * ints.norb, "q")
    qc = QuantumCircuit(qubits)
    qc.append(ffsim.qiskit.PrepareHartreeFockJW(ints.norb, ints.nelec), qubits)
    qc.append(ffsim.qiskit.UCJOpSpinBalancedJW(op), qubits)
    qc.measure_all()
    qc = ffsim.qiskit.PRE_INIT.run(qc)
    qc = transpile(
        qc, basis_gates=_BASIS_GATES, optimization_level=1, seed_transpiler=_TRANSPILE_SEED
    )
    return Circuit.from_qiskit(qc).qasm
