"""Tables of the job store. The store is the truth; Celery messages are only signals.

Times are naive UTC (the same on SQLite and PostgreSQL).
"""

from __future__ import annotations

from sqlalchemy import (
    DDL,
    JSON,
    Boolean,
    Column,
    Date,
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
    event,
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
    Column("qos", String(50)),
    Column("seed", Integer),
    Column("created_at", DateTime(), nullable=False),
    Column("updated_at", DateTime(), nullable=False),
    Column("finished_at", DateTime()),
    Column(
        "held_by",
        String(100),
        comment="Who holds the job (its pending tasks wait); null: not held.",
    ),
    Column(
        "client_key",
        String(100),
        comment="The submitter's idempotency key: a retried submission returns the same job.",
    ),
    Index("uq_job_client_key", "user", "client_key", unique=True),
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
    Column("size", Float, nullable=True, comment="Nodes (classical) or evaluations (quantum)."),
    Column("packages", JSON, nullable=True, comment="Package versions in the worker that ran it."),
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

# One row per dependency not yet met: the job's pending tasks wait (broker.core.dependencies).
job_dependencies = Table(
    "job_dependencies",
    metadata,
    Column("job_id", String(32), ForeignKey("jobs.id"), primary_key=True),
    Column("after_job", String(32), primary_key=True, index=True),
    Column("condition", String(16), primary_key=True),
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
    Index("ix_ledger_proposal_time", "proposal", "created_at"),
)

# Running totals that admission reads instead of the ledger (broker.store.ledger_totals):
# the charges per UTC day, and what each unreleased job still holds. Both are written in the
# transaction that writes the ledger line they follow.
ledger_days = Table(
    "ledger_days",
    metadata,
    Column("proposal", String(100), primary_key=True),
    Column("backend", String(50), primary_key=True),
    Column("unit", String(30), primary_key=True),
    Column("day", Date(), primary_key=True),
    Column("amount", Float, nullable=False),
)

ledger_open = Table(
    "ledger_open",
    metadata,
    Column("job_id", String(32), ForeignKey("jobs.id"), primary_key=True),
    Column("backend", String(50), primary_key=True),
    Column("unit", String(30), primary_key=True),
    Column("proposal", String(100), nullable=False, index=True),
    Column("rest", Float, nullable=False),
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

# API tokens: only a token's sha256 is kept (tokens are 256-bit random, so a plain hash is
# enough; no salt or slow hash is needed). ``role`` is the token's global role (researcher,
# committee, admin, or driver: a driver program's token, scoped to ``job_id``); a PI is a
# researcher who is a proposal's PI in the policy.
tokens = Table(
    "tokens",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("user", String(100), nullable=False, index=True),
    Column("role", String(20), nullable=False),
    Column("sha256", String(64), nullable=False, unique=True),
    Column("note", Text, nullable=False, default=""),
    Column("created_by", String(100), nullable=False),
    Column("created_at", DateTime(), nullable=False),
    Column("expires_at", DateTime()),
    Column("revoked_at", DateTime()),
    Column("job_id", String(32), index=True, comment="A driver token acts only within this job."),
)

# Sessions of the web console (/ui): a token presented once at login becomes a session
# cookie; the store keeps the cookie's sha256 only, with the token it stands for (revoking
# the token ends its sessions) and the secret that every form of the session carries.
console_sessions = Table(
    "console_sessions",
    metadata,
    Column("id", String(64), primary_key=True, comment="sha256 of the session cookie."),
    Column("token_id", String(32), ForeignKey("tokens.id"), nullable=False, index=True),
    Column("csrf", String(64), nullable=False),
    Column("created_at", DateTime(), nullable=False),
    Column("expires_at", DateTime(), nullable=False, index=True),
    Column("closed_at", DateTime()),
)

# Fair-share usage: how long each finished task occupied its backend (seconds, x nodes for
# classical tasks). One line per task, so a task counts once towards fair share.
occupancy = Table(
    "occupancy",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("task_id", String(32), nullable=False, unique=True),
    Column("backend", String(50), nullable=False),
    Column("proposal", String(100), nullable=False),
    Column("user", String(100), nullable=False),
    Column("seconds", Float, nullable=False),
    Column("at", DateTime(), nullable=False),
)

# The history of policy revisions: append-only (the database refuses updates and deletes).
# The newest line is the revision in force.
policy_revisions = Table(
    "policy_revisions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("revision", String(100), nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("text", Text, nullable=False),
    Column("author", String(100), nullable=False),
    Column("reason", Text, nullable=False),
    Column("source", String(300), nullable=False, comment="'apply' or 'file:<path>'."),
    Column("created_at", DateTime(), nullable=False),
)

for _table in ("policy_revisions", "audit"):
    for _op in ("UPDATE", "DELETE"):
        event.listen(
            metadata,
            "after_create",
            DDL(  # type: ignore[no-untyped-call]
                f"CREATE TRIGGER IF NOT EXISTS {_table}_no_{_op.lower()} BEFORE {_op} ON "
                f"{_table} BEGIN SELECT RAISE(ABORT, '{_table} is append-only'); END"
            ).execute_if(dialect="sqlite"),
        )
    event.listen(
        metadata,
        "after_create",
        DDL(  # type: ignore[no-untyped-call]
            f"CREATE OR REPLACE FUNCTION {_table}_append_only() RETURNS trigger AS $$ "
            f"BEGIN RAISE EXCEPTION '{_table} is append-only'; END $$ LANGUAGE plpgsql; "
            f"DROP TRIGGER IF EXISTS {_table}_append_only ON {_table}; "
            f"CREATE TRIGGER {_table}_append_only BEFORE UPDATE OR DELETE ON {_table} "
            f"FOR EACH ROW EXECUTE FUNCTION {_table}_append_only()"
        ).execute_if(dialect="postgresql"),
    )
