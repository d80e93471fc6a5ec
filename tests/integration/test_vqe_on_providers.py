"""VQE steps on the provider backends, through the embedded runtime (real Celery worker).

``ibm`` runs in qiskit-ibm-runtime's local mode on a fake device with its noise model, in
session and in batch mode; its options come from the backends file, never from the job.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from broker import Client
from broker.jobfile import load_job
from circuits.observables import PauliSum
from tests.conftest import EXAMPLES, H2_TERMS

pytestmark = pytest.mark.integration

EXACT = PauliSum.from_list(H2_TERMS).ground_energy() + 0.7199689944489797


def h2_with_shots(backend: str) -> dict[str, object]:
    job = load_job(EXAMPLES / "vqe_h2.yaml", {"backend": backend}).model_dump(by_alias=True)
    inputs = job["algorithm"]["inputs"]
    inputs["shots"] = 4000
    inputs["optimizer"] = {"name": "adam", "learning_rate": 0.2, "maxiter": 8}
    return job


@pytest.mark.parametrize("mode", ["session", "batch"])
def test_ibm_runs_vqe_steps_on_a_noisy_fake_device(
    qcb_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mode: str
) -> None:
    backends = tmp_path / "backends.yaml"
    backends.write_text(yaml.safe_dump({"ibm": {"device": "fake_manila", "mode": mode}}))
    monkeypatch.setenv("QCB_BACKENDS_FILE", str(backends))
    client = Client()
    job_id = client.submit(h2_with_shots("ibm"))
    status = client.wait(job_id, timeout=300)
    assert status.state == "COMPLETED", status.message
    result = client.result(job_id)
    assert result.result is not None
    quantum = [t for t in result.lineage.tasks if t.kind == "quantum"]
    assert len(quantum) == 8
    assert all(t.backend == "ibm" and t.native_id for t in quantum)
    assert all(t.backend_version and "qiskit-ibm-runtime" in t.backend_version for t in quantum)
    # Eight noisy Adam steps: the energy goes down, and stays above the exact minimum
    # (up to shot noise).
    history = result.result["history"]
    assert result.result["energy"] < history[0] - 0.05, history
    assert result.result["energy"] > EXACT - 0.05
    # Charged in the units the default policy counts ibm in; its run seconds are not.
    charged = {c.unit for c in result.charges if c.kind == "charge" and c.backend == "ibm"}
    assert charged == {"evaluations", "shots"}
    client.shutdown()
