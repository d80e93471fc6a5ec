from __future__ import annotations

import json
import math

import numpy as np
import pytest

from broker.algorithms import optimizers


def f(x: list[float]) -> float:
    # Sinusoidal in each parameter, as energies of rotation-gate ansatze are.
    return float(sum(math.cos(v) for v in x))


def run(opt: optimizers.Optimizer, stop_after: int | None = None) -> optimizers.Optimizer:
    steps = 0
    while not opt.done and (stop_after is None or steps < stop_after):
        opt.tell([f(p) for p in opt.ask()])
        steps += 1
    return opt


@pytest.mark.parametrize(
    "options",
    [optimizers.AdamOptions(maxiter=500), optimizers.SPSAOptions(maxiter=600, a=0.6)],
)
def test_minimizes_a_sinusoidal_function(options: optimizers.OptimizerOptions) -> None:
    opt = run(optimizers.start(options, [0.3, -0.2, 0.5], seed=3))
    assert opt.state["best_value"] == pytest.approx(-3.0, abs=1e-3)


def test_adam_asks_for_the_point_and_its_parameter_shifts() -> None:
    opt = optimizers.start(optimizers.AdamOptions(), [0.1, 0.2], seed=0)
    points = np.array(opt.ask())
    assert points.shape == (5, 2)
    assert np.allclose(points[1] - points[0], [math.pi / 2, 0])
    assert np.allclose(points[4] - points[0], [0, -math.pi / 2])


@pytest.mark.parametrize("options", [optimizers.AdamOptions(), optimizers.SPSAOptions()])
def test_resuming_from_json_state_is_identical(options: optimizers.OptimizerOptions) -> None:
    straight = run(optimizers.start(options, [0.3, -0.2], seed=9), stop_after=40)
    half = run(optimizers.start(options, [0.3, -0.2], seed=9), stop_after=20)
    resumed = optimizers.make(options, json.loads(json.dumps(half.state)))
    run(resumed, stop_after=20)
    assert resumed.state == straight.state
