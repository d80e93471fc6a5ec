"""Replays: fair shares come out as awarded, decay gives back priority as predicted, the
group-head replay orders exactly as Engine.cycle, traces are checked line by line, and
admission, holds, limits and stops behave as in the broker."""

from __future__ import annotations

import math
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest

from policies.engine import Engine, PendingTasks
from policies.schema import Policy
from policies.simreport import compare, format_comparison, format_report
from policies.simulate import CycleView, simulate
from policies.synthetic import Shape, policy_data, synthetic_trace
from policies.trace import Job, Task, Trace, TraceError, TraceHeader, check_trace, write_trace

T0 = 1_767_225_600.0


def make_policy(proposals: list[dict[str, Any]], **extra: Any) -> Policy:
    data: dict[str, Any] = {
        "apiVersion": "qcbroker/v1",
        "kind": "Policy",
        "metadata": {"name": "sim"},
        "backends": {"qpu": {"units": ["qpu_seconds"]}, "hpc": {"units": ["node_hours"]}},
        "proposals": [
            {
                "pi": p["id"].lower(),
                "members": [p["id"].lower()],
                "budgets": [{"backend": "qpu", "unit": "qpu_seconds", "amount": 1e9}],
                **p,
            }
            for p in proposals
        ],
    }
    return Policy.model_validate({**data, **extra})


def task(duration: float = 10.0, backend: str = "qpu") -> Task:
    return Task(backend, "quantum", duration, 1.0, {"qpu_seconds": duration})


def job(
    jid: str, proposal: str, at: float, steps: int = 1, duration: float = 10.0, **kw: Any
) -> Job:
    return Job(
        jid,
        proposal,
        kw.get("user", proposal.lower()),
        kw.get("qos"),
        at,
        tuple(kw.get("needs", ())),
        tuple((task(duration),) for _ in range(steps)),
    )


def trace(jobs: Iterable[Job], capacity: int = 1, **header: Any) -> Trace:
    head = TraceHeader(
        format="qcbroker-trace", version=1, backends={"qpu": capacity}, start=T0, **header
    )
    return Trace.from_jobs(head, jobs)


def test_two_to_one_shares_give_two_to_one_busy_time() -> None:
    policy = make_policy([{"id": "A", "shares": 2}, {"id": "B", "shares": 1}])
    jobs = [job(f"{p}{i}", p, T0) for i in range(2000) for p in ("A", "B")]
    report = simulate(policy, trace(jobs), until=T0 + 1500 * 10.0 - 1)
    a, b = report.proposals["A"], report.proposals["B"]
    assert a.tasks_run + b.tasks_run >= 1000
    assert a.busy["qpu"] / b.busy["qpu"] == pytest.approx(2.0, rel=0.05)
    assert a.share["qpu"] == pytest.approx(2 / 3, rel=0.05)


def _advantage(half_life: float, solo: float, d: float) -> tuple[float, float, float]:
    """B alone on the backend for ``solo`` seconds, then A comes back: how long A keeps
    the backend (simulated), the prediction from the same discrete completions, and the
    continuous closed form."""
    policy = make_policy([{"id": "A"}, {"id": "B"}], fairshare={"half_life": half_life})
    n = int(3 * solo / d)
    jobs = [job(f"b{i}", "B", T0, duration=d) for i in range(n)]
    jobs += [job(f"a{i}", "A", T0 + solo, duration=d) for i in range(n)]
    first_b_after: list[float] = []

    def seen(view: CycleView) -> None:
        b_released = any(t.startswith("b") for t in view.released.get("qpu", []))
        if view.now >= T0 + solo and not first_b_after and b_released:
            first_b_after.append(view.now)

    simulate(policy, trace(jobs), on_cycle=seen, until=T0 + 2 * solo)
    simulated = first_b_after[0] - (T0 + solo)
    u_b = sum(d * 2 ** (-(solo - k * d) / half_life) for k in range(1, int(solo / d) + 1))
    j = 0
    u_a = 0.0
    while u_a <= u_b:  # A wins while its usage is not above B's (a tie goes to "A" by name)
        j += 1
        u_a = u_a * 2 ** (-d / half_life) + d
        u_b *= 2 ** (-d / half_life)
    u_b0 = (half_life / math.log(2)) * (1 - 2 ** (-solo / half_life))
    closed = half_life * math.log2(1 + u_b0 * math.log(2) / half_life)
    return simulated, j * d, closed


def test_decay_gives_a_returning_proposal_the_lead_for_as_long_as_predicted() -> None:
    simulated, predicted, closed = _advantage(3600.0, 4 * 3600.0, 60.0)
    assert simulated == predicted
    assert simulated == pytest.approx(closed, abs=2 * 60.0)
    longer, predicted2, closed2 = _advantage(7200.0, 4 * 3600.0, 60.0)
    assert longer == predicted2 and longer == pytest.approx(closed2, abs=2 * 60.0)
    assert longer > simulated + 1000


def _tight(shape: Shape, seed: int) -> Policy:
    data = policy_data(shape, seed)
    for p in data["proposals"]:
        for b in p["budgets"]:
            if b["amount"] < 1e6:
                b["amount"] /= 20
    if seed % 2:  # the classical backends' own sizes for the size factor, not the queue's
        for name, backend in data["backends"].items():
            if name.startswith("hpc"):
                backend["size"] = 6
    return Policy.model_validate(data)


@pytest.mark.parametrize("seed", [0, 1])
def test_group_head_replay_orders_exactly_as_engine_cycle(seed: int) -> None:
    shape = Shape(
        proposals=14, quantum=2, classical=2, capacity=3, programs=3, soft_every=3, hard_every=5
    )
    policy = _tight(shape, seed)
    engine = Engine(policy)
    checked = {"cycles": 0, "penalised": 0}

    def check(view: CycleView) -> None:
        pending = PendingTasks.from_rows(view.pending)
        released = engine.cycle(
            pending, view.free, view.usage, view.now, penalties=view.penalties, blocked=view.blocked
        )
        by_backend: dict[str, list[str]] = {}
        for r in released:
            by_backend.setdefault(r.backend, []).append(r.task_id)
        assert by_backend == {b: ids for b, ids in view.released.items() if ids}
        checked["cycles"] += 1
        checked["penalised"] += bool(view.penalties)

    report = simulate(
        policy, synthetic_trace(shape, 1500, load=1.4, seed=seed), on_cycle=check, standing_every=0
    )
    assert checked["cycles"] > 500 and checked["penalised"] > 0
    assert report.tasks > 1000


def test_trace_round_trip_and_streaming(tmp_path: Path) -> None:
    jobs = [
        job("j1", "A", T0, steps=2),
        job("j2", "B", T0 + 5, qos="normal", needs=[("qpu", "qpu_seconds", 30.0)]),
    ]
    for name in ("t.jsonl", "t.jsonl.gz"):
        path = tmp_path / name
        head = TraceHeader(format="qcbroker-trace", version=1, backends={"qpu": 2}, start=T0)
        assert write_trace(path, head, jobs) == 3
        opened = Trace.open(path)
        assert opened.header == head
        assert [j._replace(line=0) for j in opened.jobs()] == jobs
        assert check_trace(path) == (2, 3)


HEADER = '{"format": "qcbroker-trace", "version": 1, "backends": {"qpu": 1}, "start": 100}'
GOOD = (
    '{"id": "j%d", "proposal": "A", "user": "a", "submitted": %s, '
    '"steps": [[{"backend": "qpu", "kind": "quantum", "duration": 5}]]}'
)


@pytest.mark.parametrize(
    ("lines", "line", "message"),
    [
        ([], 1, "the trace is empty"),
        (['{"format": "csv"}'], 1, "first line must be the header"),
        (['{"format": "qcbroker-trace", "version": 2, "backends": {}, "start": 0}'], 1, "version"),
        ([HEADER, GOOD % (1, 100), "{not json"], 3, "not valid JSON"),
        (
            [HEADER, '{"id": "j", "proposal": "A", "user": "a", "submitted": 100}'],
            2,
            "steps: Field required",
        ),
        (
            [HEADER, (GOOD % (1, 100)).replace('"duration": 5', '"duration": -5')],
            2,
            "steps[0][0].duration: Input should be greater than or equal to 0",
        ),
        (
            [HEADER, (GOOD % (1, 100)).replace('"kind"', '"colour": 1, "kind"')],
            2,
            "steps[0][0].colour: Extra inputs are not permitted",
        ),
        (
            [HEADER, (GOOD % (1, 100)).replace('"qpu", "kind"', '"ibm", "kind"')],
            2,
            "'ibm' is not a backend of the trace's header; it has: qpu",
        ),
        ([HEADER, GOOD % (1, 200), GOOD % (2, 150)], 3, "jobs must be in order of submission"),
        ([HEADER, GOOD % (1, 50)], 2, "before the trace's start"),
        ([HEADER, GOOD % (1, 100), GOOD % (1, 100)], 3, "job 'j1' appears twice"),
        (
            [HEADER, (GOOD % (1, 100)).replace('"duration": 5', '"duration": true')],
            2,
            "valid number",
        ),
    ],
)
def test_a_broken_trace_names_its_line(lines: list[str], line: int, message: str) -> None:
    with pytest.raises(TraceError) as info:
        Trace.parse("\n".join(lines), "t.jsonl")
    assert info.value.line == line
    assert message in str(info.value)
    assert str(info.value).startswith(f"t.jsonl, line {line}: ")


def test_admission_refusals_are_counted_and_holds_come_back() -> None:
    policy = make_policy(
        [
            {"id": "A", "budgets": [{"backend": "qpu", "unit": "qpu_seconds", "amount": 100}]},
            {"id": "B", "security_domain": "locked"},
        ],
        security_domains={"open": {"backends": ["*"]}, "locked": {"backends": ["hpc"]}},
    )
    need = [("qpu", "qpu_seconds", 60.0)]
    jobs = [
        job("a1", "A", T0, needs=need),  # holds 60
        job("a2", "A", T0, needs=need),  # 60 + 60 > 100: refused
        job("a3", "A", T0 + 100, needs=need),  # a1 ended (used 10): 10 + 60 fits
        job("x", "A", T0 + 100, user="mallory"),
        job("g", "GHOST", T0 + 100),
        job("b", "B", T0 + 100),
    ]
    report = simulate(policy, trace(jobs))
    a = report.proposals["A"]
    assert (a.jobs_submitted, a.jobs_admitted, a.jobs_completed) == (4, 2, 2)
    assert a.refused_reasons == {"budget exhausted": 1, "user not a member": 1}
    assert set(a.refused_jobs) == {"a2", "x"}
    assert report.proposals["GHOST"].refused_reasons == {"unknown proposal": 1}
    assert report.proposals["B"].refused_reasons == {"security domain": 1}
    text = format_report(report)
    assert "budget exhausted x1" in text and "GHOST" in text


def test_compare_shows_share_wait_and_newly_refused() -> None:
    jobs = [
        job(f"{p}{i}", p, T0, needs=[("qpu", "qpu_seconds", 10.0)]) for i in range(50) for p in "AB"
    ]
    even = make_policy([{"id": "A"}, {"id": "B"}])
    tilted = make_policy(
        [
            {"id": "A", "shares": 4},
            {"id": "B", "budgets": [{"backend": "qpu", "unit": "qpu_seconds", "amount": 300}]},
        ]
    )
    old = simulate(even, trace(jobs), until=T0 + 400)
    new = simulate(tilted, trace(jobs), until=T0 + 400)
    deltas = {d.proposal: d for d in compare(old, new)}
    assert deltas["A"].share_change()["qpu"] > 0.2
    assert deltas["B"].share_change()["qpu"] < -0.2
    assert len(deltas["B"].newly_refused) == 20 and deltas["A"].newly_refused == ()
    assert math.isfinite(deltas["B"].wait_mean_new - deltas["B"].wait_mean_old)
    table = format_comparison(list(deltas.values()), "v1", "v2")
    assert table.startswith("v1 -> v2") and "qpu +" in table and "newly refused" in table
    assert new.to_json()["proposals"]["B"]["refused_jobs"][0] == "B30"


def test_qos_max_running_jobs_keeps_new_jobs_waiting() -> None:
    jobs = [job(f"a{i}", "A", T0, steps=2, qos="one") for i in range(4)]
    limited = make_policy(
        [{"id": "A", "allowed_qos": ["one"]}], qos={"one": {"max_running_jobs": 1}}
    )
    free = make_policy([{"id": "A", "allowed_qos": ["one"]}], qos={"one": {}})
    assert simulate(limited, trace(jobs, capacity=4)).end == T0 + 4 * 20.0
    assert simulate(free, trace(jobs, capacity=4)).end == T0 + 20.0


def test_hard_stop_blocks_a_proposal_and_bands_set_it_back() -> None:
    soft = [{"backend": "qpu", "unit": "qpu_seconds", "amount": 100, "enforcement": "soft"}]
    policy = make_policy(
        [{"id": "A", "budgets": soft}, {"id": "B"}],
        overrun={"bands": [{"above_pct": 100, "age_penalty": "30d"}], "hard_stop_pct": 150},
    )
    jobs = [job("a", "A", T0, steps=5, duration=40.0, needs=[("qpu", "qpu_seconds", 100.0)])]
    penalised: list[float] = []
    report = simulate(
        policy,
        trace(jobs),
        standing_every=0,
        on_cycle=lambda v: penalised.append(v.penalties.get("A", 0.0)),
    )
    a = report.proposals["A"]
    # 40, 80, 120 (set back 30 days: above 100 %), 160 (stopped: 150 % and more)
    assert (a.tasks_run, a.tasks_left, a.jobs_completed) == (4, 1, 0)
    assert 30 * 86400.0 in penalised
