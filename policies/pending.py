"""Pending tasks as columns (numpy arrays and vocabularies), built cheaply from rows."""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass, field
from operator import attrgetter, itemgetter
from typing import Any, NamedTuple

import numpy as np


class TaskRow(NamedTuple):
    """One pending task, as the scheduler reads it from the store."""

    id: str
    backend: str
    proposal: str
    user: str
    qos: str | None
    created_at: float
    """When the task became pending (epoch seconds): its age counts from here."""
    size: float = 1.0
    """Nodes of a classical task; circuits (or another count) of a quantum task."""
    hybrid: bool = False
    """Whether its job already completed a step (a hybrid loop under way)."""


FIELDS = TaskRow._fields


def encode(column: Iterable[Hashable]) -> tuple[np.ndarray, list[Any]]:
    """Integer codes (int32) and the vocabulary, in order of first appearance."""
    values = column if isinstance(column, list | tuple) else list(column)
    vocabulary = list(dict.fromkeys(values))
    index = {v: i for i, v in enumerate(vocabulary)}
    codes = np.fromiter(map(index.__getitem__, values), dtype=np.int32, count=len(values))
    return codes, vocabulary


@dataclass(frozen=True, eq=False)
class PendingTasks:
    """Pending tasks as columns: string columns are int32 codes into a vocabulary."""

    ids: np.ndarray
    backend: np.ndarray
    backends: list[str]
    proposal: np.ndarray
    proposals: list[str]
    user: np.ndarray
    users: list[str]
    qos: np.ndarray
    qos_names: list[str | None]
    created: np.ndarray
    size: np.ndarray
    hybrid: np.ndarray
    _index: dict[str, int] = field(default_factory=dict, repr=False)

    def __len__(self) -> int:
        return int(self.ids.shape[0])

    @classmethod
    def from_rows(cls, rows: Iterable[Any]) -> PendingTasks:
        """Columns from rows: :class:`TaskRow` or plain tuples in its field order, or
        objects with its field names as attributes."""
        rows = rows if isinstance(rows, list) else list(rows)
        if not rows:
            return cls.empty()
        if isinstance(rows[0], tuple):
            width = len(rows[0])
            if width != len(FIELDS):
                raise ValueError(
                    f"a pending task row has {len(FIELDS)} fields ({', '.join(FIELDS)}); "
                    f"got {width}"
                )
            get: list[Callable[[Any], Any]] = [itemgetter(k) for k in range(len(FIELDS))]
        else:
            get = [attrgetter(name) for name in FIELDS]
        return cls.from_columns(*([*map(g, rows)] for g in get))

    @classmethod
    def from_columns(
        cls,
        ids: Sequence[str],
        backend: Sequence[str],
        proposal: Sequence[str],
        user: Sequence[str],
        qos: Sequence[str | None],
        created: Sequence[float] | np.ndarray,
        size: Sequence[float] | np.ndarray,
        hybrid: Sequence[bool] | np.ndarray,
    ) -> PendingTasks:
        """Columns from columns, one sequence per :class:`TaskRow` field, of equal length."""
        n = len(ids)
        if any(len(c) != n for c in (backend, proposal, user, qos, created, size, hybrid)):
            raise ValueError("the columns of pending tasks must be of one length")
        if not n:
            return cls.empty()
        backend_codes, backends = encode(backend)
        proposal_codes, proposals = encode(proposal)
        user_codes, users = encode(user)
        qos_codes, qos_names = encode(qos)
        created_arr = np.asarray(created, dtype=np.float64)
        size_arr = np.asarray(size, dtype=np.float64)
        if not (np.isfinite(created_arr).all() and np.isfinite(size_arr).all()):
            raise ValueError("created_at and size of pending tasks must be finite numbers")
        id_arr = np.empty(n, dtype=object)
        id_arr[:] = ids
        return cls(
            ids=id_arr,
            backend=backend_codes,
            backends=[str(b) for b in backends],
            proposal=proposal_codes,
            proposals=[str(p) for p in proposals],
            user=user_codes,
            users=[str(u) for u in users],
            qos=qos_codes,
            qos_names=[None if q is None else str(q) for q in qos_names],
            created=created_arr,
            size=size_arr,
            hybrid=np.asarray(hybrid, dtype=bool),
        )

    @classmethod
    def empty(cls) -> PendingTasks:
        """No pending task."""
        none = np.zeros(0, dtype=np.int32)
        return cls(
            ids=np.zeros(0, dtype=object),
            backend=none,
            backends=[],
            proposal=none,
            proposals=[],
            user=none,
            users=[],
            qos=none,
            qos_names=[],
            created=np.zeros(0),
            size=np.zeros(0),
            hybrid=np.zeros(0, dtype=bool),
        )

    def index(self, task_id: str) -> int:
        """The position of a task (KeyError if it is not pending)."""
        if not self._index:
            self._index.update((str(t), i) for i, t in enumerate(self.ids.tolist()))
        return self._index[task_id]

    def row(self, i: int) -> TaskRow:
        """The task at position ``i`` as a row."""
        return TaskRow(
            id=str(self.ids[i]),
            backend=self.backends[self.backend[i]],
            proposal=self.proposals[self.proposal[i]],
            user=self.users[self.user[i]],
            qos=self.qos_names[self.qos[i]],
            created_at=float(self.created[i]),
            size=float(self.size[i]),
            hybrid=bool(self.hybrid[i]),
        )
