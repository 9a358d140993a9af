r"""Tail-loss rates read off a :class:`~collapse_theory.tails.curves.TailCurve`.

With :math:`m_n` the median tail mass at generation n, :math:`T_0` the original one and N the
horizon:

- **crossing** :math:`n_f`: the first generation with :math:`m_n \le f T_0`, interpolated
  between the two generations that bracket it, linearly in :math:`\ln m` (exact for an
  exponential decay; linearly in :math:`m` where the median reaches 0), NaN when the median
  stays above :math:`fT_0` up to the horizon;
- **half-life**: the crossing for f = 1/2;
- **rate** r: the constant exponential rate that takes the median to the same level in the same
  number of generations, :math:`r = \ln(1/f)/n_f`; without a crossing,
  :math:`r = -\ln(m_N/T_0)/N` (near 0: the tail is kept; negative: its typical mass grows).
  Under Replace every one of these scales with M (the chains have the diffusion time scale M,
  docs/theory.md §1.4, §2.3): ``rate * M`` is roughly constant.

Each is a property of the median curve :math:`n \mapsto m_n`, not of the generations that
happen to be recorded. An exact curve carries its median at every generation
(``TailCurve.median_every_generation``) and its rates are read from that, so they do not depend
on the recording grid at all. A sampled curve is known at its recorded generations only: its
crossings are interpolated between them (an error below the spacing of the recorded generations
around the crossing, which the 95% intervals do not include), and its rate uses the same
definition, so Monte Carlo and exact rates estimate the same quantity. (A least-squares slope
of :math:`\ln m_n` over the recorded points, the definition before, is not a property of the
curve: the points' spacing weights it, and one exact categorical curve gave 0.069 to 0.077
depending on the recorded generations.)

Confidence intervals (95%, percentile bootstrap) resample the replicates (Monte Carlo) or the
chi-square paths (Rao–Blackwell) and recompute the median curve; an exact curve has no sampling
error, so its interval is the point itself.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from collapse_theory._validate import InputError, InputTypeError, check_int, check_real
from collapse_theory.rng import SeedLike, as_seed_sequence
from collapse_theory.tails.curves import TailCurve

__all__ = ["TailRates", "average_rate", "crossing_generation", "tail_rates"]


@dataclass(frozen=True)
class TailRates:
    """Rates of tail loss of one curve (see the module docstring); intervals are (low, high).

    ``every_generation`` is True when the rates were read from the median at every generation
    (exact curves), False when crossings were interpolated between recorded generations.

    Attributes
    ----------
    fraction : float
        f of the crossing ``crossing`` (the median reaching f T_0; 0.1 by default).
    crossing, crossing_ci : float, (float, float)
        n_f and its 95 % bootstrap interval (NaN: no crossing within the horizon).
    half_life, half_life_ci : float, (float, float)
        The crossing of f = 1/2, and its interval.
    rate, rate_ci : float, (float, float)
        ln(1/f) / n_f (without a crossing, -ln(m_N / T_0) / N), and its interval.
    num_bootstrap : int
        Bootstrap resamples behind the intervals (0 for an exact curve: the interval is the
        point).
    every_generation : bool
        Whether the rates were read from the median at every generation.
    """

    fraction: float
    crossing: float
    crossing_ci: tuple[float, float]
    half_life: float
    half_life_ci: tuple[float, float]
    rate: float
    rate_ci: tuple[float, float]
    num_bootstrap: int
    every_generation: bool


def crossing_generation(generations: np.ndarray, median: np.ndarray, level: float) -> float:
    """First generation where ``median <= level``, interpolated between the two generations
    that bracket it: log-linearly (exact for an exponential decay), linearly where the median
    reaches 0; NaN if none.

    Parameters
    ----------
    generations : numpy.ndarray of int
        Increasing generations.
    median : numpy.ndarray
        The median at each of them.
    level : float
        The level to cross.

    Returns
    -------
    float
        The interpolated generation, or NaN.

    Examples
    --------
    >>> round(crossing_generation(np.array([0, 10, 20]), np.array([1.0, 0.5, 0.25]), 0.5), 9)
    10.0
    >>> round(crossing_generation(np.array([0, 10, 20]), np.array([1.0, 0.8, 0.2]), 0.4), 3)
    15.0
    >>> crossing_generation(np.array([0, 10, 20]), np.array([1.0, 0.6, 0.0]), 0.3)
    15.0
    """
    below = np.nonzero(median <= level)[0]
    if below.size == 0:
        return float("nan")
    j = int(below[0])
    if j == 0:
        return float(generations[0])
    g0, g1 = float(generations[j - 1]), float(generations[j])
    m0, m1 = float(median[j - 1]), float(median[j])
    if m1 > 0.0 and level > 0.0:
        m0, m1, level = math.log(m0), math.log(m1), math.log(level)
    return g0 + (g1 - g0) * (m0 - level) / (m0 - m1)


def average_rate(
    generations: np.ndarray, median: np.ndarray, initial: float, fraction: float
) -> float:
    """The constant exponential rate that reaches the median's crossing of ``fraction *
    initial`` at the same generation, ``ln(1/fraction) / crossing``; without a crossing,
    ``-ln(median[-1] / initial) / generations[-1]`` (module docstring).

    Parameters
    ----------
    generations : numpy.ndarray of int
        Increasing generations, starting at 0.
    median : numpy.ndarray
        The median tail mass at each of them.
    initial : float
        T_0 > 0.
    fraction : float
        f in (0, 1).

    Returns
    -------
    float
        The rate per generation (negative when the median grows).

    Examples
    --------
    >>> g = np.arange(0, 50, 5)
    >>> round(average_rate(g, 0.2 * np.exp(-0.1 * g), 0.2, 0.1), 6)  # crossing at 23.03
    0.1
    >>> round(average_rate(g, 0.2 * np.exp(-0.01 * g), 0.2, 0.1), 6)  # no crossing by 45
    0.01
    """
    crossing = crossing_generation(generations, median, fraction * initial)
    if not math.isnan(crossing):
        return math.log(1.0 / fraction) / crossing
    return -math.log(float(median[-1]) / initial) / float(generations[-1])


def tail_rates(
    curve: TailCurve, *, fraction: float = 0.1, num_bootstrap: int = 200, seed: SeedLike = 0
) -> TailRates:
    r"""Crossing generation of :math:`fT_0`, half-life and average exponential rate of the
    median tail mass, with bootstrap 95% intervals (module docstring).

    Parameters
    ----------
    curve : TailCurve
    fraction : float
        f in (0, 1).
    num_bootstrap : int
        Bootstrap resamples for sampled curves (>= 20); ignored for exact curves.
    seed : int, SeedSequence or None
        Bootstrap randomness.

    Returns
    -------
    TailRates

    Examples
    --------
    >>> from collapse_theory.tails import CategoricalTail, categorical_exact
    >>> curve = categorical_exact([0.9, 0.05, 0.05], CategoricalTail(threshold=0.1), 20,
    ...                           range(0, 41, 2))
    >>> rates = tail_rates(curve)
    >>> rates.rate > 0, rates.rate_ci[0] == rates.rate, rates.every_generation
    (True, True, True)
    """
    if not isinstance(curve, TailCurve):
        raise InputTypeError(f"curve must be a TailCurve; got {type(curve).__name__}")
    fraction = check_real("fraction", fraction, minimum=0.0, strict_minimum=True)
    if fraction >= 1.0:
        raise InputError(f"fraction must lie strictly between 0 and 1; got {fraction}")
    num_bootstrap = check_int("num_bootstrap", num_bootstrap, minimum=20)
    t0 = curve.initial_mass

    def summary(gens: np.ndarray, median: np.ndarray) -> tuple[float, float, float]:
        return (
            crossing_generation(gens, median, fraction * t0),
            crossing_generation(gens, median, 0.5 * t0),
            average_rate(gens, median, t0, fraction),
        )

    every = curve.median_every_generation
    if every is not None:
        point = summary(np.arange(every.size), every)
    else:
        point = summary(curve.generations, curve.median)
    if curve.resample is None:
        intervals = [(value, value) for value in point]
        used = 0
    else:
        rng = np.random.default_rng(as_seed_sequence(seed))
        draws = np.array(
            [summary(curve.generations, curve.resample(rng)) for _ in range(num_bootstrap)]
        )
        # A resample that never crosses has crossing time +inf (its rate is always defined).
        intervals = [_percentile_interval(draws[:, i]) for i in range(3)]
        used = num_bootstrap
    return TailRates(
        fraction=fraction,
        crossing=point[0],
        crossing_ci=intervals[0],
        half_life=point[1],
        half_life_ci=intervals[1],
        rate=point[2],
        rate_ci=intervals[2],
        num_bootstrap=used,
        every_generation=every is not None,
    )


def _percentile_interval(values: np.ndarray) -> tuple[float, float]:
    """2.5% and 97.5% percentiles; a resample without a crossing (NaN) counts as +inf."""
    values = np.sort(np.where(np.isnan(values), np.inf, values))
    last = values.size - 1
    # Order statistics (no interpolation, which would subtract infinities).
    return float(values[int(np.floor(0.025 * last))]), float(values[int(np.ceil(0.975 * last))])
