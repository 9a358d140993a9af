r"""Closed forms of the Poisson family, and of the exponential (scale) model (docs/theory.md §5.3).

Poisson: model k+1 is fitted (MLE: the sample mean) to n draws of model k,

.. math::

    \hat\lambda_{k+1} = \frac{1}{n}\sum_{i=1}^{n} X_i, \qquad X_i \sim \mathrm{Poisson}(\hat\lambda_k),
    \qquad \hat\lambda_0 = \lambda_0,

so :math:`S_k = n\hat\lambda_k` is a Galton–Watson process with Poisson(1) offspring started
from :math:`S_1 \sim \mathrm{Poisson}(n\lambda_0)`: the probability that the fitted rate is still
positive is exact, not an approximation (docs/theory.md §5.3). The rate is a martingale; its
variance grows linearly under Replace, and converges under Accumulate and FreshData.

Exponential (scale :math:`\theta`, MLE the sample mean): :math:`\theta_{k+1} = \theta_k\,G_k/n`
with :math:`G_k \sim \mathrm{Gamma}(n, 1)` independent, so :math:`\ln(\theta_k/\theta_0)` is a
random walk with steps :math:`\ln(G/n)` (:func:`exponential_log_moments`).

A function of scalar arguments returns a ``numpy.float64``; array arguments give an ndarray.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike
from scipy.special import digamma, polygamma

from collapse_theory._validate import (
    InputError,
    as_float_array,
    check_generations,
    check_horizon,
    check_int,
    scalar_or_array,
)
from collapse_theory.regimes import Accumulate, FreshData, Regime, Replace, check_regime

__all__ = [
    "exponential_log_moments",
    "extinction_weights",
    "moments",
    "nonzero_probability",
]


def check_rate(name: str, value: ArrayLike) -> np.ndarray:
    """``value`` as a float64 array of rates > 0 (finite reals; strings and bools refused)."""
    rate = as_float_array(name, value)
    if np.any(rate <= 0.0):
        raise InputError(f"{name} must be > 0 (a Poisson rate); got {value!r}")
    return rate


def check_family_regime(regime: Regime | None) -> Regime:
    """``regime`` (default ``Replace()``) if it is one this family implements: Replace,
    FreshData or Accumulate (a regime added to the library later is refused by name)."""
    regime = check_regime(Replace() if regime is None else regime)
    if not isinstance(regime, (Replace, FreshData, Accumulate)):
        raise InputError(
            f"regime must be Replace(), FreshData(fraction, variant) or Accumulate() for the "
            f"Poisson family; got {regime!r}"
        )
    return regime


def extinction_weights(generations: ArrayLike) -> np.ndarray:
    r""":math:`g_k`, with :math:`P(\hat\lambda_k > 0) = 1 - e^{-n\lambda_0 g_k}`
    (docs/theory.md §5.3).

    .. math::

        g_0 = \infty \;(\text{model 0 is the truth}),\quad g_1 = 1, \quad
        g_{j+1} = 1 - e^{-g_j},

    i.e. :math:`g_k = 1 - q_{k-1}` with :math:`q_j` the probability that a Poisson(1)
    Galton–Watson lineage is extinct after j generations (the same sequence as the
    "galton-watson" approximation of :func:`collapse_theory.categorical.loss_probability`,
    docs/theory.md §1.4, computed by the same kernel). :math:`g_k \approx 2/k` for large k.

    Parameters
    ----------
    generations : int or array_like of int
        k >= 0.

    Returns
    -------
    numpy.float64 or ndarray, shape of ``generations`` (inf at k = 0)

    Examples
    --------
    >>> [round(float(g), 6) for g in extinction_weights([1, 2, 3])]
    [1.0, 0.632121, 0.468536]
    """
    gens = check_generations("generations", generations)
    k_max = int(gens.max()) if gens.size else 0
    check_horizon("generations", k_max, bytes_per_generation=8)
    # The categorical family's kernel of the same sequence (one implementation), imported on
    # use so that this family imports without the categorical one.
    from collapse_theory.categorical._markov_numba import gw_survival_constant

    u = gw_survival_constant(max(k_max, 1))
    weights = np.where(gens == 0, np.inf, u[np.maximum(gens - 1, 0)])
    return scalar_or_array(weights)


def nonzero_probability(
    rate0: ArrayLike,
    num_samples: int,
    generations: ArrayLike,
    regime: Regime | None = None,
) -> np.float64 | np.ndarray:
    r"""Probability that the fitted rate of model k is still positive, exact
    (docs/theory.md §5.3).

    - Replace: :math:`P(\hat\lambda_k > 0) = 1 - \exp(-n\lambda_0 g_k)`, with
      :math:`g_1 = 1`, :math:`g_{j+1} = 1 - e^{-g_j}` (:func:`extinction_weights`);
    - Accumulate: the pool is empty of positive counts only if the first batch is, so
      :math:`P = 1 - e^{-n\lambda_0}` for every k >= 1;

    and 1 at k = 0. (Under FreshData a zero fit is not absorbing; it has no such law here.)

    Parameters
    ----------
    rate0 : float or array_like
        :math:`\lambda_0 > 0`; broadcast with ``generations``.
    num_samples : int
        n >= 1, draws per generation.
    generations : int or array_like of int
        k >= 0.
    regime : Replace or Accumulate, optional
        Default ``Replace()``.

    Returns
    -------
    numpy.float64 or ndarray, shape broadcast(rate0, generations)

    Raises
    ------
    InputError, InputTypeError
        On invalid input (rate0 <= 0, num_samples < 1, a FreshData regime, ...), naming it.

    Examples
    --------
    >>> round(float(nonzero_probability(2.0, 5, 10)), 6)
    0.821389
    >>> round(float(nonzero_probability(2.0, 5, 50)), 6)
    0.31871
    """
    rate0 = check_rate("rate0", rate0)
    n = check_int("num_samples", num_samples, minimum=1)
    gens = check_generations("generations", generations)
    regime = check_family_regime(regime)
    if isinstance(regime, FreshData):
        raise InputError(
            f"regime must be Replace() or Accumulate() (a zero fit is absorbing only there); "
            f"got {regime!r}"
        )
    rate, k = np.broadcast_arrays(rate0, gens)
    if isinstance(regime, Accumulate):
        weights = np.where(k == 0, np.inf, 1.0)
    else:
        weights = np.asarray(extinction_weights(k))
    with np.errstate(invalid="ignore"):
        probability = np.where(k == 0, 1.0, -np.expm1(-n * rate * weights))
    return scalar_or_array(probability)


def _variance_factor(num_samples: int, gens: np.ndarray, regime: Regime) -> np.ndarray:
    r""":math:`v_k` with :math:`\mathrm{Var}\,\hat\lambda_k = v_k \lambda_0 / n`, :math:`v_0 = 0`."""
    k = gens.astype(np.float64)
    if isinstance(regime, Replace):
        return k
    if isinstance(regime, Accumulate):
        # sum_{j<=k} 1/j^2 = pi^2/6 - psi'(k + 1)
        return np.where(gens == 0, 0.0, math.pi**2 / 6.0 - polygamma(1, k + 1.0))
    alpha, n = regime.fraction, num_samples
    if regime.variant == "mix":
        rate = (1.0 - alpha) ** 2 + alpha * (1.0 - alpha) / n
    else:
        synthetic = n - int(np.rint(alpha * n))
        rate = (synthetic / n) ** 2
    if rate == 1.0:  # no fresh data at all: Replace
        return k
    # V_{k+1} = lambda0/n + rate V_k, V_0 = 0
    return -np.expm1(k * math.log(rate)) / (1.0 - rate) if rate > 0 else np.minimum(k, 1.0)


def moments(
    rate0: ArrayLike,
    num_samples: int,
    generations: ArrayLike,
    regime: Regime | None = None,
) -> tuple[np.float64 | np.ndarray, np.float64 | np.ndarray]:
    r"""Mean and variance of the fitted rate :math:`\hat\lambda_k` (docs/theory.md §5.3).

    The rate is a martingale, :math:`E\hat\lambda_k = \lambda_0`, and
    :math:`\mathrm{Var}\,\hat\lambda_k = v_k\,\lambda_0/n` with

    - Replace: :math:`v_k = k`;
    - Accumulate (pool every batch): :math:`v_k = \sum_{j=1}^{k} 1/j^2 \to \pi^2/6`;
    - FreshData "mix" (each draw from :math:`(1-\alpha)\mathrm{Poi}(\hat\lambda_k) +
      \alpha\,\mathrm{Poi}(\lambda_0)`): :math:`v_{k+1} = 1 + r v_k`,
      :math:`r = (1-\alpha)^2 + \alpha(1-\alpha)/n`;
    - FreshData "split" (:math:`m = \mathrm{round}(\alpha n)` fresh draws):
      :math:`v_{k+1} = 1 + ((n-m)/n)^2 v_k`;

    all with :math:`v_0 = 0`, so :math:`v_k = (1 - r^k)/(1 - r)` for the fresh-data regimes.

    Parameters
    ----------
    rate0 : float or array_like
        :math:`\lambda_0 > 0`; broadcast with ``generations``.
    num_samples : int
        n >= 1.
    generations : int or array_like of int
        k >= 0.
    regime : Replace, FreshData or Accumulate, optional
        Default ``Replace()``.

    Returns
    -------
    mean, variance : numpy.float64 or ndarray, shape broadcast(rate0, generations)

    Examples
    --------
    >>> mean, var = moments(2.0, 5, 10)
    >>> float(mean), float(var)
    (2.0, 4.0)
    """
    rate0 = check_rate("rate0", rate0)
    n = check_int("num_samples", num_samples, minimum=1)
    gens = check_generations("generations", generations)
    regime = check_family_regime(regime)
    factor = _variance_factor(n, gens, regime)
    rate, factor = np.broadcast_arrays(rate0, factor)
    return scalar_or_array(rate.copy()), scalar_or_array(factor * rate / n)


def exponential_log_moments(
    num_samples: int, generations: ArrayLike
) -> tuple[np.float64 | np.ndarray, np.float64 | np.ndarray]:
    r"""Mean and variance of :math:`\ln(\theta_k/\theta_0)` for the exponential model refitted
    by its MLE (the sample mean) on n draws a generation (docs/theory.md §5.3).

    :math:`\theta_{k+1} = \theta_k G_k / n` with :math:`G_k \sim \mathrm{Gamma}(n, 1)`, so

    .. math::

        E \ln(\theta_k/\theta_0) = k(\psi(n) - \ln n), \qquad
        \mathrm{Var} \ln(\theta_k/\theta_0) = k\,\psi'(n),

    while :math:`E\theta_k = \theta_0` (a martingale): the median scale drifts to 0 at the rate
    :math:`\psi(n) - \ln n \approx -1/(2n)` per generation, whatever :math:`\theta_0`.

    Parameters
    ----------
    num_samples : int
        n >= 1.
    generations : int or array_like of int
        k >= 0.

    Returns
    -------
    mean, variance : numpy.float64 or ndarray, shape of ``generations``

    Examples
    --------
    >>> mean, var = exponential_log_moments(10, 20)
    >>> round(float(mean), 6), round(float(var), 6)
    (-1.01665, 2.103327)
    """
    n = check_int("num_samples", num_samples, minimum=1)
    k = check_generations("generations", generations).astype(np.float64)
    drift = float(digamma(n)) - math.log(n)
    spread = float(polygamma(1, n))
    return scalar_or_array(k * drift), scalar_or_array(k * spread)
