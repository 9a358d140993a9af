r"""The Poisson family's tail law: the mass of the original model's upper tail (docs/theory.md
§5.3, rates as in §1.9).

The tail of Poisson(:math:`\lambda_0`) is its upper tail :math:`A = \{x \ge c\}`, with c the
smallest count whose tail mass :math:`P_{\lambda_0}(X \ge c)` is at most ``quantile``
(:class:`PoissonTail`); under model k its mass is :math:`T_k = P_{\hat\lambda_k}(X \ge c)`, the
Poisson survival function at the fitted rate (0 once the rate is 0).
:func:`poisson_monte_carlo` summarises :math:`T_k` per generation over simulated chains;
:func:`benchmark_settings` / :func:`benchmark_curves` add the family's rows to the tail-loss
table.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike
from scipy.stats import poisson as poisson_law

from collapse_theory._validate import InputTypeError, check_real
from collapse_theory.poisson.simulate import simulate
from collapse_theory.poisson.theory import check_rate
from collapse_theory.regimes import Regime
from collapse_theory.rng import SeedLike
from collapse_theory.tails.curves import TailCurve, curve_from_samples, simulate_recorded
from collapse_theory.tails.table import REGIMES, CurveRequest, Setting

__all__ = [
    "PoissonTail",
    "benchmark_curves",
    "benchmark_settings",
    "poisson_monte_carlo",
]

#: The benchmark's model: Poisson(2), whose upper 10% tail is {x >= 5} (mass 0.0527).
RATE0 = 2.0
BENCHMARK_NOTE = (
    f"poisson: Poisson({RATE0:g}) refitted by its sample mean; tail = the upper tail "
    "{x >= c} of mass <= 10% (c = 5, mass 0.0527)"
)


@dataclass(frozen=True)
class PoissonTail:
    """The upper tail :math:`\\{x \\ge c\\}` of Poisson(rate0) of mass at most ``quantile``.

    Examples
    --------
    >>> tail = PoissonTail(0.1)
    >>> tail.threshold(2.0), round(float(tail.mass(2.0, np.array(2.0))), 4)
    (5, 0.0527)
    """

    quantile: float = 0.1

    def __post_init__(self) -> None:
        q = check_real("quantile", self.quantile, minimum=0.0, maximum=1.0, strict_minimum=True)
        object.__setattr__(self, "quantile", q)

    def threshold(self, rate0: float) -> int:
        """c: the smallest count with :math:`P_{\\lambda_0}(X \\ge c) \\le` quantile."""
        rate0 = float(check_rate("rate0", rate0))
        return int(poisson_law.isf(self.quantile, rate0)) + 1

    def mass(self, rate0: float, rate: np.ndarray) -> np.ndarray:
        """:math:`P_{\\lambda}(X \\ge c)` for the fitted rates ``rate`` (0 where the rate is 0)."""
        return poisson_law.sf(self.threshold(rate0) - 1, np.asarray(rate, dtype=np.float64))


def poisson_monte_carlo(
    rate0: float,
    tail: PoissonTail,
    num_samples: int,
    generations: ArrayLike,
    *,
    regime: Regime | None = None,
    eps: float = 0.01,
    num_replicates: int = 1000,
    seed: SeedLike = None,
    progress: bool = False,
) -> TailCurve:
    """Monte Carlo :class:`~collapse_theory.tails.TailCurve` of the upper-tail mass over
    ``generations`` (which must include 0), from :func:`collapse_theory.poisson.simulate`.

    Examples
    --------
    >>> curve = poisson_monte_carlo(2.0, PoissonTail(), 10, [0, 5], num_replicates=100, seed=0)
    >>> round(float(curve.mean[0]), 4), curve.num_draws
    (0.0527, 100)
    """
    if not isinstance(tail, PoissonTail):
        raise InputTypeError(f"tail must be a PoissonTail; got {type(tail).__name__}")
    gens, eps, run = simulate_recorded(
        simulate,
        (rate0,),
        num_samples,
        generations,
        eps=eps,
        num_replicates=num_replicates,
        regime=regime,
        seed=seed,
        progress=progress,
    )
    masses = tail.mass(rate0, run["rate"])
    return curve_from_samples(gens, masses, float(masses[0, 0]), eps)


def benchmark_settings(sizes: tuple[int, ...], quick: bool) -> list[Setting]:
    """Poisson(2), the MLE, every M and regime of the grid; horizon 2M; 2000 replicates (200
    when ``quick``): a generation costs one or two Poisson draws."""
    replicates = 200 if quick else 2000
    model = f"Poisson({RATE0:g})"
    return [
        Setting("poisson", model, "mle", m, regime, 2 * m, replicates, "poisson")
        for m in sizes
        for regime in REGIMES
    ]


def benchmark_curves(request: CurveRequest) -> list[TailCurve]:
    """The Monte Carlo curve only (the family has no exact law of the tail mass here)."""
    setting = request.setting
    tail = PoissonTail(request.tail_quantile)
    return [
        poisson_monte_carlo(
            RATE0,
            tail,
            setting.num_samples,
            request.generations,
            regime=request.regime,
            eps=request.eps,
            num_replicates=setting.replicates,
            seed=request.mc_seed,
        )
    ]
