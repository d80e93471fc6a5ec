"""The policy schema section by section, and how whole files are refused.

Each case breaks one thing in an otherwise valid policy and expects exactly one error,
starting with its path; a file with ten mistakes across sections gets exactly ten.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from policies import loader
from policies.errors import PolicyError
from policies.loader import MAX_POLICY_BYTES, load_policy, parse_policy

BASE: dict[str, Any] = {
    "apiVersion": "qcbroker/v1",
    "kind": "Policy",
    "metadata": {"name": "t", "revision": "1"},
    "effective": {"from": "2026-01-01", "to": "2026-12-31"},
    "backends": {
        "slurm": {
            "units": ["node_hours"],
            "capacity": [{"unit": "node_hours", "amount": 1000}],
        },
        "ibm": {
            "units": ["qpu_seconds"],
            "capacity": [
                {"unit": "qpu_seconds", "amount": 6000, "period": "rolling", "window": "28d"}
            ],
        },
        "aer": {"units": ["evaluations", "shots"]},
    },
    "security_domains": {
        "open": {"backends": ["*"]},
        "controlled": {"backends": ["slurm", "aer"], "controlled": True},
    },
    "qos": {"normal": {}, "premium": {"priority": 100, "usage_factor": 2}},
    "priority": {"weights": {"age": 1000}, "max_age": "14d", "favor": "large"},
    "fairshare": {"half_life": "7d", "programs": {"INCITE": 60, "DD": 40}},
    "overrun": {
        "bands": [
            {"above_pct": 100, "age_penalty": "30d"},
            {"above_pct": 125, "age_penalty": "365d", "max_running_jobs": 3},
        ],
        "hard_stop_pct": 150,
    },
    "checkpoints": [{"date": "2026-05-01", "if_used_below_pct": 10, "remove_pct_of_unused": 25}],
    "proposals": [
        {
            "id": "P-1",
            "pi": "ada",
            "members": ["ada", "bob"],
            "program": "INCITE",
            "allowed_qos": ["normal", "premium"],
            "start": "2026-01-01",
            "expires": "2026-12-31",
            "budgets": [
                {"backend": "slurm", "unit": "node_hours", "amount": 500, "enforcement": "soft"},
                {
                    "backend": "ibm",
                    "unit": "qpu_seconds",
                    "amount": 2400,
                    "period": "rolling",
                    "window": "28d",
                },
            ],
        },
        {
            "id": "P-2",
            "pi": "eve",
            "members": ["eve"],
            "program": "DD",
            "security_domain": "controlled",
            "budgets": [{"backend": "aer", "unit": "shots", "amount": 1e6, "period": "month"}],
        },
    ],
}


def dump(data: dict[str, Any]) -> str:
    return yaml.safe_dump(data, sort_keys=False)


def errors_of(data: dict[str, Any] | str) -> list[str]:
    text = data if isinstance(data, str) else dump(data)
    with pytest.raises(PolicyError) as info:
        parse_policy(text, "t.yaml")
    return info.value.errors


def test_the_base_policy_is_valid() -> None:
    loaded = parse_policy(dump(BASE))
    assert [p.id for p in loaded.policy.proposals] == ["P-1", "P-2"]
    assert loaded.policy.priority.max_age == 14 * 86400


Mutation = Callable[[dict[str, Any]], object]

# (what breaks, path the single error starts with, words the message must hold)
CASES: list[tuple[str, Mutation, str, tuple[str, ...]]] = [
    ("metadata without name", lambda d: d["metadata"].pop("name"), "metadata.name:",
     ("required",)),
    ("revision as a decimal", lambda d: d["metadata"].update(revision=1.1),
     "metadata.revision:", ("quotes",)),
    ("wrong apiVersion", lambda d: d.update(apiVersion="v2"), "apiVersion:", ("qcbroker/v1",)),
    ("effective backwards", lambda d: d["effective"].update(to="2025-01-01"), "effective:",
     ("before",)),
    ("misspelt effective field", lambda d: d["effective"].update(form="2026-01-01"),
     "effective.form:", ("did you mean from", "valid fields: from, to")),
    ("backend without units", lambda d: d["backends"]["aer"].update(units=[]),
     "backends.aer.units:", ("at least 1",)),
    ("unknown unit", lambda d: d["backends"]["aer"]["units"].append("parsecs"),
     "backends.aer.units[2]:", ("'shots'", "parsecs")),
    ("zero charge factor", lambda d: d["backends"]["aer"].update(charge_factor=0),
     "backends.aer.charge_factor:", ("greater than 0",)),
    ("capacity rolling without window",
     lambda d: d["backends"]["ibm"]["capacity"][0].pop("window"),
     "backends.ibm.capacity[0]:", ("window",)),
    ("capacity in a unit the backend lacks",
     lambda d: d["backends"]["slurm"]["capacity"][0].update(unit="core_hours"),
     "backends.slurm.capacity[0].unit:", ("node_hours",)),
    ("oversubscription below one",
     lambda d: d["backends"]["slurm"]["capacity"][0].update(oversubscription=0.5),
     "backends.slurm.capacity[0].oversubscription:", ("greater than or equal to 1",)),
    ("awards above capacity",
     lambda d: d["proposals"][0]["budgets"][0].update(amount=5000),
     "backends.slurm.capacity[0]:", ("5000", "capacity of 1000")),
    ("domain naming an unknown backend",
     lambda d: d["security_domains"]["controlled"]["backends"].append("cray"),
     "security_domains.controlled.backends[2]:", ("cray", "valid: *, aer, ibm, slurm")),
    ("controlled domain allowing everything",
     lambda d: d["security_domains"]["controlled"].update(backends=["*"]),
     "security_domains.controlled.backends:", ("controlled",)),
    ("unknown field in a domain", lambda d: d["security_domains"]["open"].update(export=True),
     "security_domains.open.export:", ("backends, controlled, description",)),
    ("negative QOS priority", lambda d: d["qos"]["premium"].update(priority=-1),
     "qos.premium.priority:", ("greater than or equal to 0",)),
    ("no QOS at all", lambda d: (d.update(qos={}), d["proposals"][0].pop("allowed_qos")),
     "qos:", ("at least 1",)),
    ("unknown default QOS", lambda d: d.update(default_qos="gold"), "default_qos:",
     ("gold", "normal, premium")),
    ("negative weight", lambda d: d["priority"]["weights"].update(fairshare=-5),
     "priority.weights.fairshare:", ("greater than or equal to 0",)),
    ("bad duration", lambda d: d["priority"].update(max_age="two weeks"),
     "priority.max_age:", ("'7d'",)),
    ("unknown favour", lambda d: d["priority"].update(favor="medium"), "priority.favor:",
     ("'small' or 'large'", "medium")),
    ("negative program share", lambda d: d["fairshare"]["programs"].update(DD=-1), "fairshare:",
     ("0 or more", "DD")),
    ("proposal in an unknown program", lambda d: d["proposals"][1].update(program="ALCC"),
     "proposals[1].program:", ("ALCC", "DD, INCITE")),
    ("bands out of order", lambda d: d["overrun"]["bands"].reverse(), "overrun:",
     ("increasing",)),
    ("hard stop below the last band", lambda d: d["overrun"].update(hard_stop_pct=110),
     "overrun:", ("above the last band",)),
    ("band below 100%", lambda d: d["overrun"]["bands"][0].update(above_pct=90),
     "overrun.bands[0].above_pct:", ("100",)),
    ("checkpoint over 100%", lambda d: d["checkpoints"][0].update(if_used_below_pct=120),
     "checkpoints[0].if_used_below_pct:", ("100",)),
    ("checkpoint outside the effective period",
     lambda d: d["checkpoints"][0].update(date="2027-05-01"), "checkpoints[0].date:",
     ("outside",)),
    ("impossible date", lambda d: d["checkpoints"][0].update(date="2026-02-30"),
     "checkpoints[0].date:", ("date",)),
    ("proposal id with a space", lambda d: d["proposals"][0].update(id="P 1"),
     "proposals[0].id:", ("pattern",)),
    ("duplicate proposal id", lambda d: d["proposals"][1].update(id="P-1"),
     "proposals[1].id:", ("duplicate",)),
    ("committee score above 1", lambda d: d["proposals"][0].update(committee_score=2),
     "proposals[0].committee_score:", ("less than or equal to 1",)),
    ("unknown security domain", lambda d: d["proposals"][0].update(security_domain="secret"),
     "proposals[0].security_domain:", ("secret", "controlled, open")),
    ("budget window on a yearly period",
     lambda d: d["proposals"][0]["budgets"][0].update(window="28d"),
     "proposals[0].budgets[0]:", ("only to period: rolling",)),
    ("unknown enforcement", lambda d: d["proposals"][0]["budgets"][0].update(enforcement="x"),
     "proposals[0].budgets[0].enforcement:", ("'hard' or 'soft'",)),
    ("infinite amount", lambda d: d["proposals"][0]["budgets"][0].update(amount=float("inf")),
     "proposals[0].budgets[0].amount:", ("finite",)),
    ("two budgets for the same thing",
     lambda d: d["proposals"][1]["budgets"].append(dict(d["proposals"][1]["budgets"][0])),
     "proposals[1].budgets[1]:", ("merge",)),
    ("budget in the wrong unit", lambda d: d["proposals"][1]["budgets"][0].update(unit="credits"),
     "proposals[1].budgets[0].unit:", ("evaluations, shots",)),
    ("proposal as text", lambda d: d["proposals"].append("P-3"), "proposals[2]:",
     ("mapping with the fields id, title, pi",)),
    ("NUL in a title", lambda d: d["proposals"][0].update(title="a\x00b"),
     "proposals[0]:", ("title: contains the control character U+0000",)),
    ("escape in a member", lambda d: d["proposals"][0]["members"].append("x\x1b[31m"),
     "proposals[0]:", ("members: contains the control character U+001B",)),
]  # fmt: skip


@pytest.mark.parametrize(("mutate", "path", "words"), [c[1:] for c in CASES],
                         ids=[c[0] for c in CASES])  # fmt: skip
def test_each_mistake_is_one_error_with_its_path(
    mutate: Mutation, path: str, words: tuple[str, ...]
) -> None:
    data = copy.deepcopy(BASE)
    mutate(data)
    errors = errors_of(data)
    assert len(errors) == 1, errors
    assert errors[0].startswith(path), errors[0]
    for word in words:
        assert word in errors[0], errors[0]
    assert "(line " in errors[0]


TEN_MISTAKES = """\
apiVersion: qcbroker/v1
kind: Policy
metadata: {name: ten-mistakes}
effective: {from: 2026-01-01, to: 2026-12-31}
backends:
  slurm:
    units: [node_hours]
    capacity: [{unit: node_hours, amount: 1000}]
  ibm: {units: [qpu_seconds, qpu_minutes]}
  aer: {units: [shots]}
security_domains:
  open: {backends: ["*"]}
  controlled: {backends: [slurm, aer], controlled: true}
proposals:
  - id: p1
    pi: ada
    members: [ada]
    colour: blue
    allowed_qos: [normal, premium]
    budgets:
      - {backend: slurm, unit: node_hours, amount: 1500}
      - {backend: braket, unit: shots, amount: 10}
      - {backend: ibm, unit: qpu_seconds, amount: 60, period: rolling}
  - id: p2
    pi: bob
    members: [bob]
    start: 2026-06-01
    expires: 2026-03-01
  - id: p3
    pi: eve
    members: [eve]
    security_domain: controlled
    expires: 2027-03-01
    budgets:
      - {backend: ibm, unit: qpu_seconds, amount: 60}
      - {backend: aer, unit: shots, amount: -5}
"""

TEN_PATHS = [
    ("backends.slurm.capacity[0]:", "capacity of 1000"),  # awards above capacity
    ("backends.ibm.units[1]:", "qpu_minutes"),  # bad unit
    ("proposals[0].colour:", "valid fields: id, title, pi"),  # unknown field
    ("proposals[0].allowed_qos[1]:", "unknown QOS 'premium'"),  # unknown QOS
    ("proposals[0].budgets[1].backend:", "unknown backend 'braket'"),  # unknown backend
    ("proposals[0].budgets[2]:", "needs its window"),  # rolling without window
    ("proposals[1]:", "before start"),  # expires before start
    ("proposals[2].expires:", "outside the policy's effective period"),  # date outside
    ("proposals[2].budgets[0].backend:", "does not allow 'ibm'"),  # domain forbids
    ("proposals[2].budgets[1].amount:", "greater than or equal to 0"),  # negative amount
]


def test_ten_mistakes_across_sections_are_ten_errors_in_file_order() -> None:
    errors = errors_of(TEN_MISTAKES)
    assert len(errors) == 10, "\n".join(errors)
    for error, (path, words) in zip(errors, TEN_PATHS, strict=True):
        assert error.startswith(path), error
        assert words in error, error
    lines = TEN_MISTAKES.splitlines()
    assert errors[2].endswith(f"(line {lines.index('    colour: blue') + 1})")
    assert errors[-1].endswith(f"(line {len(lines)})")


def test_an_entry_set_aside_for_its_error_causes_no_second_error() -> None:
    data = copy.deepcopy(BASE)
    data["backends"]["aer"]["units"] = ["parsecs"]  # aer is set aside; P-2's budget names it
    errors = errors_of(data)
    assert len(errors) == 1 and errors[0].startswith("backends.aer.units[0]:"), errors


# --- whole files ---------------------------------------------------------------------------


def test_an_empty_file_is_refused(tmp_path: Path) -> None:
    for text in ["", "   \n\n", "# only a comment\n\n# and another\n---\n"]:
        path = tmp_path / "empty.yaml"
        path.write_text(text)
        with pytest.raises(PolicyError) as info:
            load_policy(path)
        assert info.value.errors == [
            "the file is empty; a policy starts with apiVersion: qcbroker/v1 and kind: Policy"
        ]


def test_text_that_is_not_yaml_names_its_line() -> None:
    errors = errors_of("apiVersion: qcbroker/v1\nkind: Policy\nmetadata: {name: x\nbackends: {}\n")
    assert len(errors) == 1 and errors[0].startswith("line "), errors
    assert "not valid YAML" in errors[0]


@pytest.mark.parametrize(("text", "found"), [("- a\n- b\n", "a list"), ("just words\n",
                         "one value"), ("~\n", "nothing")])  # fmt: skip
def test_yaml_that_is_not_a_mapping_is_refused(text: str, found: str) -> None:
    [error] = errors_of(text)
    assert error.startswith(f"the file holds {found}") and "not a mapping" in error


def test_a_50_mb_file_is_refused_before_it_is_read(tmp_path: Path) -> None:
    path = tmp_path / "huge.yaml"
    with path.open("wb") as out:
        chunk = b"# padding padding padding padding padding padding padding padding\n" * 16384
        while out.tell() < 50_000_000:
            out.write(chunk[: 50_000_000 - out.tell()])
    assert path.stat().st_size == 50_000_000
    started = time.perf_counter()
    with pytest.raises(PolicyError) as info:
        load_policy(path)
    assert time.perf_counter() - started < 1.0
    assert info.value.errors == ["the file is 50.0 MB; a policy file may be at most 1 MiB"]


def test_text_over_the_limit_is_refused_by_parse_policy() -> None:
    text = "a: " + "x" * MAX_POLICY_BYTES
    assert errors_of(text) == ["the file is 1.0 MB; a policy file may be at most 1 MiB"]


def test_a_binary_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "policy.yaml"
    path.write_bytes(bytes(range(256)) * 8)
    with pytest.raises(PolicyError) as info:
        load_policy(path)
    [error] = info.value.errors
    assert error.startswith("the file is not UTF-8 text (it looks binary): byte 0x80 at offset 128")
    path.write_bytes(b"apiVersion: qcbroker/v1\nkind: \x00\x01\x02\n")
    with pytest.raises(PolicyError, match=r"control character U\+0000 at line 2"):
        load_policy(path)


def test_a_utf16_file_is_refused_as_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "policy.yaml"
    path.write_bytes(dump(BASE).encode("utf-16"))
    with pytest.raises(PolicyError, match=r"not UTF-8 text .*: byte 0xff at offset 0"):
        load_policy(path)


def test_a_key_written_twice_is_refused_with_both_lines() -> None:
    text = dump(BASE) + "proposals: []\n"
    [error] = errors_of(text)
    assert error.startswith("proposals: the key 'proposals' is written twice")
    first = dump(BASE).splitlines().index("proposals:") + 1
    assert f"(lines {first} and {len(text.splitlines())})" in error


def test_a_proposal_with_two_budget_lists_is_refused() -> None:
    text = dump(BASE).replace(
        "  budgets:\n", "  budgets: [{backend: aer, unit: shots, amount: 1}]\n  budgets:\n", 1
    )
    errors = errors_of(text)
    assert len(errors) == 1 and errors[0].startswith("proposals[0].budgets: the key 'budgets'")


def test_a_merge_key_is_not_a_duplicate() -> None:
    text = dump(BASE).replace("\nqos:\n", "\ndefaults: &d {priority: 5}\nqos:\n")
    text = text.replace("  normal: {}\n", "  normal: {<<: *d, priority: 7}\n")
    [error] = errors_of(text)  # only the unknown top-level 'defaults'
    assert error.startswith("defaults: unknown field")


def test_alias_bombs_cycles_and_deep_nesting_are_refused_fast() -> None:
    bomb = 'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n'
    for prev, name in zip("abcdefghi", "bcdefghij", strict=True):
        bomb += f"{name}: &{name} [{', '.join([f'*{prev}'] * 9)}]\n"
    started = time.perf_counter()
    assert "billion laughs" in errors_of(bomb)[0]
    assert "(a cycle)" in errors_of("a: &a [1, *a]\n")[0]
    assert "nested deeper than" in errors_of("a: " + "[" * 50_000 + "]" * 50_000)[0]
    many = "a: &a 1\nb: [" + ", ".join(["*a"] * (loader.MAX_ALIASES + 1)) + "]\n"
    assert f"more than {loader.MAX_ALIASES} aliases" in errors_of(many)[0]
    assert time.perf_counter() - started < 2.0


def test_two_documents_are_refused() -> None:
    [error] = errors_of(dump(BASE) + "---\n" + dump(BASE))
    assert error.startswith("line ") and "single document" in error


@pytest.mark.parametrize("reader", ["_PureReader", "_FastReader"])
def test_both_yaml_parsers_agree(reader: str, monkeypatch: pytest.MonkeyPatch) -> None:
    if not hasattr(loader, reader):
        pytest.skip("PyYAML without libyaml")
    monkeypatch.setattr(loader, "_READER", getattr(loader, reader))
    assert parse_policy(dump(BASE)).policy.proposals[0].id == "P-1"
    assert len(errors_of(TEN_MISTAKES)) == 10
    assert errors_of("a: [1,\n")[0].startswith("line 2")
    assert "control character U+0007 at line 2" in errors_of("a: é\nb: \x07\n")[0]


@pytest.mark.parametrize(
    ("window", "words"),
    [(float("inf"), "finite"), (float("nan"), "finite"), ("99999999999w", "at most 36525d")],
)
def test_a_rolling_window_that_is_not_a_finite_duration_is_refused(
    window: float | str, words: str
) -> None:
    """(The budget is then also said to lack its window: a second line for the same
    mistake, as for any window that is refused.)"""
    data = copy.deepcopy(BASE)
    data["proposals"][0]["budgets"][1]["window"] = window
    errors = errors_of(data)
    found = [e for e in errors if e.startswith("proposals[0].budgets[1].window:")]
    assert len(found) == 1 and words in found[0] and "(line " in found[0], errors
