"""The store exports its workload as a trace, and ``qcb policy simulate`` replays it under a
new revision, reporting what changes per proposal."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from broker.cli.main import cli
from broker.client import Client
from broker.config import DEFAULT_POLICY, Settings
from policies.trace import Trace
from tests.unit.broker.accounting.test_usage_explain import run_to_end, small_job


@pytest.fixture
def recorded(settings: Settings, tmp_path: Path) -> tuple[Client, Path]:
    client = Client(settings, autostart=False)
    for maxiter in (2, 3, 4):
        run_to_end(client, client.submit(small_job(maxiter)))
    trace = tmp_path / "week.jsonl"
    jobs, tasks = client.export_trace(trace)
    assert jobs == 3 and tasks > 3
    return client, trace


def test_the_trace_holds_each_finished_job_with_its_holds_steps_and_raw_usage(
    recorded: tuple[Client, Path],
) -> None:
    client, path = recorded
    trace = Trace.open(path)
    jobs = list(trace.jobs())
    assert len(jobs) == 3 and {j.proposal for j in jobs} == {"local"}
    assert trace.header.backends["aer"] >= 1
    for job in jobs:
        result = client.result(job.id)
        assert sum(len(step) for step in job.steps) == len(result.lineage.tasks)
        held = {(c.backend, c.unit): c.amount for c in result.charges if c.kind == "hold"}
        assert {(b, u): a for b, u, a in job.needs} == held
        charged = sum(
            c.amount for c in result.charges if c.kind == "charge" and c.unit == "evaluations"
        )
        assert sum(t.usage.get("evaluations", 0) for s in job.steps for t in s) == charged
        assert all(t.duration >= 0 and t.backend == "aer" for s in job.steps for t in s)


def test_simulate_reports_jobs_a_new_revision_would_refuse(
    recorded: tuple[Client, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    client, path = recorded
    needs = sorted(a for j in Trace.open(path).jobs() for b, u, a in j.needs if u == "evaluations")
    tight = tmp_path / "tight.yaml"
    tight.write_text(
        DEFAULT_POLICY.read_text().replace(
            "{backend: aer, unit: evaluations, amount: 10000000}",
            f"{{backend: aer, unit: evaluations, amount: {needs[0]}}}",
        )
    )
    monkeypatch.setenv("QCB_HOME", str(client.settings.home))
    runner = CliRunner()
    out = runner.invoke(cli, ["policy", "simulate", str(tight), "--trace", str(path), "--json"])
    assert out.exit_code == 0, out.output
    report = json.loads(out.output)
    local = next(d for d in report["deltas"] if d["proposal"] == "local")
    assert report["old"]["proposals"]["local"]["jobs_refused"] == 0
    assert report["new"]["proposals"]["local"]["jobs_refused"] >= 1
    assert len(local["newly_refused"]) == report["new"]["proposals"]["local"]["jobs_refused"]
    text = runner.invoke(cli, ["policy", "simulate", str(tight), "--trace", str(path)])
    assert text.exit_code == 0 and "local" in text.output
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"format": "qcbroker-trace", "version": 1}\n')
    out = runner.invoke(cli, ["policy", "simulate", str(tight), "--trace", str(bad)])
    assert out.exit_code == 2 and "line 1" in out.output and "Traceback" not in out.output


def test_the_trace_command_writes_the_file(
    recorded: tuple[Client, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    client, _ = recorded
    monkeypatch.setenv("QCB_HOME", str(client.settings.home))
    out_file = tmp_path / "t.jsonl.gz"
    out = CliRunner().invoke(cli, ["policy", "trace", "--out", str(out_file)])
    assert out.exit_code == 0 and "3 jobs" in out.output
    assert len(list(Trace.open(out_file).jobs())) == 3
