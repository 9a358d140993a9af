r"""Tail-loss rates read off a :class:`~collapse_theory.tails.curves.TailCurve`.

With :math:`m_n` the median tail mass and :math:`T_0` the original one:

- **crossing** :math:`n_f`: the first generation with :math:`m_n \le f T_0`, interpolated
  linearly in :math:`m` between the two recorded generations that bracket it (NaN when the
  median stays above :math:`fT_0` up to the horizon);
- **half-life**: the crossing for f = 1/2;
- **fitted rate** r: minus the least-squares slope of :math:`\ln(m_n/T_0)` against n over the
  recorded generations up to :math:`n_f` (where :math:`m_n > 0`), closed by the point
  :math:`(n_f, \ln f)` (so that a median that jumps to 0, as a categorical median does at small
  M, still gives a rate); over the whole horizon when there is no crossing. Under Replace every
  one of these scales with M (the chains have the diffusion time scale M, docs/theory.md §1.4, §2.3):
  ``rate * M`` is roughly constant, and a rate near 0 means the tail is not being lost.

Confidence intervals (95%, percentile bootstrap) resample the replicates (Monte Carlo) or the
chi-square paths (Rao–Blackwell) and recompute the median curve; an exact curve has no sampling
error, so its interval is the point itself.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from collapse_theory._validate import check_int, check_real
from collapse_theory.rng import SeedLike, as_seed_sequence
from collapse_theory.tails.curves import TailCurve

__all__ = ["TailRates", "crossing_generation", "fitted_rate", "tail_rates"]


@dataclass(frozen=True)
class TailRates:
    """Rates of tail loss of one curve (see the module docstring); intervals are (low, high)."""

    fraction: float
    crossing: float
    crossing_ci: tuple[float, float]
    half_life: float
    half_life_ci: tuple[float, float]
    rate: float
    rate_ci: tuple[float, float]
    num_bootstrap: int


def crossing_generation(generations: np.ndarray, median: np.ndarray, level: float) -> float:
    """First generation where ``median <= level``, linearly interpolated; NaN if none.

    Examples
    --------
    >>> crossing_generation(np.array([0, 10, 20]), np.array([1.0, 0.6, 0.2]), 0.5)
    12.5
    """
    below = np.nonzero(median <= level)[0]
    if below.size == 0:
        return float("nan")
    j = int(below[0])
    if j == 0:
        return float(generations[0])
    g0, g1 = float(generations[j - 1]), float(generations[j])
    m0, m1 = float(median[j - 1]), float(median[j])
    return g0 + (g1 - g0) * (m0 - level) / (m0 - m1)


def fitted_rate(
    generations: np.ndarray, median: np.ndarray, initial: float, fraction: float
) -> float:
    """Minus the least-squares slope of ln(median / initial) over the window (module docstring).

    Examples
    --------
    >>> g = np.arange(0, 50, 5)
    >>> round(fitted_rate(g, 0.2 * np.exp(-0.1 * g), 0.2, 0.01), 6)
    0.1
    """
    crossing = crossing_generation(generations, median, fraction * initial)
    if math.isnan(crossing):
        keep = median > 0
        x, y = generations[keep], np.log(median[keep] / initial)
    else:
        keep = (generations < crossing) & (median > 0)
        x = np.append(generations[keep], crossing)
        y = np.append(np.log(median[keep] / initial), math.log(fraction))
    if x.size < 2:
        return float("nan")
    return float(-np.polyfit(x.astype(float), y, 1)[0])


def tail_rates(
    curve: TailCurve, *, fraction: float = 0.1, num_bootstrap: int = 200, seed: SeedLike = 0
) -> TailRates:
    r"""Crossing generation of :math:`fT_0`, half-life and fitted exponential rate of the median
    tail mass, with bootstrap 95% intervals (module docstring).

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
    >>> rates.rate > 0, rates.rate_ci[0] == rates.rate
    (True, True)
    """
    if not isinstance(curve, TailCurve):
        raise TypeError(f"curve must be a TailCurve; got {type(curve).__name__}")
    fraction = check_real("fraction", fraction, minimum=0.0, strict_minimum=True)
    if fraction >= 1.0:
        raise ValueError(f"fraction must lie strictly between 0 and 1; got {fraction}")
    num_bootstrap = check_int("num_bootstrap", num_bootstrap, minimum=20)
    gens, t0 = curve.generations, curve.initial_mass

    def summary(median: np.ndarray) -> tuple[float, float, float]:
        return (
            crossing_generation(gens, median, fraction * t0),
            crossing_generation(gens, median, 0.5 * t0),
            fitted_rate(gens, median, t0, fraction),
        )

    point = summary(curve.median)
    if curve.resample is None:
        intervals = [(value, value) for value in point]
        used = 0
    else:
        rng = np.random.default_rng(as_seed_sequence(seed))
        draws = np.array([summary(curve.resample(rng)) for _ in range(num_bootstrap)])
        # A resample that never crosses has crossing time +inf; one whose rate cannot be fitted
        # has no rate at all and is left out of the rate's interval.
        intervals = [_percentile_interval(draws[:, i]) for i in range(2)]
        rates = draws[:, 2]
        fitted = rates[np.isfinite(rates)]
        intervals.append(_percentile_interval(fitted) if fitted.size else (math.nan, math.nan))
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
    )


def _percentile_interval(values: np.ndarray) -> tuple[float, float]:
    """2.5% and 97.5% percentiles; a resample without a crossing (NaN) counts as +inf."""
    values = np.sort(np.where(np.isnan(values), np.inf, values))
    last = values.size - 1
    # Order statistics (no interpolation, which would subtract infinities).
    return float(values[int(np.floor(0.025 * last))]), float(values[int(np.ceil(0.975 * last))])
