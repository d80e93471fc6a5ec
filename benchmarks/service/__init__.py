"""Broker overhead per quantum task in service mode, against raw Celery on the same Redis.

One process run (``benchmarks/service_overhead.py`` is the command). A
:class:`tests.harness.stack.LocalStack` (a private Redis, a fresh PostgreSQL database,
``qcb serve``, ``qcb scheduler`` and two ``qcb worker`` processes; a backends file giving ``aer`` a
deployment capacity of one task per worker process) runs:

1. Latency: a trivial job (``examples/vqe_h2.yaml`` cut to one Adam iteration, no reference
   task: exactly one quantum task, a batch of 9 parameter sets of the 2-qubit ansatz) is
   submitted through the remote SDK client and followed to its result
   (``submit`` -> ``wait`` -> ``result``), one job at a time. The overhead of a job is its
   wall time minus the backend's own time (the tasks' ``run_seconds`` in the lineage), per
   quantum task. Also the full ``examples/vqe_h2.yaml`` (about 117 steps): (wall time - the
   quantum tasks' ``run_seconds``) / steps.
2. Throughput: a burst of trivial jobs submitted at once from several client threads; the
   time until every job is final (the store is polled), in quantum tasks per second.
3. The baseline, in the same run and on the same Redis server: a minimal Celery app
   (:mod:`.rawcelery`: JSON, ``task_acks_late``, prefetch 1, results in another Redis
   database) whose one task validates the same batch and runs it on the same ``aer`` backend
   class in the worker (``submit`` then ``result``), with two worker processes of two threads
   each, as the stack's. Latency is ``send_task`` -> ``AsyncResult.get()`` minus the task's
   ``run_seconds``; throughput is the same burst of tasks. Broker and raw latency samples
   are interleaved (one job, one task, ...) so that both see the same machine.

Each broker latency is also cut into phases from the store's timestamps (job and task
``created_at``, ``dispatched_at``, ``started_at``, ``finished_at``), and so is each step of
the long job (:mod:`.phases`).

Modules: :mod:`.rawcelery` (the baseline's app, task and worker processes), :mod:`.measure`
(the stack, the samples, the bursts), :mod:`.phases` (phases from the store's timestamps),
:mod:`.report` (statistics, the figures, the table).

The Celery workers of the baseline import :mod:`.rawcelery` as ``service.rawcelery``
(``celery -A service.rawcelery``, with ``benchmarks/`` and the repository root on
``PYTHONPATH``); ``QCB_BENCH_REDIS_URL`` tells them where Redis is.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
"""The repository root."""
if str(ROOT) not in sys.path:  # the service harness lives in the checkout's tests/harness
    sys.path.insert(0, str(ROOT))
EXAMPLE = ROOT / "examples" / "vqe_h2.yaml"
"""The job every measurement starts from."""
USER = "bench"
"""The user the broker's jobs are submitted as."""
