"""``qcb ui`` as a user runs it on the embedded store: it prints where to go and the token,
the console logs in with that token, a job submitted from the page completes (the
embedded runtime started for it), and Ctrl-C stops it all."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml

from broker.processes.up import wait_for_api
from broker.service.remote import RemoteClient
from tests.conftest import EXAMPLES
from tests.harness.stack import free_port

pytestmark = pytest.mark.e2e


@pytest.fixture
def console(qcb_home: Path) -> Iterator[tuple[str, str]]:
    """``qcb ui`` on a free port: (its address, the token it printed)."""
    port = free_port()
    qcb = Path(sys.executable).parent / "qcb"
    process = subprocess.Popen(
        [str(qcb), "ui", "--port", str(port), "--user", "ada"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "QCB_HOME": str(qcb_home)},
        start_new_session=True,
    )
    assert process.stdout is not None
    printed = [process.stdout.readline() for _ in range(3)]
    url = f"http://127.0.0.1:{port}"
    try:
        assert printed[0].strip() == f"console: {url}/ui/  (Ctrl-C stops it)", printed
        assert "log in as ada (researcher)" in printed[1], printed
        token = printed[2].strip()
        assert re.fullmatch(r"qcb_[A-Za-z0-9_-]{43}", token), printed
        wait_for_api(url, timeout=60)
        yield url, token
    finally:
        process.send_signal(signal.SIGINT)
        rest, _ = process.communicate(timeout=60)
    assert process.returncode == 0, rest
    assert "Traceback" not in rest, rest


def test_qcb_ui_logs_in_and_runs_a_job(console: tuple[str, str]) -> None:
    url, token = console
    job = yaml.safe_load((EXAMPLES / "vqe_h2.yaml").read_text())
    job["algorithm"]["inputs"]["optimizer"]["maxiter"] = 3
    job["algorithm"]["inputs"]["reference"] = False
    with httpx.Client(base_url=url, follow_redirects=True, timeout=30) as browser:
        nonce = re.findall(r'name="nonce" value="([^"]+)"', browser.get("/ui/login").text)[0]
        jobs = browser.post("/ui/login", data={"nonce": nonce, "token": token})
        assert jobs.status_code == 200 and "ada" in jobs.text
        csrf = re.findall(r'name="csrf" value="([^"]+)"', jobs.text)[0]
        page = browser.post("/ui/submit", data={"csrf": csrf, "job": yaml.safe_dump(job)})
        assert page.status_code == 200 and "/ui/jobs/j-" in str(page.url)
        job_id = str(page.url).rsplit("/", 1)[1]
    done = RemoteClient(url=url, token=token).wait(job_id, timeout=240)
    assert done.state.value == "COMPLETED"
    assert done.user == "ada" and done.proposal == "local"
