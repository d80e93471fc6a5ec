"""Write ``qcup_sample.jsonl``: a busy day and a half of QPU work under the QCUP example.

A sample workload for ``qcb policy simulate`` (the README runs it): each proposal's members
submit hybrid jobs of 2 to 6 steps, each step one IBM task of 20 to 120 QPU seconds and a
simulator or classical task beside it. Seeded, so the file is the same on every run:
``python examples/traces/make_qcup_sample.py``.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime
from pathlib import Path

from policies.trace import Job, Task, TraceHeader, write_trace

MEMBERS = {
    "QCUP-0412": (["nbauer", "omensah", "tlee"], "aer", "evaluations"),
    "QCUP-0437": (["sfischer", "gpark"], "braket", "shots"),
    "QCUP-0450": (["rhernandez", "ajones", "mwu", "fsilva"], "lightning", "evaluations"),
    "QCUP-0463": (["kowens", "dli"], "aer", "evaluations"),
    "STAFF-QC": (["jdoe", "asmith"], "ionq", "shots"),
}
RATE = {"QCUP-0412": 80, "QCUP-0437": 60, "QCUP-0450": 80, "QCUP-0463": 40, "STAFF-QC": 30}


def jobs(seed: int = 7) -> list[Job]:
    """The sample jobs, in order of submission."""
    rng = random.Random(seed)
    start = datetime(2026, 5, 4, tzinfo=UTC).timestamp()
    out = []
    for proposal, (users, sim, unit) in MEMBERS.items():
        for n in range(RATE[proposal]):
            steps = []
            qpu = 0.0
            for _ in range(rng.randint(2, 6)):
                seconds = rng.uniform(20, 120)
                qpu += seconds
                steps.append(
                    (
                        Task("ibm", "quantum", seconds, 1.0, {"qpu_seconds": seconds}),
                        Task(sim, "quantum", rng.uniform(1, 10), 1.0, {unit: 4000.0}),
                    )
                )
            out.append(
                Job(
                    id=f"{proposal}-{n}",
                    proposal=proposal,
                    user=rng.choice(users),
                    qos=None,
                    submitted=start + rng.uniform(0, 1.5 * 86400),
                    needs=(("ibm", "qpu_seconds", round(qpu * 1.2, 1)),),
                    steps=tuple(steps),
                )
            )
    return sorted(out, key=lambda j: j.submitted)


def main() -> None:
    """Write the sample next to this script."""
    header = TraceHeader(
        format="qcbroker-trace",
        version=1,
        backends={"ibm": 1, "aer": 4, "braket": 2, "lightning": 4, "ionq": 1},
        start=datetime(2026, 5, 4, tzinfo=UTC).timestamp(),
        description="a busy day and a half of QPU work under the QCUP example (synthetic)",
    )
    path = Path(__file__).with_name("qcup_sample.jsonl")
    print(f"{path}: {write_trace(path, header, jobs())} tasks")


if __name__ == "__main__":
    main()
