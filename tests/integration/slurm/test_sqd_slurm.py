"""The SQD example end to end: the problem and every configuration-recovery batch as Slurm
jobs on the real cluster, the sampling on Aer, through the embedded broker."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

import pytest
from pyscf import gto, mcscf, scf

from broker import Client
from broker.core.idempotency import spec_sha256
from broker.jobfile import load_job
from tests.conftest import EXAMPLES, SlurmCluster
from tests.examples_run import run_example

pytestmark = pytest.mark.integration

EXAMPLE = EXAMPLES / "sqd_h2o_slurm.yaml"
CHEMICAL_ACCURACY = 1.6e-3


def _exact_energy(molecule: dict[str, Any]) -> float:
    """FCI in the example's active space (CASCI on pyscf's RHF), from the example's inputs."""
    mol = gto.M(
        atom=molecule["atom"],
        basis=molecule["basis"],
        charge=molecule.get("charge", 0),
        spin=molecule.get("spin", 0),
        verbose=0,
    )
    mf = scf.RHF(mol).run()
    electrons = mol.nelectron - 2 * molecule["frozen_core"]
    return float(mcscf.CASCI(mf, molecule["active_orbitals"], electrons).run().e_tot)


def _slurm_record(cluster: SlurmCluster, slurm_id: str) -> dict[str, str]:
    """Slurm's own record of a job (the controller's; accounting is off on this cluster)."""
    text = cluster.tool("scontrol", "show", "job", "--oneliner", slurm_id)
    return dict(re.findall(r"(\w+)=(\S*)", text))


def _interval(record: dict[str, str]) -> tuple[datetime, datetime]:
    return datetime.fromisoformat(record["StartTime"]), datetime.fromisoformat(record["EndTime"])


def test_the_sqd_example_reaches_chemical_accuracy_with_batches_on_several_nodes(
    slurm_client: Client, slurm_cluster: SlurmCluster
) -> None:
    spec = load_job(EXAMPLE)
    assert spec.classical_backend == "slurm" and spec.algorithm.name == "sqd"
    job_id = run_example(slurm_client, "sqd_h2o_slurm.yaml", timeout=300)
    found = slurm_client.result(job_id)
    assert found.lineage.job_sha256 == spec_sha256(spec)  # the example file, as it is
    result = found.result
    assert result is not None

    # (a) within chemical accuracy of the exact energy, computed here
    exact = _exact_energy(spec.algorithm.inputs["molecule"])
    assert result["reference_energy"] == pytest.approx(exact, abs=1e-7)
    assert abs(result["energy"] - exact) < CHEMICAL_ACCURACY
    assert result["subspace_dimension"] < result["fci_dimension"]  # not the whole space

    # (b) batches of one round ran at the same time on different nodes, as Slurm saw it
    tasks = {t.key: t for t in found.lineage.tasks}
    rounds = result["iterations"]
    overlapping = []
    for i, row in enumerate(rounds):
        batches = [tasks[f"iter{i}-batch{b}"] for b in range(len(row["batch_energies"]))]
        assert len({t.step for t in batches}) == 1  # one step: released together
        records = []
        for task, nodes in zip(batches, row["batch_nodes"], strict=True):
            assert task.backend == "slurm" and task.native_id
            record = _slurm_record(slurm_cluster, task.native_id.partition("@")[0])
            assert record["JobState"] == "COMPLETED"
            assert [record["NodeList"]] == nodes  # what the broker recorded is Slurm's
            records.append(record)
        for a in range(len(records)):
            for b in range(a + 1, len(records)):
                (start_a, end_a), (start_b, end_b) = _interval(records[a]), _interval(records[b])
                if records[a]["NodeList"] != records[b]["NodeList"] and max(start_a, start_b) < min(
                    end_a, end_b
                ):
                    overlapping.append((i, records[a]["NodeList"], records[b]["NodeList"]))
    assert overlapping, "no two batches of a round ran at once on different nodes"

    # (c) the lineage lists every task, each one charged
    expected = {"problem", "sample"} | {
        f"iter{i}-batch{b}"
        for i, row in enumerate(rounds)
        for b in range(len(row["batch_energies"]))
    }
    assert set(tasks) == expected
    charged = {c.task_id for c in found.charges if c.kind == "charge" and c.amount > 0}
    for task in tasks.values():
        assert task.state == "COMPLETED" and task.id in charged, task.key
        unit = "shots" if task.kind == "quantum" else "node_hours"
        assert task.charged.get(unit, 0) > 0, task.key
    assert tasks["sample"].backend == "aer"
    assert tasks["sample"].charged["shots"] == spec.algorithm.inputs["shots"]
