"""Capture golden records of a real Slurm: what its tools and its REST API answer about jobs
that ended in each state the broker must understand.

Run as root, with the project's venv, against a cluster that ``docker/slurm/start.sh``
started (standard library only)::

    docker/slurm/start.sh --release 24.11
    .venv/bin/python tests/data/slurm/capture.py --release 24.11

(``--run DIR`` names a run directory instead; without either, ``$QCB_SLURM_RUN`` or
``/tmp/qcb-slurm``.) It takes about a minute and a half, most of it waiting for a time
limit to expire. The records go to ``tests/data/slurm/<release>/`` (replacing what was
there):

- jobs that end as: pending (held; and with a begin time an hour ahead), running (sleep),
  completed (also on two nodes, with a step), failed (exit 3), cancelled (scancel of a
  running job), timeout (``--time=1``, then ``scontrol update EndTime=now``: Slurm enforces
  time limits every 30 s or so, so this ends within ~30 s instead of a minute or more),
  signalled (the batch shell kills itself with SIGKILL; and with SIGSEGV), node failure (a
  job alone on a node, ``--no-requeue``, the node set DOWN, then resumed);
- ``squeue --json`` (with ``--states=all`` and plain), ``sacct --json -j IDS`` (once
  slurmdbd holds the final states), ``sinfo --json``, ``scontrol show partition
  --oneliner``, ``scontrol show job --oneliner`` per job;
- over REST, for every OpenAPI version the release serves (the paths of ``/openapi/v3``):
  ping, each job, all jobs, partitions, nodes, slurmdbd's jobs (by the jobs' names) and
  each job there, and a submission (its request body and Slurm's answer, warnings and
  errors included); ``/openapi/v3`` itself (gzip'd when over 1 MB, as is any record);
- ``manifest.json``: each state's job id and record files, every file's command or URL and
  HTTP status, the release and the date.

Nothing is stripped, but the machine's hostname is replaced by ``HOSTNAME`` wherever it
appears as a whole word (the manifest counts the replacements). Jobs still pending or
running are cancelled at the end and the node is back in service.
"""

from __future__ import annotations

import argparse
import datetime
import gzip
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
FINAL = {
    "COMPLETED",
    "FAILED",
    "CANCELLED",
    "TIMEOUT",
    "NODE_FAIL",
    "OUT_OF_MEMORY",
    "BOOT_FAIL",
    "DEADLINE",
    "PREEMPTED",
}
GZIP_OVER = 1_000_000  # bytes


class Capture:
    """One capture run against one cluster."""

    def __init__(self, run: Path, out: Path) -> None:
        self.run = run
        self.out = out
        self.env = self._env_sh()
        self.release = self.env.get("QCB_SLURM_RELEASE", "22.05")
        self.url = self._yaml_value("slurmrest", "url")
        self.token = (run / "jwt.token").read_text().strip()
        self.manifest: dict[str, Any] = {"files": {}, "jobs": {}}
        self.host = socket.gethostname()
        self.replaced = 0
        self.ids: dict[str, str] = {}
        self.work = Path(tempfile.mkdtemp(prefix=f"qcb-golden-{self.release}-", dir="/tmp"))
        self.work.chmod(0o755)
        self.opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))

    # --- the cluster's files -------------------------------------------------------------
    def _env_sh(self) -> dict[str, str]:
        out = {}
        for line in (self.run / "env.sh").read_text().splitlines():
            m = re.match(r"export (\w+)=(\S*)", line)
            if m:
                out[m.group(1)] = m.group(2)
        return out

    def _yaml_value(self, section: str, key: str) -> str:
        """A value of backends.yaml, which start.sh writes as plain ``key: value`` lines."""
        current = ""
        for line in (self.run / "backends.yaml").read_text().splitlines():
            if line and not line.startswith((" ", "#")):
                current = line.rstrip(":")
            elif current == section and line.strip().startswith(f"{key}:"):
                return line.split(":", 1)[1].strip()
        raise SystemExit(f"no {section}.{key} in {self.run / 'backends.yaml'}")

    # --- tools ---------------------------------------------------------------------------
    def tool(self, *argv: str, check: bool = True) -> str:
        """Run one of this release's tools (start.sh's wrappers in $RUN/bin); its stdout."""
        wrapper = self.run / "bin" / argv[0]
        cmd = [str(wrapper), *argv[1:]] if wrapper.exists() else list(argv)
        env = {**os.environ, "SLURM_CONF": str(self.run / "slurm.conf")}
        done = subprocess.run(cmd, env=env, capture_output=True, text=True, cwd=self.work)
        if check and done.returncode:
            raise RuntimeError(f"{' '.join(argv)}: rc {done.returncode}: {done.stderr.strip()}")
        return done.stdout

    def submit(self, state: str, *options: str, wrap: str) -> str:
        name = f"qcb-golden-{state}"
        job = self.tool(
            "sbatch",
            "--parsable",
            f"--job-name={name}",
            "-D",
            str(self.work),
            "-o",
            f"{self.work}/{state}-%j.out",
            *options,
            "--wrap",
            wrap,
        )
        job_id = job.strip().split(";")[0]
        self.ids[state] = job_id
        self.manifest["jobs"][state] = {
            "job_id": job_id,
            "job_name": name,
            "sbatch": [*options, "--wrap", wrap],
            "files": [],
        }
        print(f"{state}: job {job_id}", file=sys.stderr)
        return job_id

    def state(self, job_id: str) -> str:
        out = self.tool("squeue", "-h", "-t", "all", "-j", job_id, "-o", "%T", check=False)
        return out.strip()

    def wait(self, job_id: str, states: set[str], timeout: float = 120) -> str:
        end = time.monotonic() + timeout
        while True:
            now = self.state(job_id)
            if now in states or time.monotonic() > end:
                return now
            time.sleep(0.3)

    # --- records -------------------------------------------------------------------------
    def scrub(self, data: bytes) -> bytes:
        """The hostname, as a whole word, replaced by HOSTNAME."""
        pattern = re.compile(rb"(?<![\w.-])" + re.escape(self.host.encode()) + rb"(?![\w-])")
        data, count = pattern.subn(b"HOSTNAME", data)
        self.replaced += count
        return data

    def save(self, name: str, data: bytes, source: dict[str, Any], *states: str) -> str:
        data = self.scrub(data)
        if len(data) > GZIP_OVER:
            data = gzip.compress(data, mtime=0)
            name += ".gz"
        path = self.out / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        self.manifest["files"][name] = source
        for state in states:
            self.manifest["jobs"][state]["files"].append(name)
        return name

    def record(self, name: str, *argv: str, states: tuple[str, ...] = ()) -> None:
        out = self.tool(*argv, check=False)
        self.save(name, out.encode(), {"command": list(argv)}, *states)

    def rest(self, method: str, path: str, body: Any = None) -> tuple[int, bytes]:
        request = urllib.request.Request(
            self.url + path,
            method=method,
            data=None if body is None else json.dumps(body).encode(),
            headers={
                "X-SLURM-USER-NAME": "root",
                "X-SLURM-USER-TOKEN": self.token,
                "Content-Type": "application/json",
                "Accept": "application/json",
            },
        )
        try:
            with self.opener.open(request, timeout=60) as answer:
                return int(answer.status), bytes(answer.read())
        except urllib.error.HTTPError as err:
            return int(err.code), bytes(err.read())

    def rest_record(self, name: str, path: str, *states: str) -> None:
        status, data = self.rest("GET", path)
        self.save(name, data, {"method": "GET", "path": path, "status": status}, *states)

    # --- the run ---------------------------------------------------------------------------
    def jobs(self) -> None:
        # The slow one first: a time limit, then brought forward to now.
        timeout_id = self.submit("timeout", "--time=1", wrap="sleep 600")
        node_fail_id = self.submit("node_fail", "--exclusive", "--no-requeue", wrap="sleep 600")
        running_id = self.submit("running", wrap="sleep 600")
        cancelled_id = self.submit("cancelled", wrap="sleep 600")
        self.submit("completed", wrap="echo done")
        self.submit("completed_2_nodes", "-N2", wrap="srun hostname")
        self.submit("failed", wrap="echo failing; exit 3")
        self.submit("signalled_kill", wrap="kill -KILL $$")
        self.submit("signalled_segv", wrap="kill -SEGV $$")
        self.submit("pending_held", "--hold", wrap="true")
        self.submit("pending_begin", "--begin=now+1hour", wrap="true")

        if self.wait(timeout_id, {"RUNNING"}) == "RUNNING":
            self.tool("scontrol", "update", f"jobid={timeout_id}", "EndTime=now")
        if self.wait(cancelled_id, {"RUNNING"}) == "RUNNING":
            self.tool("scancel", cancelled_id)
        self.wait(running_id, {"RUNNING"})
        if self.wait(node_fail_id, {"RUNNING"}) == "RUNNING":
            node = self.tool("squeue", "-h", "-j", node_fail_id, "-o", "%N").strip()
            self.manifest["jobs"]["node_fail"]["node"] = node
            self.tool("scontrol", "update", f"nodename={node}", "state=down", "reason=qcb-golden")
            self.wait(node_fail_id, FINAL, timeout=60)
            self.tool("scontrol", "update", f"nodename={node}", "state=resume")
        for state, job_id in self.ids.items():
            if not state.startswith(("pending", "running")):
                self.wait(job_id, FINAL, timeout=150)
        for state, job_id in self.ids.items():
            self.manifest["jobs"][state]["state_seen"] = self.state(job_id)

    def rest_versions(self) -> tuple[list[str], dict[str, Any]]:
        status, data = self.rest("GET", "/openapi/v3")
        self.save(
            "rest/openapi-v3.json", data, {"method": "GET", "path": "/openapi/v3", "status": status}
        )
        spec = json.loads(data)
        versions = sorted(
            {m.group(1) for p in spec["paths"] if (m := re.match(r"/slurm/(v[\d.]+)/", p))},
            key=lambda v: [int(x) for x in v[1:].split(".")],
        )
        return versions, spec

    def rest_submit(self, version: str) -> None:
        script = "#!/bin/sh\necho submitted over REST\n"
        job: dict[str, Any] = {
            "name": f"qcb-golden-rest-{version}",
            "current_working_directory": str(self.work),
            "standard_output": f"{self.work}/rest-{version}-%j.out",
        }
        if version == "v0.0.38":
            job["environment"] = {"PATH": "/usr/bin:/bin"}
            body: dict[str, Any] = {"script": script, "job": job}
        else:  # an array of NAME=value; the script inside the job
            job["environment"] = ["PATH=/usr/bin:/bin"]
            job["script"] = script
            body = {"job": job}
        path = f"/slurm/{version}/job/submit"
        self.save(
            f"rest/{version}/submit-request.json",
            json.dumps(body, indent=2).encode(),
            {"method": "POST", "path": path, "note": "the body sent"},
        )
        status, data = self.rest("POST", path, body)
        self.save(
            f"rest/{version}/submit-response.json",
            data,
            {"method": "POST", "path": path, "status": status},
        )
        try:
            answer = json.loads(data)
        except ValueError:
            answer = {}
        for key in ("warnings", "errors"):
            for item in answer.get(key) or []:
                print(f"REST {version} submit {key[:-1]}: {item}", file=sys.stderr)
        job_id = str(answer.get("job_id") or answer.get("result", {}).get("job_id") or "")
        if job_id:
            state = f"rest_submit_{version}"
            self.ids[state] = job_id
            self.manifest["jobs"][state] = {
                "job_id": job_id,
                "job_name": job["name"],
                "submitted": f"POST {path}",
                "files": [f"rest/{version}/submit-response.json"],
            }
            self.wait(job_id, FINAL, timeout=60)
            self.manifest["jobs"][state]["state_seen"] = self.state(job_id)

    def sacct_settled(self, timeout: float = 90) -> None:
        """Wait until slurmdbd has every job, each in the state the controller shows."""
        ids = ",".join(self.ids.values())
        want = {job_id: self.state(job_id) for job_id in self.ids.values()}
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            out = self.tool("sacct", "-n", "-X", "-P", "-j", ids, "-o", "JobID,State", check=False)
            seen = {}
            for line in out.splitlines():
                job_id, _, state = line.partition("|")
                seen[job_id] = state.split()[0] if state else ""
            if all(seen.get(j) == s for j, s in want.items()):
                return
            time.sleep(1)
        print(f"sacct did not settle: {want}", file=sys.stderr)

    def main(self) -> None:
        if self.out.exists():
            shutil.rmtree(self.out)
        self.out.mkdir(parents=True)
        started = datetime.datetime.now().astimezone()
        version = self.tool("sinfo", "--version").strip()
        try:
            self.jobs()
            versions, _ = self.rest_versions()
            for v in versions:
                self.rest_submit(v)
            self.sacct_settled()
            ids = ",".join(self.ids.values())
            states = tuple(s for s in self.ids if not s.startswith("rest_"))
            self.record(
                "squeue-states-all.json",
                "squeue",
                "--json",
                "--states=all",
                f"--jobs={ids}",
                states=states,
            )
            self.record("squeue.json", "squeue", "--json")
            self.record("sacct.json", "sacct", "--json", "-j", ids, states=states)
            self.record("sinfo.json", "sinfo", "--json")
            self.record(
                "scontrol-show-partition.txt", "scontrol", "show", "partition", "--oneliner"
            )
            for state, job_id in self.ids.items():
                self.record(
                    f"scontrol-show-job/{state}.txt",
                    "scontrol",
                    "show",
                    "job",
                    "--oneliner",
                    job_id,
                    states=(state,),
                )
            for v in versions:
                self.rest_record(f"rest/{v}/ping.json", f"/slurm/{v}/ping")
                self.rest_record(f"rest/{v}/jobs.json", f"/slurm/{v}/jobs", *states)
                self.rest_record(f"rest/{v}/partitions.json", f"/slurm/{v}/partitions")
                self.rest_record(f"rest/{v}/nodes.json", f"/slurm/{v}/nodes")
                # Encoded: slurmrestd answers "Unable to parse query" to a bare "," or ":".
                query = urllib.parse.urlencode(
                    {
                        "job_name": ",".join(f"qcb-golden-{s}" for s in states),
                        "start_time": started.strftime("%Y-%m-%dT%H:%M:%S"),
                    }
                )
                self.rest_record(
                    f"rest/{v}/slurmdb-jobs.json", f"/slurmdb/{v}/jobs?{query}", *states
                )
                for state in states:
                    job_id = self.ids[state]
                    self.rest_record(
                        f"rest/{v}/job-{state}.json", f"/slurm/{v}/job/{job_id}", state
                    )
                    self.rest_record(
                        f"rest/{v}/slurmdb-job-{state}.json", f"/slurmdb/{v}/job/{job_id}", state
                    )
            self.manifest["rest_versions"] = versions
        finally:
            self.cleanup()
        self.manifest = {
            "release": self.release,
            "version": version,
            "captured": started.isoformat(timespec="seconds"),
            "run_dir": str(self.run),
            "chroot": self.env.get("QCB_SLURM_CHROOT"),
            "hostname_replaced_by_HOSTNAME": self.replaced,
            **self.manifest,
        }
        (self.out / "manifest.json").write_text(json.dumps(self.manifest, indent=2) + "\n")
        size = sum(p.stat().st_size for p in self.out.rglob("*") if p.is_file())
        print(
            f"{self.out}: {len(self.manifest['files'])} records, {size / 1e6:.2f} MB",
            file=sys.stderr,
        )

    def cleanup(self) -> None:
        for state in ("pending_held", "pending_begin", "running", "timeout", "node_fail"):
            if state in self.ids:
                self.tool("scancel", self.ids[state], check=False)
        node = self.manifest["jobs"].get("node_fail", {}).get("node")
        if node:
            self.tool("scontrol", "update", f"nodename={node}", "state=resume", check=False)
        shutil.rmtree(self.work, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--release", help="22.05, 24.11 or 26.05 (its default run dir)")
    parser.add_argument("--run", type=Path, help="the cluster's run directory")
    parser.add_argument("--out", type=Path, help="default: tests/data/slurm/<release>")
    args = parser.parse_args()
    if args.run:
        run = args.run
    elif args.release:
        host = "/tmp/qcb-slurm"
        candidate = Path(f"{host}-{args.release}")
        run = candidate if candidate.exists() else Path(host)
    else:
        run = Path(os.environ.get("QCB_SLURM_RUN", "/tmp/qcb-slurm"))
    capture = Capture(run, Path("."))
    if args.release and capture.release != args.release:
        raise SystemExit(f"{run} runs Slurm {capture.release}, not {args.release}")
    capture.out = args.out or HERE / capture.release
    capture.main()


if __name__ == "__main__":
    main()
