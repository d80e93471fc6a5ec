"""The HTTP part of a job's path with nothing behind it: what the remote SDK's three
requests cost on this machine, against raw Celery's round trip in the same run.

A bare FastAPI app, served by uvicorn in another process with the options ``qcb serve``
uses, answers the three requests a remote client makes for a job (``submit`` -> ``wait``
-> ``result``): ``POST /jobs`` (the trivial job of ``service_overhead.py`` as its JSON
body, parsed, an id returned), ``GET /jobs/ID/events`` (a server-sent ``status`` event
and ``end``) and ``GET /jobs/ID/result`` (a small JSON object). No store, no
authentication, no validation: the floor of the HTTP hops alone. The client is an
``httpx.Client`` with a kept-alive connection, as :class:`broker.service.remote.RemoteClient`.

Beside it, interleaved sample by sample: raw Celery's overhead as ``service_overhead.py``
measures it (:mod:`service.rawcelery` on a private Redis, one worker process: the same
quantum batch, wall time less the task's ``run_seconds``), so that both figures come from
the same machine at the same time. Their sum is what any design with the SDK's three
requests and a Celery hop costs here before it does any work of its own.

    .venv/bin/python benchmarks/http_floor.py [--samples 300]

Prints the medians and writes ``http_floor.json`` next to itself.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
from service.measure import first_batch, load, trivial_job

APP = """
import json, uuid
from fastapi import FastAPI, Request
from fastapi.responses import StreamingResponse
app = FastAPI()

@app.post("/jobs", status_code=201)
async def submit(request: Request) -> dict:
    json.loads(await request.body())
    return {"id": uuid.uuid4().hex}

@app.get("/jobs/{job_id}/events")
async def events(job_id: str) -> StreamingResponse:
    async def stream():
        yield "event: status\\ndata: " + json.dumps({"id": job_id, "state": "COMPLETED"}) + "\\n\\n"
        yield "event: end\\ndata: {}\\n\\n"
    return StreamingResponse(stream(), media_type="text/event-stream")

@app.get("/jobs/{job_id}/result")
def result(job_id: str) -> dict:
    return {"id": job_id, "state": "COMPLETED", "result": {"energy": -1.1}, "charges": []}
"""


def one_job(client: httpx.Client, body: dict[str, Any]) -> float:
    """Seconds for the three requests of one job."""
    t0 = time.perf_counter()
    job_id = client.post("/jobs", json=body).json()["id"]
    with client.stream("GET", f"/jobs/{job_id}/events") as response:
        for line in response.iter_lines():
            if line.startswith("event: end"):
                break
    client.get(f"/jobs/{job_id}/result").json()
    return time.perf_counter() - t0


def serve(workdir: Path, port: int) -> subprocess.Popen[bytes]:
    """The bare app in a uvicorn process on 127.0.0.1:``port``, ready."""
    (workdir / "floor_app.py").write_text(APP)
    process = subprocess.Popen(
        [sys.executable, "-c",
         "import uvicorn; uvicorn.run('floor_app:app', host='127.0.0.1', "
         f"port={port}, log_level='warning', access_log=False)"],
        cwd=workdir,
    )  # fmt: skip
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            httpx.get(f"http://127.0.0.1:{port}/docs", timeout=1.0)
            return process
        except httpx.TransportError:
            time.sleep(0.05)  # waiting for the server to listen: nothing to wait on instead
    process.kill()
    raise RuntimeError("the bare app did not start")


def main() -> None:
    """Measure both, print and write the figures."""
    import tempfile

    from service.rawcelery import RawCelery

    from tests.harness.stack import RedisServer, free_port

    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--samples", type=int, default=300)
    parser.add_argument("--warmup", type=int, default=30)
    parser.add_argument("--out", type=Path, default=Path(__file__).with_name("http_floor.json"))
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="qcb-http-floor-"))
    started_load = load()
    port = free_port()
    server = serve(workdir, port)
    redis = RedisServer(workdir)
    redis.start()
    raw = RawCelery(redis.url, workdir, workers=1)
    try:
        raw.start()
        body = trivial_job()
        batch = first_batch(body)
        raw.wait_ready(batch)
        http: list[float] = []
        celery: list[float] = []
        with httpx.Client(base_url=f"http://127.0.0.1:{port}") as client:
            for n in range(args.warmup + args.samples):
                h = one_job(client, body)
                got = raw.sample(batch)
                c = got["wall"] - got["run"]
                if n >= args.warmup:
                    http.append(h)
                    celery.append(c)
        figures = {
            "load_at_start": started_load,
            "samples": args.samples,
            "http_three_requests_median_ms": round(1e3 * statistics.median(http), 2),
            "http_three_requests_p99_ms": round(1e3 * statistics.quantiles(http, n=100)[98], 2),
            "raw_celery_overhead_median_ms": round(1e3 * statistics.median(celery), 2),
            "sum_median_ms": round(
                1e3 * statistics.median(h + c for h, c in zip(http, celery, strict=True)), 2
            ),
        }
    finally:
        raw.stop()
        redis.stop()
        server.terminate()
        server.wait(10)
    args.out.write_text(json.dumps(figures, indent=2) + "\n")
    for key, value in figures.items():
        print(f"{key}: {value}")


if __name__ == "__main__":
    main()
