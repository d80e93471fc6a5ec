"""Which policy revision is in force, and how a new one comes into force.

The store's policy history decides: its newest revision is in force in every process. A
revision comes from ``qcb policy apply FILE --reason ...`` or from the policy file in the
settings (``QCB_POLICY_FILE``), recorded automatically when its content differs from the
last revision read from that file. A new revision that does not validate is refused with
every error, and the running one stays in force. Processes see a new revision within
``CHECK_SECONDS`` (hot reload, no restart).
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

from sqlalchemy import Connection

from broker.errors import PolicyFileError
from broker.store import revisions
from broker.store.db import Database, advisory_lock
from policies.errors import PolicyError
from policies.loader import LoadedPolicy, load_policy, parse_policy

log = logging.getLogger(__name__)

CHECK_SECONDS = 1.0


class PolicySource:
    """The revision in force for one process, re-checked at most every ``CHECK_SECONDS``."""

    def __init__(self, db: Database, policy_file: Path) -> None:
        self.db = db
        self.policy_file = policy_file
        self._loaded: dict[int, LoadedPolicy] = {}
        self._current: tuple[int, LoadedPolicy] | None = None
        self._checked = 0.0
        self._file_seen: tuple[Path, float] | None = None

    def current(self) -> LoadedPolicy:
        """The revision in force now (``PolicyFileError`` if there is none valid)."""
        if self._current is not None and time.monotonic() - self._checked < CHECK_SECONDS:
            return self._current[1]
        self._sync_file()
        with self.db.read() as conn:
            latest_id = revisions.latest_id(conn)
            if latest_id is None:
                raise PolicyFileError(f"no policy is in force: {self.policy_file} is invalid")
            if self._current is None or self._current[0] != latest_id:
                rev = revisions.get(conn, latest_id)
                assert rev is not None
                self._current = (latest_id, self._parse(rev))
        self._checked = time.monotonic()
        return self._current[1]

    def known(self) -> LoadedPolicy:
        """The revision this process last saw in force, without looking again (for code
        inside a write transaction, where looking may record a new revision and wait for
        the lock that transaction holds); :meth:`current` when it has seen none."""
        if self._current is not None:
            return self._current[1]
        return self.current()

    def _parse(self, rev: revisions.Revision) -> LoadedPolicy:
        if rev.id not in self._loaded:
            self._loaded[rev.id] = parse_policy(rev.text, f"revision {rev.id} ({rev.source})")
        return self._loaded[rev.id]

    def _sync_file(self) -> None:
        """Record the policy file as a new revision when its content changed."""
        path = self.policy_file
        try:
            mtime = path.stat().st_mtime
        except OSError as exc:
            mtime = -1.0
            if self._current is None:
                raise PolicyFileError(
                    f"cannot read the policy file {path}: {exc.strerror}"
                ) from None
        if self._file_seen == (path, mtime):
            return
        source = f"file:{path.resolve()}"
        try:
            loaded = load_policy(path)
        except PolicyError as exc:
            self._file_seen = (path, mtime)
            with self.db.read() as conn:
                in_force = revisions.latest_id(conn)
            if in_force is None:
                raise PolicyFileError(str(exc)) from None
            log.error("policy file refused; revision %s stays in force:\n%s", in_force, exc)
            return
        with self.db.write() as conn:
            _serialize(conn)
            last = revisions.latest_from(conn, source)
            if last is None or last.sha256 != loaded.sha256:
                revisions.record(
                    conn,
                    revision=loaded.revision,
                    sha256=loaded.sha256,
                    text=loaded.text,
                    author="policy file",
                    reason=f"{path} changed" if last else f"first read of {path}",
                    source=source,
                )
        self._file_seen = (path, mtime)

    def apply(self, path: Path, *, author: str, reason: str) -> tuple[int, LoadedPolicy]:
        """Validate the policy file ``path`` and record it as a new revision
        (``PolicyError`` lists every problem; the running revision stays in force then).
        Returns its number and the policy."""
        if not reason.strip():
            raise PolicyError(str(path), ["a reason is required: --reason 'what changes and why'"])
        return self.apply_loaded(load_policy(path), author=author, reason=reason)

    def apply_loaded(
        self, loaded: LoadedPolicy, *, author: str, reason: str
    ) -> tuple[int, LoadedPolicy]:
        """Record an already validated policy as a new revision (see :meth:`apply`)."""
        if not reason.strip():
            raise PolicyError(loaded.source, ["a reason is required"])
        with self.db.write() as conn:
            _serialize(conn)
            number = revisions.record(
                conn,
                revision=loaded.revision,
                sha256=loaded.sha256,
                text=loaded.text,
                author=author,
                reason=reason,
                source="apply",
            )
        self._checked = 0.0
        return number, loaded


def _serialize(conn: Connection) -> None:
    """On PostgreSQL, one writer of the policy history at a time (SQLite's BEGIN IMMEDIATE
    already serializes writers)."""
    advisory_lock(conn, "qcb.policy_revisions")
