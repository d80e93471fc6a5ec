"""Slurm's partitions, parsed: the limits that admission checks before a task is sent.

From slurmrestd (OpenAPI v0.0.38: flat fields such as ``maximum_nodes_per_job``; v0.0.40 on:
``nodes.total`` and ``maximums.{nodes,time,partition_memory_per_node}`` as number objects, and
a ``DEFAULT`` flag only from v0.0.45, so that before it which partition is the default is
unknown) and from ``scontrol show partition --oneliner`` (every release).

Everything here is pure: data in, data out.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from backends.slurm.records import number


class Partition(BaseModel):
    """A partition's limits, as admission checks them."""

    name: str
    default: bool | None = Field(
        default=False, description="Whether jobs without a partition go here; None: unknown."
    )
    total_nodes: int
    max_nodes: int | None = None
    max_time_s: int | None = None
    max_mem_per_node_mb: int | None = None
    state: str = "UP"


def _minutes(text: str) -> int | None:
    """Slurm's time formats in minutes, rounded up: ``M``, ``M:S``, ``H:M:S``, ``D-H``,
    ``D-H:M``, ``D-H:M:S``; ``UNLIMITED`` is None."""
    if text.upper() in ("UNLIMITED", "INFINITE", "NONE", ""):
        return None
    days_text, dash, rest = text.partition("-")
    if not dash:
        days_text, rest = "0", text
    parts = [int(p) for p in rest.split(":")]
    if dash:  # after a day count the fields are hours[:minutes[:seconds]]
        h, m, s = [*parts, 0, 0][:3]
    elif len(parts) == 3:
        h, m, s = parts
    else:  # minutes[:seconds]
        h, (m, s) = 0, [*parts, 0][:2]
    return (int(days_text) * 24 + h) * 60 + m + (1 if s else 0)


_UNLIMITED = 0xFFFFFFFE


def _limit(value: int | None) -> int | None:
    return value if value is not None and 0 < value < _UNLIMITED else None


def _seconds(minutes: int | None) -> int | None:
    return minutes * 60 if minutes is not None else None


def _flags(value: Any) -> list[str]:
    return [str(f).upper() for f in value] if isinstance(value, list) else []


def parse_partition(record: dict[str, Any]) -> Partition:
    """A partition from a slurmrestd partition record of any supported version."""
    if isinstance(record.get("maximums"), dict) or isinstance(record.get("nodes"), dict):
        return _parse_nested(record)
    return Partition(
        name=record["name"],
        default="DEFAULT" in _flags(record.get("flags")),
        total_nodes=number(record.get("total_nodes")) or 0,
        max_nodes=_limit(number(record.get("maximum_nodes_per_job"))),
        max_time_s=_seconds(_limit(number(record.get("max_time_limit")))),
        max_mem_per_node_mb=_limit(number(record.get("maximum_memory_per_node"))),
        state=str(record.get("state", "UP")),
    )


def _parse_nested(record: dict[str, Any]) -> Partition:
    """v0.0.40 on: ``nodes``, ``maximums``, ``partition.state`` (a list) and, from v0.0.45,
    ``flags`` with ``DEFAULT`` (before it the default is unknown)."""
    nodes = record.get("nodes") or {}
    maximums = record.get("maximums") or {}
    inner = record.get("partition") or {}
    states = inner.get("state") if isinstance(inner, dict) else None
    flags = _flags(record.get("flags")) + _flags(inner.get("flags") if inner else None)
    has_flags = "flags" in record or (isinstance(inner, dict) and "flags" in inner)
    return Partition(
        name=record["name"],
        default=("DEFAULT" in flags) if has_flags else None,
        total_nodes=number(nodes.get("total")) or 0,
        max_nodes=_limit(number(maximums.get("nodes"))),
        max_time_s=_seconds(_limit(number(maximums.get("time")))),
        max_mem_per_node_mb=_limit(number(maximums.get("partition_memory_per_node"))),
        state=str(states[0]) if isinstance(states, list) and states else "UP",
    )


def parse_scontrol_partition(line: str) -> Partition:
    """A partition from one line of ``scontrol show partition --oneliner``."""
    fields = dict(item.split("=", 1) for item in line.split() if "=" in item)

    def integer(key: str) -> int | None:
        value = fields.get(key, "UNLIMITED")
        return int(value) if value.isdigit() else None

    return Partition(
        name=fields["PartitionName"],
        default=fields.get("Default") == "YES",
        total_nodes=integer("TotalNodes") or 0,
        max_nodes=_limit(integer("MaxNodes")),
        max_time_s=_seconds(_minutes(fields.get("MaxTime", "UNLIMITED"))),
        max_mem_per_node_mb=_limit(integer("MaxMemPerNode")),
        state=fields.get("State", "UP"),
    )
