"""The H2 VQE example finishes on every simulator backend, chosen only by its name.

All jobs go to one embedded runtime at once (a real scheduler and Celery worker), each the
example file with only ``backend`` changed — as ``qcb run FILE --backend NAME`` does.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from broker import Client
from broker.jobfile import load_job
from circuits.observables import PauliSum
from tests.conftest import EXAMPLES, H2_TERMS

pytestmark = pytest.mark.integration

EXACT = PauliSum.from_list(H2_TERMS).ground_energy() + 0.7199689944489797
NOISELESS = ["aer", "aer-mps", "aer-density", "pennylane", "lightning", "cirq", "cirq-density"]
NOISELESS += ["braket"]


def test_the_h2_example_reaches_chemical_accuracy_on_every_simulator(qcb_home: Path) -> None:
    client = Client()
    jobs = {
        name: client.submit(load_job(EXAMPLES / "vqe_h2.yaml", {"backend": name}))
        for name in NOISELESS
    }
    for name, job_id in jobs.items():
        status = client.wait(job_id, timeout=300)
        assert status.state == "COMPLETED", f"{name}: {status.message}"
        result = client.result(job_id)
        assert result.result is not None
        assert abs(result.result["energy"] - EXACT) < 1.6e-3, name
        assert {t.backend for t in result.lineage.tasks if t.kind == "quantum"} == {name}
        assert result.lineage.backend == name
    client.shutdown()
