"""A service deployment with secrets planted where a hostile tenant would look: the store's
and Redis's passwords (in the settings file and the broker's environment), a provider's API
key (in the backends file), the test cluster's JWT, the tokens of other users."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import make_url

from tests.conftest import SlurmCluster, private_yaml, reachable
from tests.harness.stack import LocalStack, pg_admin_url

HERE = Path(__file__).resolve().parent
PROGRAMS = HERE / "programs"
POLICY = HERE / "policy.yaml"


@dataclass
class Deployment:
    """The stack, the secrets planted around it, and what the tests make outside it."""

    stack: LocalStack
    secrets: dict[str, str]
    canary: Path
    release_dir: Path
    files: dict[str, Path] = field(default_factory=dict)


@pytest.fixture(scope="module")
def deployment(
    tmp_path_factory: pytest.TempPathFactory, slurm_cluster: SlurmCluster
) -> Iterator[Deployment]:
    """API, scheduler and two workers on a password-protected PostgreSQL and Redis, with
    every classical backend, as root (so tasks run as the users' own accounts)."""
    assert os.geteuid() == 0, "the hostile-tenant tests need a broker run as root (make test)"
    workdir = reachable(tmp_path_factory.mktemp("hostile"))
    options: dict[str, Any] = {name: dict(entry) for name, entry in slurm_cluster.options.items()}
    ionq_key = f"planted-ionq-key-{uuid.uuid4().hex}"
    options["ionq"] = {"url": "http://127.0.0.1:9", "api_key": ionq_key}
    options["slurm-pilot"].update(max_pilots=2, slots=2, idle_s=20)
    backends = private_yaml(workdir / "backends.yaml", options)
    outside = Path(f"/tmp/qcb-hostile-{uuid.uuid4().hex[:8]}")
    outside.mkdir(mode=0o755)
    canary = outside / "canary"
    canary.write_text("the broker's file\n")
    release_dir = outside / "release"
    release_dir.mkdir(mode=0o755)
    env = {
        "QCB_BACKENDS_FILE": str(backends),
        "SLURM_CONF": str(slurm_cluster.run / "slurm.conf"),
    }
    stack = LocalStack(
        workdir,
        workers=2,
        env=env,
        settings={"policy_file": POLICY, "lease_seconds": 3.0, "redispatch_seconds": 3.0},
    )
    config = private_yaml(
        workdir / "settings.yaml",
        {"database_url": stack.database_url, "broker_url": stack.redis.url},
    )
    stack.env["QCB_CONFIG"] = str(config)
    secrets = {
        "store password": str(make_url(stack.database_url).password),
        "store admin password": str(make_url(pg_admin_url()).password),
        "redis password": stack.redis.password,
        "ionq api key": ionq_key,
        "slurm jwt": (slurm_cluster.run / "jwt.token").read_text().strip(),
    }
    try:
        with stack:
            secrets["alice's token"] = stack.token("alice")
            stack.token("bob")
            files = {"backends": backends, "settings": config}
            yield Deployment(stack, secrets, canary, release_dir, files)
    finally:
        shutil.rmtree(outside, ignore_errors=True)
