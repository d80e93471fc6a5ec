"""Fuzzing the policy loader: whatever the text, ``parse_policy`` returns a policy or raises
``PolicyError`` whose every message starts with a path or is a whole-file message.

Three sources, 2,000 cases in all: valid policies with random mutations (garbage values,
wrong types, missing and unknown keys), random YAML-like token soup, and the example
files with random characters edited.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from policies.errors import PolicyError
from policies.loader import LoadedPolicy, parse_policy

EXAMPLES = Path(__file__).resolve().parents[3] / "policies" / "examples"
EXAMPLE_TEXTS = [p.read_text() for p in sorted(EXAMPLES.glob("*.yaml"))]

COMPACT = """\
apiVersion: qcbroker/v1
kind: Policy
metadata: {name: fuzz, revision: "1"}
effective: {from: 2026-01-01, to: 2026-12-31}
backends:
  slurm: {units: [node_hours], capacity: [{unit: node_hours, amount: 1000}]}
  ibm: {units: [qpu_seconds], capacity: [{unit: qpu_seconds, amount: 9000, period: rolling,
        window: 28d}]}
  aer: {units: [evaluations, shots]}
security_domains:
  open: {backends: ["*"]}
  controlled: {backends: [slurm, aer], controlled: true}
qos: {normal: {}, premium: {priority: 100, usage_factor: 2, max_running_jobs: 2}}
default_qos: normal
priority: {weights: {age: 1000, fairshare: 10000}, max_age: 14d, favor: large}
fairshare: {half_life: 7d, programs: {INCITE: 60, DD: 40}}
overrun:
  bands: [{above_pct: 100, age_penalty: 30d}, {above_pct: 125, max_running_jobs: 3}]
  hard_stop_pct: 150
checkpoints: [{date: 2026-05-01, if_used_below_pct: 10, remove_pct_of_unused: 25}]
proposals:
  - id: P-1
    pi: ada
    members: [ada, bob]
    program: INCITE
    allowed_qos: [normal, premium]
    start: 2026-01-01
    expires: 2026-12-31
    budgets:
      - {backend: slurm, unit: node_hours, amount: 500, enforcement: soft}
      - {backend: ibm, unit: qpu_seconds, amount: 2400, period: rolling, window: 28d}
  - id: P-2
    pi: eve
    members: [eve]
    program: DD
    security_domain: controlled
    budgets: [{backend: aer, unit: shots, amount: 1000000, period: month}]
"""
BASES = [yaml.safe_load(COMPACT)]

# A path (``proposals[3].budgets[1].unit``) when every key is a plain name.
STRICT_PATH = re.compile(r"^[A-Za-z_][\w-]*(\.[\w*-]+|\[\d+\])*: \S")
WHOLE_FILE = re.compile(r"^(the file |the text |line \d+, column \d+: )")
LINE = re.compile(r"\(line (\d+)\)$")

DUMPER = getattr(yaml, "CSafeDumper", yaml.SafeDumper)  # libyaml's: ten times faster
FAST = settings(deadline=None, database=None, suppress_health_check=list(HealthCheck))


def check(text: str, strict: bool) -> None:
    """The property: a policy, or every error as ``path: message`` or a whole-file one."""
    try:
        loaded = parse_policy(text, "fuzz.yaml")
    except PolicyError as exc:
        assert exc.errors, "a PolicyError lists at least one error"
        lines = len(text.splitlines()) + 1  # YAML breaks lines at CR and NEL too
        for error in exc.errors:
            if WHOLE_FILE.match(error):
                continue
            head, sep, _ = error.partition(": ")
            assert sep and head, error
            if strict:
                assert STRICT_PATH.match(error) or head == "(the whole file)", error
            line = LINE.search(error)
            assert line is None or 1 <= int(line.group(1)) <= lines, error
    else:
        assert isinstance(loaded, LoadedPolicy) and loaded.text == text


names = st.text(alphabet="abcdefghijklmnopqrstuvwxyz_", min_size=1, max_size=12)
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=20),
    st.sampled_from(["7d", "-3d", "28d", "0", "rolling", "*", "node_hours", "shots", "aer",
                     "ibm", "2026-02-30", "2026-06-01", "P-1", "normal", "soft", "x" * 200]),
    st.dates(),
)  # fmt: skip
garbage = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(names, inner, max_size=4),
    max_leaves=6,
)


def _paths(data: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield path
    if isinstance(data, dict):
        for key, value in data.items():
            yield from _paths(value, (*path, key))
    elif isinstance(data, list):
        for i, value in enumerate(data):
            yield from _paths(value, (*path, i))


def _parent(data: Any, path: tuple[Any, ...]) -> Any:
    for part in path[:-1]:
        data = data[part]
    return data


@st.composite
def mutated(draw: st.DrawFn) -> dict[str, Any]:
    """A valid policy with up to six random mutations."""
    data = copy.deepcopy(draw(st.sampled_from(BASES)))
    for _ in range(draw(st.integers(min_value=0, max_value=6))):
        paths = [p for p in _paths(data) if p]
        path = paths[draw(st.integers(min_value=0, max_value=len(paths) - 1))]
        parent, last = _parent(data, path), path[-1]
        op = draw(st.sampled_from(["replace", "delete", "add", "copy", "retype"]))
        if op == "replace":
            parent[last] = draw(garbage)
        elif op == "delete":
            del parent[last]
        elif op == "add" and isinstance(parent[last], dict):
            parent[last][draw(names)] = draw(garbage)
        elif op == "copy" and isinstance(parent, list):
            parent.append(copy.deepcopy(parent[last]))
        elif op == "retype":
            value = parent[last]
            parent[last] = [value] if not isinstance(value, list) else {"x": value}
    return data


@settings(FAST, max_examples=900)
@given(mutated())
def test_mutated_policies_give_a_policy_or_errors_with_paths(data: dict[str, Any]) -> None:
    check(yaml.dump(data, Dumper=DUMPER, sort_keys=False, allow_unicode=True), strict=True)


TOKENS = [
    "apiVersion: qcbroker/v1\n", "kind: Policy\n", "metadata: {name: x}\n", "backends:\n",
    "proposals:\n", "budgets:\n", "  ", "\n", "- ", ": ", "[", "]", "{", "}", ",", "&a ", "*a",
    "&b ", "*b", "<<: ", "!!int ", "!!float ", "!!timestamp ", "!!binary ", "!!set ",
    "!!omap ", "!!python/object:os.system ", "!foo ", "? ", "|", ">", "'", '"', "#", "---\n",
    "...\n", "%YAML 1.1\n", "2026-02-30", "2026-01-01", "1e999", ".nan", ".inf", "~", "0x1F",
    "0o17", "1_000", "yes", "no", "aer", "shots", "\t", "\\", "\x00", "\x85", "\ufeff", "é",
]  # fmt: skip
soup = st.lists(st.one_of(st.sampled_from(TOKENS), st.text(max_size=5)), max_size=40).map("".join)


@settings(FAST, max_examples=800)
@given(soup)
def test_yaml_token_soup_gives_errors_never_a_crash(text: str) -> None:
    check(text, strict=False)


@st.composite
def edited_examples(draw: st.DrawFn) -> str:
    """An example policy with up to eight characters inserted, deleted or replaced."""
    text = draw(st.sampled_from(EXAMPLE_TEXTS))
    for _ in range(draw(st.integers(min_value=1, max_value=8))):
        at = draw(st.integers(min_value=0, max_value=len(text)))
        new = draw(st.sampled_from([":", " ", "\n", "-", "[", "{", "*", "&", "#", "0", "x", ""]))
        cut = draw(st.integers(min_value=0, max_value=3))
        text = text[:at] + new + text[at + cut :]
    return text


@settings(FAST, max_examples=300)
@given(edited_examples())
def test_edited_examples_give_a_policy_or_errors_with_paths(text: str) -> None:
    check(text, strict=False)
