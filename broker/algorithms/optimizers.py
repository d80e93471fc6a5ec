"""Ask/tell optimizers whose whole state is JSON, so a job can stop and resume anywhere.

``ask()`` returns the points to evaluate for one iteration (all of them go to the quantum
backend in one batch); ``tell(values)`` takes the energies at those points, in order.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from typing import Annotated, Any, ClassVar, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field


class _Options(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


class AdamOptions(_Options):
    """Adam on parameter-shift gradients: 2P+1 evaluations per iteration, exact gradients."""

    name: Literal["adam"] = Field(default="adam", description="adam")
    learning_rate: float = Field(default=0.1, gt=0, description="Step size.")
    maxiter: int = Field(default=300, ge=1, description="Most iterations.")
    gtol: float = Field(default=1e-5, gt=0, description="Stop when the gradient norm is below.")
    beta1: float = Field(
        default=0.9, ge=0, lt=1, description="Decay of the gradient's running mean."
    )
    beta2: float = Field(
        default=0.999, ge=0, lt=1, description="Decay of the squared gradient's mean."
    )


class SPSAOptions(_Options):
    """SPSA: 3 evaluations per iteration whatever the number of parameters; any ansatz."""

    name: Literal["spsa"] = Field(default="spsa", description="spsa")
    maxiter: int = Field(default=300, ge=1, description="Most iterations.")
    a: float = Field(default=0.2, gt=0, description="Step scale: a / (k + 1) ** alpha.")
    c: float = Field(default=0.1, gt=0, description="Perturbation scale: c / (k + 1) ** gamma.")
    alpha: float = Field(default=0.602, description="Decay exponent of the step.")
    gamma: float = Field(default=0.101, description="Decay exponent of the perturbation.")


class NelderMeadOptions(_Options):
    """Nelder-Mead on a simplex: derivative-free, for any ansatz (a parameter may appear in
    many gates, as QAOA's angles do). Each iteration asks every point it may need at once:
    the reflection, the expansion and both contractions (4 points), or after a shrink the
    P shrunk vertices; the first iteration asks the P+1 vertices of the initial simplex."""

    name: Literal["nelder-mead"] = Field(default="nelder-mead", description="nelder-mead")
    maxiter: int = Field(default=200, ge=1, description="Most iterations.")
    initial_step: float = Field(
        default=0.25, gt=0, description="Edge of the initial simplex along each parameter."
    )
    xtol: float = Field(
        default=1e-4, gt=0, description="Converged when every vertex is this close to the best"
    )
    ftol: float = Field(default=1e-7, gt=0, description="... and their values this close.")


OptimizerOptions = Annotated[AdamOptions | SPSAOptions, Field(discriminator="name")]
AnyOptimizerOptions = AdamOptions | SPSAOptions | NelderMeadOptions


class Optimizer(ABC):
    """An ask/tell minimizer. Subclasses keep every field of their state in ``self.state``."""

    needs_parameter_shift: ClassVar[bool] = False

    def __init__(self, options: Any, state: dict[str, Any]) -> None:
        self.options = options
        self.state = state

    @classmethod
    def start(cls, options: Any, x0: list[float], seed: int) -> Optimizer:
        """A fresh optimizer at ``x0``."""
        return cls(
            options,
            {
                "x": list(x0),
                "iteration": 0,
                "seed": seed,
                "best_x": list(x0),
                "best_value": math.inf,
                "history": [],
                "converged": False,
            },
        )

    @property
    def done(self) -> bool:
        """True when converged or out of iterations."""
        return bool(self.state["converged"]) or self.state["iteration"] >= self.options.maxiter

    @abstractmethod
    def ask(self) -> list[list[float]]:
        """The points to evaluate for the current iteration."""

    @abstractmethod
    def tell(self, values: list[float]) -> None:
        """Take the values at the asked points and move on one iteration."""

    def _record(self, x: list[float], value: float) -> None:
        self.state["history"].append(value)
        if value < self.state["best_value"]:
            self.state["best_value"] = value
            self.state["best_x"] = list(x)


class Adam(Optimizer):
    """Adam with gradients from the parameter-shift rule (shift pi/2)."""

    needs_parameter_shift = True

    def ask(self) -> list[list[float]]:
        """The current point, then +pi/2 and -pi/2 shifts of each parameter."""
        x = np.asarray(self.state["x"])
        points = [x]
        for i in range(len(x)):
            e = np.zeros_like(x)
            e[i] = math.pi / 2
            points += [x + e, x - e]
        return [p.tolist() for p in points]

    def tell(self, values: list[float]) -> None:
        """One Adam step from the value and gradient at the current point."""
        opt: AdamOptions = self.options
        x = np.asarray(self.state["x"])
        self._record(x.tolist(), values[0])
        grad = np.array([(values[1 + 2 * i] - values[2 + 2 * i]) / 2 for i in range(len(x))])
        t = self.state["iteration"] + 1
        m = opt.beta1 * np.asarray(self.state.get("m", np.zeros_like(x))) + (1 - opt.beta1) * grad
        v = (
            opt.beta2 * np.asarray(self.state.get("v", np.zeros_like(x)))
            + (1 - opt.beta2) * grad**2
        )
        m_hat = m / (1 - opt.beta1**t)
        v_hat = v / (1 - opt.beta2**t)
        x = x - opt.learning_rate * m_hat / (np.sqrt(v_hat) + 1e-8)
        self.state.update(
            x=x.tolist(),
            m=m.tolist(),
            v=v.tolist(),
            iteration=t,
            grad_norm=float(np.linalg.norm(grad)),
            converged=bool(np.linalg.norm(grad) < opt.gtol),
        )


class SPSA(Optimizer):
    """Simultaneous perturbation stochastic approximation (Spall's gains)."""

    def _delta(self) -> tuple[np.ndarray, float]:
        opt: SPSAOptions = self.options
        k = self.state["iteration"]
        rng = np.random.default_rng([self.state["seed"], k])
        delta = rng.choice([-1.0, 1.0], size=len(self.state["x"]))
        return delta, opt.c / (k + 1) ** opt.gamma

    def ask(self) -> list[list[float]]:
        """The current point and its two simultaneous perturbations."""
        x = np.asarray(self.state["x"])
        delta, ck = self._delta()
        return [x.tolist(), (x + ck * delta).tolist(), (x - ck * delta).tolist()]

    def tell(self, values: list[float]) -> None:
        """One SPSA step."""
        opt: SPSAOptions = self.options
        x = np.asarray(self.state["x"])
        self._record(x.tolist(), values[0])
        delta, ck = self._delta()
        k = self.state["iteration"]
        ak = opt.a / (k + 1 + 0.1 * opt.maxiter) ** opt.alpha
        grad = (values[1] - values[2]) / (2 * ck) * delta
        self.state.update(x=(x - ak * grad).tolist(), iteration=k + 1)


class NelderMead(Optimizer):
    """Nelder-Mead (reflection 1, expansion 2, contractions 1/2, shrink 1/2), with every
    candidate point of an iteration evaluated in one batch.

    Extra state: ``simplex`` and ``values`` (the vertices, best first once sorted), and
    ``phase``: ``"init"`` (evaluate the initial simplex), ``"move"`` (reflect, expand or
    contract the worst vertex) or ``"shrink"`` (evaluate the vertices shrunk towards the
    best). History records the best value after each iteration.
    """

    @classmethod
    def start(cls, options: Any, x0: list[float], seed: int) -> Optimizer:
        """A fresh optimizer whose initial simplex is ``x0`` and a step along each axis."""
        opt = super().start(options, x0, seed)
        step = options.initial_step
        simplex = [list(x0)]
        for i in range(len(x0)):
            vertex = list(x0)
            vertex[i] += step
            simplex.append(vertex)
        opt.state.update(simplex=simplex, values=[], phase="init")
        return opt

    def _candidates(self) -> tuple[np.ndarray, np.ndarray]:
        """(centroid of all vertices but the worst, the worst vertex)."""
        simplex = np.asarray(self.state["simplex"])
        return simplex[:-1].mean(axis=0), simplex[-1]

    def ask(self) -> list[list[float]]:
        """The initial simplex, the four candidates of a move, or the shrunk vertices."""
        phase = self.state["phase"]
        if phase == "init":
            return [list(v) for v in self.state["simplex"]]
        simplex = np.asarray(self.state["simplex"])
        if phase == "shrink":
            best = simplex[0]
            return [(best + 0.5 * (v - best)).tolist() for v in simplex[1:]]
        centroid, worst = self._candidates()
        direction = centroid - worst
        return [
            (centroid + direction).tolist(),  # reflection
            (centroid + 2.0 * direction).tolist(),  # expansion
            (centroid + 0.5 * direction).tolist(),  # outside contraction
            (centroid - 0.5 * direction).tolist(),  # inside contraction
        ]

    def tell(self, values: list[float]) -> None:
        """Update the simplex from the values at the asked points."""
        phase = self.state["phase"]
        points = self.ask()
        simplex: list[list[float]] = [list(v) for v in self.state["simplex"]]
        fvals: list[float] = list(self.state["values"])
        if phase == "init":
            simplex, fvals = points, list(values)
            phase = "move"
        elif phase == "shrink":
            simplex = [simplex[0], *points]
            fvals = [fvals[0], *values]
            phase = "move"
        else:
            phase = self._move(simplex, fvals, points, values)
        order = sorted(range(len(fvals)), key=lambda i: fvals[i])
        simplex = [simplex[i] for i in order]
        fvals = [float(fvals[i]) for i in order]
        self._record(simplex[0], fvals[0])
        opt: NelderMeadOptions = self.options
        spread = float(np.max(np.abs(np.asarray(simplex[1:]) - np.asarray(simplex[0]))))
        converged = phase == "move" and spread <= opt.xtol and fvals[-1] - fvals[0] <= opt.ftol
        self.state.update(
            simplex=simplex,
            values=fvals,
            phase=phase,
            x=simplex[0],
            iteration=self.state["iteration"] + 1,
            converged=bool(converged),
        )

    @staticmethod
    def _move(
        simplex: list[list[float]],
        fvals: list[float],
        points: list[list[float]],
        values: list[float],
    ) -> str:
        """Replace the worst vertex in place as Nelder-Mead decides; the next phase."""
        f_reflect, f_expand, f_outside, f_inside = values
        reflect, expand, outside, inside = points
        best, second_worst, worst = fvals[0], fvals[-2], fvals[-1]
        if f_reflect < best:
            vertex, value = (expand, f_expand) if f_expand < f_reflect else (reflect, f_reflect)
        elif f_reflect < second_worst:
            vertex, value = reflect, f_reflect
        elif f_reflect < worst:
            if f_outside > f_reflect:
                return "shrink"
            vertex, value = outside, f_outside
        else:
            if f_inside >= worst:
                return "shrink"
            vertex, value = inside, f_inside
        simplex[-1], fvals[-1] = vertex, value
        return "move"


_KINDS: dict[str, type[Optimizer]] = {"adam": Adam, "spsa": SPSA, "nelder-mead": NelderMead}


def make(options: AnyOptimizerOptions, state: dict[str, Any]) -> Optimizer:
    """Rebuild an optimizer from its options and persisted state."""
    return _KINDS[options.name](options, state)


def start(options: AnyOptimizerOptions, x0: list[float], seed: int) -> Optimizer:
    """A fresh optimizer of the kind ``options`` names."""
    return _KINDS[options.name].start(options, x0, seed)


def max_points_per_iteration(options: AnyOptimizerOptions, num_parameters: int) -> int:
    """The most points one iteration of the optimizer asks for (for cost estimates)."""
    if options.name == "adam":
        return 2 * num_parameters + 1
    if options.name == "nelder-mead":
        return max(num_parameters + 1, 4)
    return 3
