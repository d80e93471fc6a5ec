"""``diff_policies``: every section compared, proposals by id, budgets by (backend, unit,
period); one readable line per change; nothing reported for a reordered file."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from policies.diff import Change, diff_policies, format_diff
from policies.loader import parse_policy
from policies.schema import Policy

EXAMPLES = Path(__file__).resolve().parents[3] / "policies" / "examples"
INCITE = yaml.safe_load((EXAMPLES / "incite.yaml").read_text())


def policy(data: dict[str, Any]) -> Policy:
    return parse_policy(yaml.safe_dump(data, sort_keys=False)).policy


def changes(edit: Callable[[dict[str, Any]], object]) -> list[Change]:
    new = copy.deepcopy(INCITE)
    edit(new)
    return diff_policies(policy(INCITE), policy(new))


def proposal(data: dict[str, Any], pid: str) -> dict[str, Any]:
    return next(p for p in data["proposals"] if p["id"] == pid)


def test_identical_policies_have_no_changes() -> None:
    assert diff_policies(policy(INCITE), policy(INCITE)) == []
    assert format_diff([]) == "no changes"


def test_reordering_proposals_and_budgets_is_no_change() -> None:
    def shuffle(d: dict[str, Any]) -> None:
        d["proposals"].reverse()
        for p in d["proposals"]:
            p["budgets"].reverse()

    assert changes(shuffle) == []


def test_a_budget_amount_change_is_matched_by_backend_unit_and_period() -> None:
    def grow(d: dict[str, Any]) -> None:
        fus = proposal(d, "INC26-FUS")
        fus["budgets"].reverse()  # matching does not depend on position
        next(b for b in fus["budgets"] if b["backend"] == "slurm")["amount"] = 990000

    [change] = changes(grow)
    assert change.path == "proposals[INC26-FUS].budgets[slurm/node_hours/allocation_year].amount"
    assert (change.old, change.new) == (900000, 990000)
    assert change.text == (
        "proposal INC26-FUS: budget on slurm, node_hours per allocation year: "
        "amount 900,000 -> 990,000 (+10%)"
    )


def test_proposals_added_removed_and_their_fields() -> None:
    def edit(d: dict[str, Any]) -> None:
        d["proposals"] = [p for p in d["proposals"] if p["id"] != "DD26-PORT"]
        new = copy.deepcopy(proposal(d, "DD26-QEC"))
        new.update(id="DD26-NEW", pi="zed", members=["zed"])
        d["proposals"].append(new)
        mat = proposal(d, "INC26-MAT")
        mat["members"] = ["aokafor", "jsmith", "nnew"]
        mat["committee_score"] = 0.9
        mat["allowed_qos"] = ["debug", "normal", "capability"]
        mat["budgets"].append({"backend": "aer", "unit": "shots", "amount": 1000,
                               "period": "month"})  # fmt: skip
        qchem = proposal(d, "INC26-QCHEM")
        qchem["budgets"] = [b for b in qchem["budgets"] if b["backend"] != "local"]

    texts = [c.text for c in changes(edit)]
    assert texts == [
        "proposal INC26-MAT: members added [nnew]; removed [rdubois]",
        "proposal INC26-MAT: committee_score 0.88 -> 0.9 (+2%)",
        "proposal INC26-MAT: allowed_qos reordered [normal, capability, debug] -> "
        "[debug, normal, capability] (the default QOS is now debug)",
        "proposal INC26-MAT: budget on aer, shots per month added (1,000 shots per month, hard)",
        "proposal INC26-QCHEM: budget on local, core_hours per allocation year removed "
        "(5,000 core_hours per allocation year, hard)",
        "proposal DD26-PORT removed (PI vromero, program DD, 2 budgets)",
        "proposal DD26-NEW added (PI zed, program DD, 3 budgets)",
    ]


SECTION_EDITS: list[tuple[str, Callable[[dict[str, Any]], object], str, str]] = [
    ("metadata", lambda d: d["metadata"].update(revision="4"), "metadata.revision",
     "metadata: revision 3 -> 4"),
    ("description", lambda d: d["metadata"].update(description="new"),
     "metadata.description", "metadata: description changed"),
    ("effective", lambda d: d["effective"].update(to="2027-09-30"), "effective.to",
     "effective: to 2027-06-30 -> 2027-09-30"),
    ("charge factor", lambda d: d["backends"]["slurmrest"].update(charge_factor=0.75),
     "backends.slurmrest.charge_factor", "backend slurmrest: charge_factor 0.5 -> 0.75 (+50%)"),
    ("capacity", lambda d: d["backends"]["slurm"]["capacity"][0].update(amount=4000000),
     "backends.slurm.capacity[node_hours/allocation_year].amount",
     "backend slurm: capacity node_hours per allocation year: amount 3,900,000 -> 4,000,000"
     " (+3%)"),
    ("backend added", lambda d: d["backends"].update(ionq={"units": ["shots"]}),
     "backends.ionq", "backend ionq added (units [shots])"),
    ("domain", lambda d: d["security_domains"].update(
        controlled={"backends": ["slurm"], "controlled": True}),
     "security_domains.controlled",
     "security domain controlled added (backends [slurm], controlled yes)"),
    ("qos", lambda d: d["qos"]["debug"].update(max_running_jobs=2),
     "qos.debug.max_running_jobs", "QOS level debug: max_running_jobs 1 -> 2 (+100%)"),
    ("default qos", lambda d: d.update(default_qos="scavenger"), "default_qos",
     "default_qos normal -> scavenger"),
    ("weights", lambda d: d["priority"]["weights"].update(fairshare=12000),
     "priority.weights.fairshare", "priority.weights: fairshare 10,000 -> 12,000 (+20%)"),
    ("max age", lambda d: d["priority"].update(max_age="21d"), "priority.max_age",
     "priority: max_age 14d -> 21d (+50%)"),
    ("program shares", lambda d: d["fairshare"]["programs"].update(DD=25),
     "fairshare.programs.DD", "fairshare: program DD 20 -> 25 (+25%)"),
    ("band", lambda d: d["overrun"]["bands"][1].update(max_running_jobs=2),
     "overrun.bands[125%].max_running_jobs", "overrun: band 125%: max_running_jobs 3 -> 2"
     " (-33%)"),
    ("hard stop", lambda d: d["overrun"].update(hard_stop_pct=None), "overrun.hard_stop_pct",
     "overrun: hard_stop_pct 150 -> unset"),
    ("checkpoint", lambda d: d["checkpoints"].pop(), "checkpoints[2027-03-01]",
     "checkpoint 2027-03-01 removed (if_used_below_pct 25, remove_pct_of_unused 50, "
     "units [node_hours])"),
]  # fmt: skip


@pytest.mark.parametrize(("edit", "path", "text"), [e[1:] for e in SECTION_EDITS],
                         ids=[e[0] for e in SECTION_EDITS])  # fmt: skip
def test_every_section_is_compared(
    edit: Callable[[dict[str, Any]], object], path: str, text: str
) -> None:
    [change] = changes(edit)
    assert (change.path, change.text) == (path, text)


def test_changes_are_json_ready_and_formatted_one_per_line() -> None:
    found = changes(lambda d: (d["effective"].update(to="2027-09-30"), d["proposals"].pop()))
    dumped = json.loads(json.dumps([c.as_dict() for c in found]))
    assert dumped[0] == {
        "path": "effective.to",
        "old": "2027-06-30",
        "new": "2027-09-30",
        "text": "effective: to 2027-06-30 -> 2027-09-30",
    }
    assert dumped[1]["old"]["id"] == "DD26-PORT" and dumped[1]["new"] is None
    assert format_diff(found).splitlines() == [
        "2 changes:",
        "  effective: to 2027-06-30 -> 2027-09-30",
        "  proposal DD26-PORT removed (PI vromero, program DD, 2 budgets)",
    ]


def test_two_rolling_budgets_of_one_kind_are_told_apart_by_position() -> None:
    def two(d: dict[str, Any]) -> None:
        proposal(d, "DD26-QEC")["budgets"] += [
            {"backend": "aer", "unit": "shots", "amount": 10, "period": "rolling", "window": w}
            for w in ("1d", "7d")
        ]

    before = copy.deepcopy(INCITE)
    two(before)
    after = copy.deepcopy(before)
    proposal(after, "DD26-QEC")["budgets"][-1]["amount"] = 20
    [change] = diff_policies(policy(before), policy(after))
    assert change.path == "proposals[DD26-QEC].budgets[aer/shots/rolling#2].amount"
