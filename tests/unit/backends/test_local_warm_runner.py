"""The warm runner of ``local`` (and ``slurm-pilot``): tasks submitted from several threads
at once each get a runner of their own and all complete."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from backends.base import ClassicalSpec
from backends.local import LocalBackend
from backends.states import TaskState


def test_concurrent_submits_each_get_a_runner(tmp_path: Path, task_account: str | None) -> None:
    backend = LocalBackend(workdir=str(tmp_path), warm_runner=True)

    def submit(i: int) -> str:
        spec = ClassicalSpec(argv=["echo", str(i)], run_as=task_account)
        return backend.submit(spec, task_id=f"t{i}")

    with ThreadPoolExecutor(max_workers=4) as pool:
        native_ids = list(pool.map(submit, range(40)))
    assert len(set(native_ids)) == 40
    deadline = time.monotonic() + 60
    for i, nid in enumerate(native_ids):
        while not backend.status(nid).state.final:
            assert time.monotonic() < deadline, f"task {i} never finished"
            time.sleep(0.02)
        assert backend.status(nid).state is TaskState.COMPLETED
        assert backend.result(nid).stdout == f"{i}\n"
