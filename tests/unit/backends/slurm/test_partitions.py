"""Slurm's partitions, parsed: slurmrestd partition records (v0.0.38 and the nested form of
v0.0.40 on) and ``scontrol show partition --oneliner`` lines, copied from real clusters."""

from __future__ import annotations

from typing import Any

import pytest

from backends.slurm.partitions import Partition, parse_partition, parse_scontrol_partition


def _num(value: int, *, infinite: bool = False, is_set: bool = True) -> dict[str, Any]:
    return {"set": is_set, "infinite": infinite, "number": value}


# --- partitions ---------------------------------------------------------------------------

# From our slurmrestd (v0.0.38 /partitions).
REST_PARTITION: dict[str, Any] = {
    "flags": ["default"],
    "maximum_memory_per_node": 2048,
    "maximum_nodes_per_job": 3,
    "max_time_limit": 30,
    "name": "debug",
    "nodes": "n[1-3]",
    "state": "UP",
    "total_nodes": 3,
    "default_time_limit": None,
}

SCONTROL_LINE = (
    "PartitionName=debug AllowGroups=ALL AllowAccounts=ALL AllowQos=ALL AllocNodes=ALL "
    "Default=YES QoS=N/A DefaultTime=NONE DisableRootJobs=NO ExclusiveUser=NO GraceTime=0 "
    "Hidden=NO MaxNodes=3 MaxTime=00:30:00 MinNodes=0 LLN=NO MaxCPUsPerNode=UNLIMITED "
    "Nodes=n[1-3] PriorityJobFactor=1 PriorityTier=1 RootOnly=NO ReqResv=NO OverSubscribe=NO "
    "OverTimeLimit=NONE PreemptMode=OFF State=UP TotalCPUs=6 TotalNodes=3 "
    "SelectTypeParameters=NONE JobDefaults=(null) DefMemPerNode=UNLIMITED MaxMemPerNode=2048 "
    "TRES=cpu=6,mem=6G,node=3,billing=6"
)

DEBUG = Partition(
    name="debug",
    default=True,
    total_nodes=3,
    max_nodes=3,
    max_time_s=1800,
    max_mem_per_node_mb=2048,
    state="UP",
)


def test_parse_partition_reads_a_rest_record() -> None:
    assert parse_partition(REST_PARTITION) == DEBUG


def test_parse_partition_reads_unlimited_values_as_none() -> None:
    record = {
        **REST_PARTITION,
        "flags": [],
        "max_time_limit": 4294967295,
        "maximum_nodes_per_job": 4294967295,
        "maximum_memory_per_node": 0,
    }
    part = parse_partition(record)
    assert part.max_time_s is None
    assert part.max_nodes is None
    assert part.max_mem_per_node_mb is None
    assert part.default is False
    assert part.total_nodes == 3


def test_parse_partition_reads_the_newer_number_form() -> None:
    record = {
        **REST_PARTITION,
        "max_time_limit": _num(0, infinite=True),
        "maximum_nodes_per_job": _num(3),
        "total_nodes": _num(3),
    }
    part = parse_partition(record)
    assert part.max_time_s is None
    assert part.max_nodes == 3
    assert part.total_nodes == 3


def test_parse_partition_keeps_a_down_state() -> None:
    assert parse_partition({**REST_PARTITION, "state": "DOWN"}).state == "DOWN"


def test_parse_scontrol_partition_reads_a_real_line() -> None:
    assert parse_scontrol_partition(SCONTROL_LINE) == DEBUG


def test_parse_scontrol_partition_reads_unlimited_and_not_default() -> None:
    line = (
        SCONTROL_LINE.replace("Default=YES", "Default=NO")
        .replace("MaxNodes=3", "MaxNodes=UNLIMITED")
        .replace("MaxMemPerNode=2048", "MaxMemPerNode=UNLIMITED")
        .replace("State=UP", "State=DRAIN")
    )
    part = parse_scontrol_partition(line)
    assert part.default is False
    assert part.max_nodes is None
    assert part.max_mem_per_node_mb is None
    assert part.state == "DRAIN"
    assert part.total_nodes == 3


@pytest.mark.parametrize(
    ("max_time", "seconds"),
    [
        ("UNLIMITED", None),
        ("INFINITE", None),
        ("1-00:00:00", 24 * 3600),
        ("2-03:04:00", ((2 * 24 + 3) * 60 + 4) * 60),
        ("30", 30 * 60),
        ("00:30:00", 30 * 60),
        ("45:00", 45 * 60),
        ("00:00:30", 60),  # seconds round up to a whole minute
        ("01:00:01", 61 * 60),
        ("1-12", 36 * 3600),  # after a day count: hours
        ("1-12:30", (36 * 60 + 30) * 60),
    ],
)
def test_parse_scontrol_partition_max_time_forms(max_time: str, seconds: int | None) -> None:
    line = SCONTROL_LINE.replace("MaxTime=00:30:00", f"MaxTime={max_time}")
    assert f"MaxTime={max_time} " in line
    assert parse_scontrol_partition(line).max_time_s == seconds
