"""The API under load: one user holds many open event streams while another user's ordinary
requests are timed, against the same requests with no stream open, in the same run.

A whole service runs (``tests.harness.stack.LocalStack``: PostgreSQL, Redis, the API, the scheduler;
no worker, so that the watched job stays quiet for the whole measurement). Researcher
``alice`` opens ``--streams`` streams on her own queued job (``GET /v1/jobs/{id}/events``,
each read until its first ``status`` event); researcher ``bob`` makes ``--requests``
sequential requests (``whoami``, ``jobs``, his job's status, ``usage``, in turn) before
the streams open and while they are open. Reported: bob's median and p99 latency in both
phases and their ratio (the aim: p99 within 2x), the API process's memory (RSS) without and
with the streams, how long opening them took, and how many streams opened and got their
first event (any that did not are counted, never hidden); then one change (alice cancels
the job) and how long it took to reach every stream.

    .venv/bin/python benchmarks/event_streams.py [--streams 500] [--requests 400] [--quick]

It writes ``event_streams.json`` next to itself and prints the table.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import shlex
import statistics
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path
from typing import Any

import httpx
import psutil
import yaml

from broker.config import Settings

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the checkout's tests/harness
from tests.harness.stack import LocalStack

ROOT = Path(__file__).resolve().parent.parent
OPEN_TIMEOUT = 120.0
"""Seconds allowed for all the streams to open and get their first event."""
POLICY = """\
apiVersion: qcbroker/v1
kind: Policy
metadata: {name: stream-bench, revision: "1"}
backends:
  aer: {units: [evaluations, shots]}
  local: {units: [core_hours]}
proposals:
  - id: chem
    pi: carol
    members: [alice]
    budgets:
      - {backend: aer, unit: evaluations, amount: 1000000}
      - {backend: aer, unit: shots, amount: 100000000}
  - id: bio
    pi: dave
    members: [bob]
    budgets:
      - {backend: aer, unit: evaluations, amount: 1000000}
      - {backend: aer, unit: shots, amount: 100000000}
"""


def parse_args() -> argparse.Namespace:
    """The command's options."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--streams", type=int, default=500, help="alice's open streams")
    parser.add_argument("--requests", type=int, default=400, help="bob's requests per phase")
    parser.add_argument("--quick", action="store_true", help="50 streams, 100 requests")
    parser.add_argument("--out", type=Path, default=Path(__file__).with_name("event_streams.json"))
    args = parser.parse_args()
    if args.quick:
        args.streams, args.requests = 50, 100
    return args


def _job(proposal: str) -> dict[str, Any]:
    """The H2 example as a job under ``proposal`` (no reference task)."""
    job: dict[str, Any] = yaml.safe_load((ROOT / "examples" / "vqe_h2.yaml").read_text())
    job["proposal"] = proposal
    job["algorithm"]["inputs"]["reference"] = False
    return job


def _timed_requests(http: httpx.Client, job: str, count: int) -> dict[str, Any]:
    """Bob's requests, one after another; each one's latency in ms (failures counted)."""
    paths = ["/v1/whoami", "/v1/jobs", f"/v1/jobs/{job}", "/v1/usage"]
    samples, failures = [], 0
    for n in range(count):
        start = time.perf_counter()
        try:
            ok = http.get(paths[n % len(paths)]).status_code == 200
        except httpx.HTTPError:
            ok = False
        samples.append((time.perf_counter() - start) * 1000)
        failures += not ok
    ordered = sorted(samples)
    return {
        "requests": count,
        "failures": failures,
        "median_ms": round(statistics.median(ordered), 2),
        "p99_ms": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))], 2),
        "max_ms": round(ordered[-1], 2),
    }


class Streams:
    """``count`` event streams held open on one job, in an event loop of their own."""

    def __init__(self, url: str, token: str, job: str, count: int) -> None:
        self.url, self.token, self.job, self.count = url, token, job, count
        self.loop = asyncio.new_event_loop()
        self.opened = 0
        self.first_events = 0
        self.errors: list[str] = []
        self.ready = threading.Event()
        self.stop: asyncio.Event | None = None
        self.open_seconds = 0.0
        self.ends: list[float] = []
        self.all_ended = threading.Event()

    def start(self) -> None:
        """Open the streams; return once each has its first event or has failed."""
        threading.Thread(target=self.loop.run_until_complete, args=(self._run(),)).start()
        self.ready.wait()

    def close(self) -> None:
        """Close every stream."""
        assert self.stop is not None
        self.loop.call_soon_threadsafe(self.stop.set)

    async def _run(self) -> None:
        """Open every stream, wait for each one's first event (or its end, or
        ``OPEN_TIMEOUT`` seconds for all), then hold them until :meth:`close`."""
        self.stop = asyncio.Event()
        limits = httpx.Limits(max_connections=self.count + 10)
        headers = {"Authorization": f"Bearer {self.token}"}
        async with httpx.AsyncClient(
            base_url=self.url, headers=headers, limits=limits, timeout=60.0
        ) as http:
            got_first = [asyncio.Event() for _ in range(self.count)]
            start = time.perf_counter()
            tasks = [asyncio.create_task(self._hold(http, e)) for e in got_first]
            waits = (self._first_or_end(e, t) for e, t in zip(got_first, tasks, strict=True))
            try:
                await asyncio.wait_for(asyncio.gather(*waits), OPEN_TIMEOUT)
            except TimeoutError:  # those without a first event are counted, not awaited
                self.errors.append(f"no first event within {OPEN_TIMEOUT:.0f} s")
            self.open_seconds = time.perf_counter() - start
            self.ready.set()
            await self.stop.wait()
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    @staticmethod
    async def _first_or_end(event: asyncio.Event, task: asyncio.Task[None]) -> None:
        """Return once a stream has its first event or has ended (failed)."""
        waiter = asyncio.create_task(event.wait())
        try:
            await asyncio.wait({waiter, task}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            waiter.cancel()

    async def _hold(self, http: httpx.AsyncClient, first: asyncio.Event) -> None:
        """One stream: count it open (HTTP 200) and its first ``status`` event, note when
        its ``end`` comes; a refusal or a transport error is counted in ``errors``."""
        try:
            async with http.stream("GET", f"/v1/jobs/{self.job}/events") as response:
                if response.status_code != 200:
                    self.errors.append(f"HTTP {response.status_code}")
                    return
                self.opened += 1
                async for line in response.aiter_lines():
                    if line.startswith("event: status") and not first.is_set():
                        self.first_events += 1
                        first.set()
                    elif line.startswith("event: end"):
                        self.ends.append(time.perf_counter())
                        if len(self.ends) == self.count:
                            self.all_ended.set()
        except httpx.HTTPError as exc:
            self.errors.append(type(exc).__name__)


def _rss_mb(pid: int) -> float:
    """Resident memory of a process and its children, in MiB."""
    process = psutil.Process(pid)
    total = process.memory_info().rss + sum(
        c.memory_info().rss for c in process.children(recursive=True)
    )
    return round(total / 2**20, 1)


def measure(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    """Both phases on one service."""
    (workdir / "policy.yaml").write_text(POLICY)
    settings: dict[str, Any] = {"policy_file": str(workdir / "policy.yaml")}
    if "max_streams_per_user" in Settings.model_fields:  # a per-user cap: above N
        settings["max_streams_per_user"] = args.streams + 10
    with LocalStack(workdir, workers=0, settings=settings) as stack:
        api_pid = stack.processes["api"].pid
        alice, bob = stack.token("alice"), stack.token("bob")
        bob_http = httpx.Client(
            base_url=stack.url, headers={"Authorization": f"Bearer {bob}"}, timeout=30.0
        )
        a_job = httpx.post(
            f"{stack.url}/v1/jobs", json=_job("chem"), headers={"Authorization": f"Bearer {alice}"}
        ).json()["id"]
        b_job = bob_http.post("/v1/jobs", json=_job("bio")).json()["id"]
        _timed_requests(bob_http, b_job, 20)  # warm-up
        rss_without = _rss_mb(api_pid)
        without = _timed_requests(bob_http, b_job, args.requests)
        streams = Streams(stack.url, alice, a_job, args.streams)
        streams.start()
        rss_with = _rss_mb(api_pid)
        with_streams = _timed_requests(bob_http, b_job, args.requests)
        rss_after = _rss_mb(api_pid)
        cancelled = time.perf_counter()  # one change, told to every stream
        httpx.post(
            f"{stack.url}/v1/jobs/{a_job}/cancel", headers={"Authorization": f"Bearer {alice}"}
        )
        streams.all_ended.wait(60)
        fan_out = [round((t - cancelled) * 1000, 1) for t in sorted(streams.ends)]
        streams.close()
    return {
        "streams": {
            "asked": args.streams,
            "opened": streams.opened,
            "first_event": streams.first_events,
            "errors": streams.errors[:20],
            "error_count": len(streams.errors),
            "open_seconds": round(streams.open_seconds, 2),
            "ended_after_cancel": len(fan_out),
            "cancel_to_first_end_ms": fan_out[0] if fan_out else None,
            "cancel_to_last_end_ms": fan_out[-1] if fan_out else None,
        },
        "without_streams": without,
        "with_streams": with_streams,
        "p99_ratio": round(with_streams["p99_ms"] / without["p99_ms"], 2),
        "median_ratio": round(with_streams["median_ms"] / without["median_ms"], 2),
        "api_rss_mb": {"without": rss_without, "with": rss_with, "after_requests": rss_after},
    }


def environment() -> dict[str, Any]:
    """The machine and the software measured."""
    return {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "packages": {p: version(p) for p in ("fastapi", "starlette", "uvicorn", "psycopg")},
        "date": datetime.now(UTC).strftime("%Y-%m-%d"),
    }


def main() -> None:
    """Measure, write the JSON file, print the table."""
    args = parse_args()
    with tempfile.TemporaryDirectory(prefix="qcb-streams-") as tmp:
        os.chmod(tmp, 0o711)
        figures = measure(args, Path(tmp))
    command = shlex.join(["python", "benchmarks/event_streams.py", *sys.argv[1:]])
    report = {"command": command, "environment": environment(), **figures}
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    s, a, b = figures["streams"], figures["without_streams"], figures["with_streams"]
    print(f"streams: {s['opened']}/{s['asked']} open, {s['first_event']} got their first event, "
          f"{s['error_count']} errors, opened in {s['open_seconds']} s")  # fmt: skip
    first, last = s["cancel_to_first_end_ms"], s["cancel_to_last_end_ms"]
    print(f"a cancel reached {s['ended_after_cancel']} streams: first after {first} ms, "
          f"last after {last} ms")  # fmt: skip
    print("| phase | requests | failures | median ms | p99 ms | max ms | API RSS MB |")
    print("|---|---|---|---|---|---|---|")
    rss = figures["api_rss_mb"]
    for name, row, mem in (("no streams", a, rss["without"]), ("with streams", b, rss["with"])):
        print(f"| {name} | {row['requests']} | {row['failures']} | {row['median_ms']} | "
              f"{row['p99_ms']} | {row['max_ms']} | {mem} |")  # fmt: skip
    print(f"p99 ratio {figures['p99_ratio']} (aim: within 2), median ratio "
          f"{figures['median_ratio']}")  # fmt: skip


if __name__ == "__main__":
    main()
