"""Tail-loss rates: how fast each model family, estimator and data regime loses the tails of
the original distribution (theory.md §1.9, §2.9; design.md goal 3).

One vocabulary across families: a tail set of the original model (:class:`CategoricalTail`,
:class:`GaussianTail`, :class:`MixtureTail`), its mass per generation summarised as a
:class:`TailCurve` (expected mass, median, quantiles, P(mass < eps T0), surviving tail states),
computed exactly (:func:`categorical_exact`), Rao–Blackwellised over the chi-square path
(:func:`gaussian_rao_blackwell`) or by Monte Carlo (``*_monte_carlo``), and the rates read off
it (:func:`tail_rates`). :func:`tail_loss_table` runs the benchmark grid behind
``collapse-theory tail-loss``.
"""

from collapse_theory.tails.curves import QUANTILE_LEVELS, TailCurve
from collapse_theory.tails.definitions import CategoricalTail, GaussianTail, MixtureTail
from collapse_theory.tails.exact import categorical_exact, gaussian_rao_blackwell
from collapse_theory.tails.montecarlo import (
    categorical_monte_carlo,
    gaussian_monte_carlo,
    mixture_monte_carlo,
)
from collapse_theory.tails.rates import TailRates, crossing_generation, fitted_rate, tail_rates

__all__ = [
    "QUANTILE_LEVELS",
    "CategoricalTail",
    "GaussianTail",
    "MixtureTail",
    "TailCurve",
    "TailRates",
    "categorical_exact",
    "categorical_monte_carlo",
    "crossing_generation",
    "fitted_rate",
    "gaussian_monte_carlo",
    "gaussian_rao_blackwell",
    "mixture_monte_carlo",
    "tail_rates",
]
