"""The compose deployment under docker/, checked offline: `docker-compose config` (v1, no Docker
engine) parses and validates docker/compose.yaml, and these tests check what it cannot: the
broker services' wiring, the Slurm node list against the image's slurm.conf, and the shell
scripts. Images are not built here."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import ROOT

pytestmark = pytest.mark.integration

DOCKER = ROOT / "docker"
COMPOSE = DOCKER / "compose.yaml"
SLURM_CONF = DOCKER / "images" / "slurm" / "slurm.conf"
BACKENDS = DOCKER / "images" / "broker" / "backends.yaml"
BROKER_DOCKERFILE = "docker/images/broker/Dockerfile"
BROKER_SERVICES = ("api", "scheduler", "worker-quantum", "worker-classical", "flower")
SLURM_SERVICES = ("slurmctld", "slurmd1", "slurmd2", "slurmrestd")
SERVICES = {"redis", "postgres", *SLURM_SERVICES, *BROKER_SERVICES}
PUBLISHED = {"api": {8000}, "flower": {5555}, "slurmrestd": {6820}}
SCRIPTS = sorted(DOCKER.rglob("*.sh"))


@pytest.fixture(scope="module")
def docker_compose() -> str:
    """The docker-compose executable, installed by docker/install-compose.sh if missing."""
    if shutil.which("docker-compose") is None:
        subprocess.run(["bash", str(DOCKER / "install-compose.sh")], check=True, timeout=600)
    path = shutil.which("docker-compose")
    assert path is not None, "docker/install-compose.sh did not install docker-compose"
    return path


def compose_config(docker_compose: str, file: Path) -> subprocess.CompletedProcess[str]:
    """`docker-compose -f FILE config` with the defaults of the file (no QCB_ settings)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("QCB_", "COMPOSE_"))}
    return subprocess.run(
        [docker_compose, "-f", str(file), "config"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )


@pytest.fixture(scope="module")
def services(docker_compose: str) -> dict[str, dict[str, Any]]:
    """The services of docker/compose.yaml as `docker-compose config` resolves them."""
    done = compose_config(docker_compose, COMPOSE)
    assert done.returncode == 0, done.stderr
    config: dict[str, Any] = yaml.safe_load(done.stdout)
    result: dict[str, dict[str, Any]] = config["services"]
    return result


def expand_hostlist(hostlist: str) -> list[str]:
    """Slurm's host list notation, as far as slurm.conf uses it: ``a[1-3,5],b`` → a1 a2 a3 a5 b."""
    names: list[str] = []
    for prefix, ranges in re.findall(r"([^,\[]+)(?:\[([^\]]*)\])?,?", hostlist):
        if not ranges:
            names.append(prefix)
            continue
        for part in ranges.split(","):
            first, _, last = part.partition("-")
            width = len(first)
            names += [f"{prefix}{i:0{width}d}" for i in range(int(first), int(last or first) + 1)]
    return names


def mount_sources(service: dict[str, Any]) -> dict[str, str]:
    """A service's volume mounts as {container path: volume name}."""
    mounts: dict[str, str] = {}
    for volume in service.get("volumes", []):
        source, target = volume.split(":")[:2]
        mounts[target] = source
    return mounts


def test_compose_file_is_valid(docker_compose: str) -> None:
    """`docker-compose config -q` accepts the file: schema, references, interpolation."""
    done = subprocess.run(
        [docker_compose, "-f", str(COMPOSE), "config", "-q"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr


def test_compose_defines_the_deployment(services: dict[str, dict[str, Any]]) -> None:
    """Exactly the services of the deployment, every dependency defined and, where it waits for
    health, with a healthcheck to wait for."""
    assert set(services) == SERVICES
    for name, service in services.items():
        for target, dependency in service.get("depends_on", {}).items():
            assert target in services, f"{name} depends on undefined {target}"
            if dependency.get("condition") == "service_healthy":
                assert "healthcheck" in services[target], f"{name} waits on {target}'s health"
    assert services["postgres"]["image"] == "postgres:15"
    assert services["redis"]["image"] == "redis:7"


def test_broker_services_use_the_broker_image(services: dict[str, dict[str, Any]]) -> None:
    """Every broker process is built from the broker image and talks to redis; all but flower
    use postgres and the image's backends file."""
    commands = {name: services[name]["command"][:2] for name in BROKER_SERVICES}
    assert commands == {
        "api": ["qcb", "serve"],
        "scheduler": ["qcb", "scheduler"],
        "worker-quantum": ["qcb", "worker"],
        "worker-classical": ["qcb", "worker"],
        "flower": ["celery", "-A"],
    }
    for name in BROKER_SERVICES:
        service = services[name]
        assert Path(service["build"]["context"]) == ROOT, name
        assert service["build"]["dockerfile"] == BROKER_DOCKERFILE, name
        environment = service["environment"]
        assert environment["QCB_BROKER_URL"] == "redis://redis:6379/0", name
        assert "redis" in service["depends_on"], name
        if name != "flower":
            assert environment["QCB_DATABASE_URL"].startswith("postgresql+psycopg://"), name
            assert "@postgres:5432/qcb" in environment["QCB_DATABASE_URL"], name
            assert environment["QCB_BACKENDS_FILE"] == "/etc/qcb/backends.yaml", name
            assert "postgres" in service["depends_on"], name


def test_only_the_front_ports_are_published(services: dict[str, dict[str, Any]]) -> None:
    """Host ports: api 8000, flower 5555 and slurmrestd 6820, nothing else; volumes are named."""
    published = {
        name: {int(port.split("/")[0].split(":")[-2]) for port in service["ports"]}
        for name, service in services.items()
        if service.get("ports")
    }
    assert published == PUBLISHED
    for name, service in services.items():
        for source in mount_sources(service).values():
            assert not source.startswith(("/", ".", "~")), f"{name} mounts a host path {source}"


def test_broken_copy_is_refused(docker_compose: str, tmp_path: Path) -> None:
    """A copy that depends on a service that does not exist fails, naming that service."""
    config = yaml.safe_load(COMPOSE.read_text())
    scheduler = config["services"]["scheduler"]  # its depends_on is shared by an anchor
    missing = {"no-such-service": {"condition": "service_started"}}
    scheduler["depends_on"] = {**scheduler["depends_on"], **missing}
    broken = tmp_path / "compose.yaml"
    broken.write_text(yaml.safe_dump(config))
    done = compose_config(docker_compose, broken)
    assert done.returncode != 0
    assert "'scheduler' depends on service 'no-such-service'" in done.stderr


def test_slurm_conf_names_the_compose_nodes(services: dict[str, dict[str, Any]]) -> None:
    """slurm.conf's compute nodes are the hostnames of the slurmd services, its controller the
    slurmctld service's hostname."""
    conf = SLURM_CONF.read_text()
    nodes = [
        name
        for line in re.findall(r"^NodeName=(\S+)", conf, re.MULTILINE)
        for name in expand_hostlist(line)
    ]
    slurmd = [s["hostname"] for s in services.values() if s.get("command") == ["slurmd"]]
    assert len(slurmd) == 2
    assert sorted(nodes) == sorted(slurmd)
    controller = re.search(r"^SlurmctldHost=(\S+)", conf, re.MULTILINE)
    assert controller is not None
    assert controller.group(1) == services["slurmctld"]["hostname"]
    assert "AuthAltTypes=auth/jwt" in conf


def test_backends_file_paths_are_shared(services: dict[str, dict[str, Any]]) -> None:
    """The Slurm backends' workdir is on the scratch volume that worker-classical and the
    compute nodes share; the slurmrest token is on the volume slurmrestd writes it to."""
    backends = yaml.safe_load(BACKENDS.read_text())
    assert set(backends) == {"slurm", "slurmrest", "slurm-pilot"}
    worker = mount_sources(services["worker-classical"])
    for options in backends.values():
        assert options["workdir"].startswith("/scratch/")
    for name in ("worker-classical", "slurmd1", "slurmd2"):
        assert mount_sources(services[name])["/scratch"] == "scratch", name
    token_dir = str(Path(backends["slurmrest"]["token_file"]).parent)
    assert worker[token_dir] == mount_sources(services["slurmrestd"])[token_dir]
    assert backends["slurmrest"]["url"] == "http://slurmrestd:6820"


def test_expand_hostlist() -> None:
    """The host list expansion used above."""
    assert expand_hostlist("slurmd[1-2]") == ["slurmd1", "slurmd2"]
    assert expand_hostlist("n[01-03,7],login") == ["n01", "n02", "n03", "n7", "login"]


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: str(p.relative_to(DOCKER)))
def test_shell_scripts_parse(script: Path) -> None:
    """Every shell script under docker/ is executable and passes `bash -n`."""
    assert os.access(script, os.X_OK), f"{script} is not executable"
    done = subprocess.run(["bash", "-n", str(script)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_scripts_are_found() -> None:
    """The glob above sees the scripts (an empty parametrization would pass silently)."""
    names = {str(p.relative_to(DOCKER)) for p in SCRIPTS}
    assert {"install-compose.sh", "images/slurm/entrypoint.sh", "slurm/start.sh"} <= names
