from __future__ import annotations

import hashlib
import re
from pathlib import Path

import pytest
from pydantic import BaseModel

from broker.config import DEFAULT_POLICY
from policies.errors import PolicyError
from policies.loader import format_loc, load_policy, parse_policy
from policies.proposals import Budget, Proposal
from policies.schema import Policy
from policies.sections import (
    QOS,
    BackendPolicy,
    Capacity,
    Checkpoint,
    Effective,
    FairShare,
    Metadata,
    Overrun,
    OverrunBand,
    Priority,
    SecurityDomain,
    Weights,
)

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


EXAMPLES = Path(__file__).resolve().parents[3] / "policies" / "examples"
EXAMPLE_FILES = sorted(EXAMPLES.glob("*.yaml"))


@pytest.mark.parametrize("path", EXAMPLE_FILES, ids=[p.stem for p in EXAMPLE_FILES])
def test_every_example_policy_validates(path: Path) -> None:
    loaded = load_policy(path)
    assert loaded.text == path.read_text()
    assert loaded.policy.proposals
    assert loaded.source == str(path)


def _fields_set(model: BaseModel, out: set[str]) -> None:
    for name in model.model_fields_set:
        out.add(f"{type(model).__name__}.{name}")
        value = getattr(model, name)
        if isinstance(value, dict):
            children = list(value.values())
        else:
            children = value if isinstance(value, list) else [value]
        for child in children:
            if isinstance(child, BaseModel):
                _fields_set(child, out)


def test_the_examples_use_every_field_of_the_schema_between_them() -> None:
    used: set[str] = set()
    for path in EXAMPLE_FILES:
        _fields_set(load_policy(path).policy, used)
    models: list[type[BaseModel]] = [
        Policy, Metadata, Effective, BackendPolicy, Capacity, SecurityDomain, QOS, Priority,
        Weights, FairShare, Overrun, OverrunBand, Checkpoint, Proposal, Budget,
    ]  # fmt: skip
    every = {f"{m.__name__}.{name}" for m in models for name in m.model_fields}
    assert every - used == set()


def test_the_loaded_policy_keeps_its_exact_text_and_digest() -> None:
    text = DEFAULT_POLICY.read_text() + "\n# a comment is part of the revision\n"
    loaded = parse_policy(text, "x.yaml")
    assert loaded.text == text
    assert loaded.sha256 == hashlib.sha256(text.encode()).hexdigest()
    assert loaded.revision == f"local-default@1+{loaded.sha256[:12]}"
    assert format_loc(("proposals", 3, "budgets", 1, "unit")) == "proposals[3].budgets[1].unit"


def test_the_size_is_checked_before_the_file_is_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "sparse.yaml"
    with path.open("wb") as out:
        out.truncate(3 * 2**20)

    def no_reading(self: Path) -> bytes:
        raise AssertionError("read")

    monkeypatch.setattr(Path, "read_bytes", no_reading)
    with pytest.raises(PolicyError) as info:
        load_policy(path)
    assert info.value.errors == ["the file is 3.1 MB; a policy file may be at most 1 MiB"]


def test_an_unknown_field_lists_the_valid_fields_and_cross_checks_still_run() -> None:
    text = DEFAULT_POLICY.read_text().replace(
        "  ibm:\n    units: [evaluations, shots]\n",
        "  ibm:\n    units: [evaluations, shots]\n    capacity: [{unit: shots, amount: 9, "
        "windw: 28d}]\n    colour: blue\n",
    )
    line = text.splitlines().index("    colour: blue") + 1
    with pytest.raises(PolicyError) as info:
        parse_policy(text)
    assert info.value.errors == [
        "backends.ibm.capacity[0].windw: unknown field (did you mean window?); valid fields: "
        f"unit, amount, period, window, oversubscription (line {line - 1})",
        # the rest of the capacity entry is still checked against the awards
        "backends.ibm.capacity[0]: the proposals are awarded 1e+10 shots per allocation year "
        f"on 'ibm', more than its capacity of 9 (line {line - 1})",
        "backends.ibm.colour: unknown field; valid fields: units, charge_factor, capacity, size "
        f"(line {line})",
    ]


def test_an_invisible_character_in_a_key_is_pointed_out() -> None:
    text = DEFAULT_POLICY.read_text().replace("kind: Policy", "kind\u00a0: Policy")
    with pytest.raises(PolicyError, match=r"it is written 'kind\\xa0'"):
        parse_policy(text)


def test_a_whole_number_revision_needs_no_quotes() -> None:
    text = DEFAULT_POLICY.read_text().replace('revision: "1"', "revision: 12")
    assert parse_policy(text).policy.metadata.revision == "12"


def test_the_readme_example_validates() -> None:
    readme = (EXAMPLES.parent / "README.md").read_text()
    [block] = re.findall(r"```yaml\n(.*?)```", readme, re.S)
    loaded = parse_policy(block)
    assert loaded.policy.proposal("LAB-01") is not None
