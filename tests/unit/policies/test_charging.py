"""What a finished task is charged: in the units the policy counts its backend in, with the
charge and QOS usage factors."""

from __future__ import annotations

import pytest

from policies.charging import charged_units, charges, occupied
from policies.loader import parse_policy

POLICY = parse_policy("""
apiVersion: qcbroker/v1
kind: Policy
metadata: {name: t}
backends:
  aer: {units: [evaluations, shots]}
  ibm: {units: [qpu_seconds], charge_factor: 1.5}
  slurm: {units: [node_hours], charge_factor: 2}
security_domains:
  open: {backends: ["*"]}
qos:
  normal: {}
  premium: {priority: 100, usage_factor: 3}
proposals:
  - id: chem
    pi: ada
    members: [ada]
    budgets:
      - {backend: aer, unit: evaluations, amount: 1000}
""").policy

SIMULATOR_RUN = {"evaluations": 9.0, "shots": 4000.0, "qpu_seconds": 0.25}


def test_a_simulator_is_charged_only_in_the_units_it_is_counted_in() -> None:
    assert charges(POLICY, "aer", None, SIMULATOR_RUN) == {"evaluations": 9.0, "shots": 4000.0}


def test_a_qpu_counted_in_seconds_is_charged_seconds_times_its_factor() -> None:
    assert charges(POLICY, "ibm", "premium", SIMULATOR_RUN) == {"qpu_seconds": 0.375}


def test_classical_units_take_the_qos_usage_factor_too() -> None:
    assert charges(POLICY, "slurm", "premium", {"node_hours": 0.5}) == {"node_hours": 3.0}
    assert charges(POLICY, "slurm", "normal", {"node_hours": 0.5}) == {"node_hours": 1.0}


def test_a_backend_the_policy_does_not_name_is_charged_in_every_unit() -> None:
    assert charged_units(POLICY, "cirq") is None
    assert charges(POLICY, "cirq", None, SIMULATOR_RUN) == SIMULATOR_RUN


@pytest.mark.parametrize(("kind", "expected"), [("classical", 40.0), ("quantum", 10.0)])
def test_fair_share_occupancy_counts_nodes_only_for_classical_tasks(
    kind: str, expected: float
) -> None:
    assert occupied(kind, 10.0, 4.0) == expected
