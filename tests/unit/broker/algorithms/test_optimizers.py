from __future__ import annotations

import itertools
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


# --- Nelder-Mead -------------------------------------------------------------------------


def test_nelder_mead_minimizes_a_sinusoidal_function() -> None:
    opt = run(optimizers.start(optimizers.NelderMeadOptions(maxiter=500), [0.3, -0.2, 0.5], 3))
    assert opt.state["converged"]
    assert opt.state["best_value"] == pytest.approx(-3.0, abs=1e-6)
    assert np.allclose(np.abs(opt.state["best_x"]), math.pi, atol=1e-3)


def test_nelder_mead_matches_scipy_on_a_skewed_quadratic() -> None:
    from scipy.optimize import minimize

    def g(x: list[float]) -> float:
        return float((x[0] - 1) ** 2 + 10 * (x[1] + 0.5) ** 2 + x[0] * x[1])

    opt = optimizers.start(optimizers.NelderMeadOptions(xtol=1e-7, ftol=1e-12), [0.0, 0.0], 0)
    while not opt.done:
        opt.tell([g(p) for p in opt.ask()])
    reference = minimize(g, [0.0, 0.0], method="Nelder-Mead", options={"xatol": 1e-9})
    assert np.allclose(opt.state["best_x"], reference.x, atol=1e-5)


def test_nelder_mead_asks_the_simplex_then_four_candidates() -> None:
    options = optimizers.NelderMeadOptions(initial_step=0.5)
    opt = optimizers.start(options, [1.0, 2.0, 3.0], seed=0)
    simplex = np.array(opt.ask())
    assert np.allclose(simplex, [[1, 2, 3], [1.5, 2, 3], [1, 2.5, 3], [1, 2, 3.5]])
    values = [f(p) for p in simplex.tolist()]
    opt.tell(values)
    ranked = simplex[np.argsort(values)]
    centroid, worst = ranked[:-1].mean(axis=0), ranked[-1]
    d = centroid - worst
    expected = [centroid + d, centroid + 2 * d, centroid + 0.5 * d, centroid - 0.5 * d]
    assert np.allclose(opt.ask(), expected)  # reflection, expansion, both contractions
    assert optimizers.max_points_per_iteration(options, 3) == 4
    assert optimizers.max_points_per_iteration(options, 6) == 7


def test_nelder_mead_history_never_gets_worse() -> None:
    opt = run(optimizers.start(optimizers.NelderMeadOptions(maxiter=60), [2.0, -2.5], seed=1))
    history = opt.state["history"]
    assert len(history) == opt.state["iteration"] > 10
    assert all(b <= a for a, b in itertools.pairwise(history))


def test_nelder_mead_resumes_from_json_state_identically() -> None:
    options = optimizers.NelderMeadOptions()
    straight = run(optimizers.start(options, [0.3, -0.2, 1.0], seed=9), stop_after=40)
    half = run(optimizers.start(options, [0.3, -0.2, 1.0], seed=9), stop_after=20)
    resumed = optimizers.make(options, json.loads(json.dumps(half.state)))
    run(resumed, stop_after=20)
    assert resumed.state == straight.state
