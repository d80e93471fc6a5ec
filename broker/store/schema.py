"""Tables of the job store. The store is the truth; Celery messages are only signals.

Times are naive UTC (the same on SQLite and PostgreSQL).
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

metadata = MetaData()

jobs = Table(
    "jobs",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("name", String(200)),
    Column("proposal", String(100), nullable=False, index=True),
    Column("user", String(100), nullable=False, index=True),
    Column("algorithm", String(50), nullable=False),
    Column("backend", String(50), nullable=False),
    Column("spec", JSON, nullable=False),
    Column("spec_sha256", String(64), nullable=False),
    Column("state", String(16), nullable=False, index=True),
    Column("step", Integer, nullable=False, default=0),
    Column("progress", JSON, nullable=False, default=dict),
    Column("result", JSON),
    Column("message", Text, nullable=False, default=""),
    Column("policy_revision", String(100), nullable=False),
    Column("seed", Integer),
    Column("created_at", DateTime(), nullable=False),
    Column("updated_at", DateTime(), nullable=False),
    Column("finished_at", DateTime()),
)

tasks = Table(
    "tasks",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("job_id", String(32), ForeignKey("jobs.id"), nullable=False, index=True),
    Column("step", Integer, nullable=False),
    Column("key", String(100), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("backend", String(50), nullable=False),
    Column("queue", String(100), nullable=False),
    Column("state", String(16), nullable=False),
    Column("payload", JSON, nullable=False),
    Column("native_id", Text),
    Column("backend_version", String(100)),
    Column("worker_id", String(200)),
    Column("attempts", Integer, nullable=False, default=0),
    Column("cancel_requested", Boolean, nullable=False, default=False),
    Column("message", Text, nullable=False, default=""),
    Column("result", JSON),
    Column("run_seconds", Float),
    Column("created_at", DateTime(), nullable=False),
    Column("dispatched_at", DateTime()),
    Column("started_at", DateTime()),
    Column("finished_at", DateTime()),
    UniqueConstraint("job_id", "step", "key", name="uq_task_step_key"),
    Index("ix_tasks_state_backend", "state", "backend"),
)

algorithm_states = Table(
    "algorithm_states",
    metadata,
    Column("job_id", String(32), ForeignKey("jobs.id"), primary_key=True),
    Column("step", Integer, primary_key=True),
    Column("state", JSON, nullable=False),
    Column("created_at", DateTime(), nullable=False),
)

# Ledger lines are unique per (job, task, kind, backend, unit): a task is charged once and a
# job holds and releases once per resource, whatever retries or redeliveries happen.
# Job-level lines (holds, releases) use task_id = "" so that the constraint applies to them.
ledger = Table(
    "ledger",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("proposal", String(100), nullable=False, index=True),
    Column("backend", String(50), nullable=False),
    Column("unit", String(30), nullable=False),
    Column("kind", String(10), nullable=False),
    Column("amount", Float, nullable=False),
    Column("job_id", String(32), ForeignKey("jobs.id"), nullable=False, index=True),
    Column("task_id", String(32), nullable=False, default=""),
    Column("policy_revision", String(100), nullable=False),
    Column("created_at", DateTime(), nullable=False),
    UniqueConstraint("job_id", "task_id", "kind", "backend", "unit", name="uq_ledger_once"),
)

audit = Table(
    "audit",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", DateTime(), nullable=False),
    Column("actor", String(100), nullable=False),
    Column("action", String(50), nullable=False),
    Column("object_id", String(100)),
    Column("detail", JSON, nullable=False, default=dict),
)

workers = Table(
    "workers",
    metadata,
    Column("id", String(200), primary_key=True),
    Column("hostname", String(200), nullable=False),
    Column("pid", Integer, nullable=False),
    Column("started_at", DateTime(), nullable=False),
    Column("last_seen", DateTime(), nullable=False),
)
