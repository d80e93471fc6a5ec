"""Fixtures for jobs whose classical tasks run on the real Slurm."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from broker import Client
from tests.conftest import ROOT, SlurmCluster


@pytest.fixture(scope="session")
def slurm_cluster(slurm_release: SlurmCluster) -> SlurmCluster:
    """Every test here runs against each supported Slurm release in turn."""
    return slurm_release


@pytest.fixture
def slurm_client(
    qcb_home: Path, slurm_cluster: SlurmCluster, monkeypatch: pytest.MonkeyPatch
) -> Client:
    """An embedded client whose broker reaches the test cluster (whose tasks find this
    checkout's test helpers: see ``SlurmCluster.backends_file``)."""
    monkeypatch.setenv("QCB_BACKENDS_FILE", str(slurm_cluster.backends_file))
    monkeypatch.setenv("SLURM_CONF", str(slurm_cluster.run / "slurm.conf"))
    return Client()


def h2_job(classical_backend: str = "slurm", **overrides: Any) -> dict[str, Any]:
    """The Slurm example as a dict, with top-level fields or inputs overridden."""
    job: dict[str, Any] = yaml.safe_load((ROOT / "examples" / "vqe_h2_slurm.yaml").read_text())
    job["classical_backend"] = classical_backend
    inputs = overrides.pop("inputs", {})
    job["algorithm"]["inputs"].update(inputs)
    job.update(overrides)
    return job
