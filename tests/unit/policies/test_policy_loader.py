from __future__ import annotations

from pathlib import Path

import pytest

from broker.config import DEFAULT_POLICY
from policies.errors import PolicyError
from policies.loader import load_policy, parse_policy

BROKEN = """
apiVersion: qcbroker/v1
kind: Policy
metadata: {name: broken}
backends:
  aer: {units: [evaluations, parsecs]}
  ibm: {units: [qpu_seconds]}
proposals:
  - id: p1
    pi: ada
    members: [ada]
    budgets:
      - {backend: aer, unit: evaluations, amount: -5}
  - id: p2
    pi: bob
    members: []
    colour: blue
"""


def test_the_default_policy_is_valid() -> None:
    loaded = load_policy(DEFAULT_POLICY)
    assert loaded.policy.proposal("local") is not None
    assert loaded.revision.startswith("local-default@1+")


def test_every_schema_error_is_listed_with_its_path() -> None:
    with pytest.raises(PolicyError) as info:
        parse_policy(BROKEN, "broken.yaml")
    text = str(info.value)
    assert "backends.aer.units[1]" in text
    assert "proposals[0].budgets[0].amount" in text
    assert "proposals[1].members" in text
    assert "proposals[1].colour" in text
    assert len(info.value.errors) == 4


def test_cross_checks_name_the_path_and_the_valid_choices() -> None:
    text = """
apiVersion: qcbroker/v1
kind: Policy
metadata: {name: x}
backends:
  aer: {units: [evaluations]}
proposals:
  - id: p1
    pi: ada
    members: [ada]
    budgets:
      - {backend: aer, unit: shots, amount: 5}
      - {backend: braket, unit: shots, amount: 5}
"""
    with pytest.raises(PolicyError) as info:
        parse_policy(text)
    errors = info.value.errors
    assert errors[0].startswith("proposals[0].budgets[0].unit:") and "evaluations" in errors[0]
    assert errors[1].startswith("proposals[0].budgets[1].backend:") and "aer" in errors[1]


def test_yaml_syntax_error_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text("apiVersion: qcbroker/v1\nkind: [Policy\n")
    with pytest.raises(PolicyError, match="line 3"):
        load_policy(path)


def test_revision_changes_with_the_text() -> None:
    text = DEFAULT_POLICY.read_text()
    assert parse_policy(text).revision != parse_policy(text + "\n# edited\n").revision
