"""Fuzzing: random valid policies and random traces never crash the replay (or the
engine); a malformed trace always gives a TraceError that names its line."""

from __future__ import annotations

import json
import math
import random
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from policies.engine import Engine, PendingTasks
from policies.schema import Policy
from policies.simreport import SimReport, compare, format_comparison, format_report
from policies.simulate import CycleView, simulate
from policies.trace import Job, Task, Trace, TraceError, TraceHeader, job_json

T0 = 1_767_225_600.0  # 2026-01-01
POOL = {
    "aer": ["shots", "evaluations"],
    "ibm": ["qpu_seconds"],
    "braket": ["shots", "credits"],
    "slurm": ["node_hours", "core_hours"],
}
CLASSICAL = {"slurm"}


def random_policy(rng: random.Random) -> dict[str, Any]:
    """A policy that passes every cross-check."""
    backends = rng.sample(sorted(POOL), rng.randint(1, len(POOL)))
    domains: dict[str, Any] = {"open": {"backends": ["*"]}}
    if rng.random() < 0.6:
        domains["controlled"] = {"backends": rng.sample(backends, rng.randint(1, len(backends)))}
    qos = {f"q{i}": {"priority": rng.choice([0, 10, 100])} for i in range(rng.randint(1, 3))}
    if rng.random() < 0.3:
        qos["q0"]["max_running_jobs"] = rng.randint(1, 3)
    programs = {f"g{i}": rng.choice([1, 2, 5]) for i in range(rng.randint(0, 3))}
    bands = sorted(rng.sample([100, 110, 125, 140], rng.randint(0, 3)))
    overrun: dict[str, Any] = {
        "bands": [
            {"above_pct": b, "age_penalty": rng.choice([0, "1h", "30d"])}
            | ({"max_running_jobs": rng.randint(1, 2)} if rng.random() < 0.3 else {})
            for b in bands
        ]
    }
    if rng.random() < 0.5:
        overrun["hard_stop_pct"] = rng.choice([150, 200])
    proposals = []
    for i in range(rng.randint(1, 6)):
        domain = rng.choice(sorted(domains))
        allowed = backends if domain == "open" else domains[domain]["backends"]
        budgets = []
        for b in rng.sample(allowed, rng.randint(0, len(allowed))):
            period = rng.choice(["allocation_year", "quarter", "month", "rolling"])
            budgets.append(
                {
                    "backend": b,
                    "unit": rng.choice(POOL[b]),
                    "amount": rng.choice([0, 5, 50, 500, 1e6]),
                    "period": period,
                    "enforcement": rng.choice(["hard", "soft"]),
                }
                | ({"window": rng.choice(["1h", "7d"])} if period == "rolling" else {})
            )
        proposals.append(
            {
                "id": f"p{i}",
                "pi": f"u{i}",
                "members": [f"u{i}", f"v{i}"] if rng.random() < 0.8 else ["*"],
                "program": rng.choice(sorted(programs)) if programs else "default",
                "security_domain": domain,
                "shares": rng.choice([0.5, 1, 3]),
                "committee_score": rng.random(),
                "allowed_qos": rng.sample(sorted(qos), rng.randint(0, len(qos))),
                "start": rng.choice([None, "2026-01-01", "2026-01-02"]),
                "expires": rng.choice([None, "2026-12-31", "2026-01-02"]),
                "budgets": budgets,
            }
        )
    weights = {
        k: rng.choice([0, 1, 1000, 10**5])
        for k in ("age", "fairshare", "score", "qos", "size", "hybrid")
    }
    return {
        "apiVersion": "qcbroker/v1",
        "kind": "Policy",
        "metadata": {"name": "fuzz"},
        "effective": {"from": "2026-01-01", "to": "2026-12-31"},
        "backends": {
            b: {"units": POOL[b], "charge_factor": rng.choice([1, 2.5])} for b in backends
        },
        "security_domains": domains,
        "qos": qos,
        "priority": {
            "weights": weights,
            "max_age": rng.choice([60, "1d"]),
            "favor": rng.choice(["small", "large"]),
        },
        "fairshare": {"half_life": rng.choice([30, "1h", "7d"]), "programs": programs},
        "overrun": overrun,
        "checkpoints": [{"date": "2026-01-01", "if_used_below_pct": 50, "remove_pct_of_unused": 10}]
        if rng.random() < 0.2
        else [],
        "proposals": proposals,
    }


def random_trace(rng: random.Random, policy: Policy) -> Trace:
    names = sorted(policy.backends)
    if rng.random() < 0.3:
        names.append("elsewhere")  # a backend the policy does not know
    header = TraceHeader(
        format="qcbroker-trace",
        version=1,
        backends={b: rng.randint(1, 3) for b in names},
        start=T0,
    )
    jobs = []
    t = T0
    for i in range(rng.randint(0, 14)):
        t += rng.choice([0.0, 0.0, 1.0, 30.0, 3600.0, rng.random() * 100])
        p = rng.randrange(len(policy.proposals) + 1)
        qos_names = [*policy.qos, "nope"]
        steps = []
        for _ in range(rng.randint(1, 4)):
            step = []
            for _ in range(rng.randint(1, 3)):
                b = rng.choice(names)
                unit = rng.choice(POOL.get(b, ["shots"]))
                step.append(
                    Task(
                        b,
                        "classical" if b in CLASSICAL else "quantum",
                        rng.choice([0.0, 1.0, 5.0, rng.random() * 50]),
                        float(rng.choice([1, 2, 8])),
                        {unit: rng.choice([0.0, 1.0, 40.0])},
                    )
                )
            steps.append(tuple(step))
        needs = tuple(
            (task.backend, unit, amount * rng.choice([0.5, 1.0, 3.0]))
            for step in steps
            for task in step
            for unit, amount in task.usage.items()
            if rng.random() < 0.8
        )
        jobs.append(
            Job(
                f"j{i}",
                f"p{p}",
                rng.choice([f"u{p}", f"v{p}", "stranger"]),
                rng.choice([None, *qos_names]),
                t,
                needs,
                tuple(steps),
            )
        )
    return Trace.from_jobs(header, jobs)


def check_report(report: SimReport, trace: Trace) -> None:
    jobs = list(trace.jobs())
    assert report.jobs == len(jobs)
    total = sum(sum(len(s) for s in j.steps) for j in jobs)
    assert 0 <= report.tasks <= total
    for r in report.proposals.values():
        assert r.jobs_admitted + r.jobs_refused == r.jobs_submitted
        assert r.tasks_left >= 0
        assert all(0.0 <= s <= 1.0 + 1e-9 for s in r.share.values())
        assert math.isnan(r.wait_mean) or r.wait_mean >= 0
    for b, u in report.utilization.items():
        assert 0.0 <= u <= 1.0 + 1e-6, (b, u)  # spans are differences of epoch floats
    format_report(report)


@settings(max_examples=1200, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.integers(0, 2**32 - 1))
def test_random_policies_and_traces_always_give_a_report(seed: int) -> None:
    rng = random.Random(seed)
    policy = Policy.model_validate(random_policy(rng))
    assert policy.cross_check() == []
    trace = random_trace(rng, policy)
    engine = Engine(policy)
    checks = {"n": 0}

    def cycle(view: CycleView) -> None:
        if checks["n"] < 3:  # the engine on the same state: never a crash, same limits
            checks["n"] += 1
            released = engine.cycle(
                PendingTasks.from_rows(view.pending),
                view.free,
                view.usage,
                view.now,
                penalties=view.penalties,
                blocked=view.blocked,
            )
            assert len(released) <= sum(view.free.values())

    report = simulate(policy, trace, on_cycle=cycle, standing_every=rng.choice([0.0, 300.0]))
    check_report(report, trace)
    format_comparison(compare(report, report))


def _mutate(rng: random.Random, lines: list[str]) -> list[str]:
    lines = list(lines)
    i = rng.randrange(len(lines))
    kind = rng.randrange(9)
    text = lines[i]
    if kind == 0 and text:
        k = rng.randrange(len(text))
        lines[i] = text[:k] + text[k + 1 :]
    elif kind == 1:
        k = rng.randrange(len(text) + 1)
        lines[i] = text[:k] + rng.choice(['"', "}", "]", ",", "x", "-1", "null", " "]) + text[k:]
    elif kind == 2 and len(lines) > 2:
        j = rng.randrange(1, len(lines))
        lines[i], lines[j] = lines[j], lines[i]
    elif kind == 3:
        lines.insert(i, lines[i])
    elif kind == 4:
        lines[i] = text[: rng.randrange(len(text) + 1)]
    else:
        try:
            obj = json.loads(text)
        except json.JSONDecodeError:
            return lines
        lines[i] = json.dumps(_mutate_value(rng, obj, kind))
    return lines


def _mutate_value(rng: random.Random, obj: Any, kind: int) -> Any:
    if isinstance(obj, dict) and obj:
        key = rng.choice(sorted(obj))
        if kind == 5:
            del obj[key]
            return obj
        if kind == 6:
            obj[key + "x"] = 1
            return obj
        obj[key] = _mutate_value(rng, obj[key], kind)
        return obj
    if isinstance(obj, list) and obj:
        k = rng.randrange(len(obj))
        obj[k] = _mutate_value(rng, obj[k], kind)
        return obj
    return rng.choice(["7", -3, None, True, 1e400, [], {}, "", 0, "qpu"])


@settings(max_examples=1000, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.integers(0, 2**32 - 1))
def test_malformed_traces_give_a_trace_error_or_a_report(seed: int) -> None:
    rng = random.Random(seed)
    policy = Policy.model_validate(random_policy(rng))
    trace = random_trace(rng, policy)
    lines = [json.dumps(trace.header.model_dump(exclude_defaults=True))]
    lines += [json.dumps(job_json(j)) for j in trace.jobs()]
    for _ in range(rng.randint(1, 3)):
        lines = _mutate(rng, lines)
    text = "\n".join(lines)
    try:
        parsed = Trace.parse(text, "fuzz.jsonl")
    except TraceError as exc:
        assert 1 <= exc.line <= len(lines) + 1
        assert str(exc).startswith(f"fuzz.jsonl, line {exc.line}: ") and exc.problems
        return
    check_report(simulate(policy, parsed), parsed)
