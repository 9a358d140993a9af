r"""Exact moment laws of the recursive Gaussian kernel density estimator (docs/theory.md §5.1).

Model 0 is the truth (mean :math:`\mu_0`, covariance :math:`\Sigma_0`, or a variance
:math:`\sigma_0^2` in 1-D); dataset n holds M iid draws from model n; model n+1 is the Gaussian
KDE of the points it is fitted on (dataset n, the pool of datasets 0..n, or a subsample of that
pool). A KDE on K points :math:`x_j` with kernel covariance :math:`H` is the mixture
:math:`K^{-1}\sum_j N(x_j, H)`: its mean is the points' mean and its covariance
:math:`\hat\Sigma + H`, with :math:`\hat\Sigma` the maximum-likelihood covariance of the points.

Every regime gives a linear recursion for :math:`V_n = E\,\mathrm{Cov}(\text{model } n)` and
:math:`D_n = E(\mu_n - \mu_0)(\mu_n - \mu_0)^\top` (the model's mean drift), with scalar
coefficients, so the same recursion holds for 1-D variances and d x d covariances; with
:math:`r = (M-1)/M`:

- Replace: :math:`V_{n+1} = rV_n + H`, hence :math:`V_n = MH + (\sigma_0^2 - MH) r^n` for a fixed
  :math:`H = h^2`, and :math:`V_n = (r(1+c^2))^n\sigma_0^2` for :math:`H = c^2\hat\Sigma`.
- FreshData, Accumulate, AccumulateSubsample: docs/theory.md §5.1 states and proves each.

A draw from model n has covariance :math:`V_n + D_n` (:func:`marginal_variance`).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from collapse_theory._validate import (
    InputError,
    check_covariance,
    check_generations,
    check_horizon,
    check_int,
    check_real,
    scalar_or_array,
)
from collapse_theory.kde.options import (
    AccumulateSubsample,
    Bandwidth,
    Regime,
    check_bandwidth,
    check_family_regime,
    kernel_factor_squared,
)
from collapse_theory.regimes import Accumulate, FreshData, Replace

__all__ = [
    "expected_mean_drift",
    "expected_variance",
    "inflation_threshold",
    "marginal_variance",
    "moment_recursion",
]


def check_var0(var0: Any) -> np.ndarray:
    """``var0`` as a float64 array: a variance > 0 (shape ()) or a positive-definite d x d
    covariance."""
    if np.ndim(var0) == 0:
        return np.asarray(check_real("var0", var0, minimum=0.0, strict_minimum=True))
    return check_covariance("var0", var0, positive_definite=True)


def check_num_samples(num_samples: Any, bandwidth: Bandwidth) -> int:
    """M >= 1 for a fixed bandwidth, M >= 2 for a rule fitted on the data."""
    minimum = 1 if isinstance(bandwidth, float) else 2
    return check_int("num_samples", num_samples, minimum=minimum)


def _kernel(bandwidth: Bandwidth, points_var: np.ndarray, num_points: int) -> np.ndarray:
    """Covariance of the KDE fitted on ``num_points`` points whose (expected) MLE covariance is
    ``points_var``: :math:`\\hat\\Sigma + h^2 I` or :math:`(1 + c^2)\\hat\\Sigma`."""
    if isinstance(bandwidth, float):
        eye = np.eye(points_var.shape[0]) if points_var.ndim else 1.0
        return points_var + bandwidth**2 * eye
    dim = points_var.shape[0] if points_var.ndim else 1
    return (1.0 + kernel_factor_squared(bandwidth, num_points, dim)) * points_var


def _fresh_recursion(m, count, var0, bandwidth, regime: Replace | FreshData):
    """V_n, D_n under Replace / FreshData (docs/theory.md §5.1): dataset n = fresh points from
    model 0 and draws from model n, fitted alone."""
    r = (m - 1.0) / m
    variances, drifts = [var0], [np.zeros_like(var0)]
    fraction = regime.fraction if isinstance(regime, FreshData) else 0.0
    split = isinstance(regime, FreshData) and regime.variant == "split"
    beta = np.rint(fraction * m) / m if split else fraction
    for _ in range(count):
        v, d = variances[-1], drifts[-1]
        if split:
            points = r * (beta * var0 + (1.0 - beta) * v) + beta * (1.0 - beta) * d
            drift = (1.0 - beta) ** 2 * d + (beta * var0 + (1.0 - beta) * v) / m
        else:  # each point from the mixture beta model_0 + (1 - beta) model_n
            mixture = beta * var0 + (1.0 - beta) * v + beta * (1.0 - beta) * d
            points = r * mixture
            drift = mixture / m + (1.0 - beta) ** 2 * d
        variances.append(_kernel(bandwidth, points, m))
        drifts.append(drift)
    return variances, drifts


def _accumulate_recursion(m, count, var0, bandwidth):
    """V_n, D_n under Accumulate (docs/theory.md §5.1): model n+1 = KDE of the pool of the
    (n+1) M points of datasets 0..n. With N points before batch n and N' = N + M after,
    E S' = [N S + (M - 1 + N/N') V_n] / N' and D' = D + M V_n / N'^2 (S: the pool's MLE
    covariance)."""
    variances, drifts = [var0], [np.zeros_like(var0)]
    pool_var, pool_drift, size = np.zeros_like(var0), np.zeros_like(var0), 0
    for n in range(count):
        new_size = size + m
        v = variances[n]
        pool_var = (size * pool_var + (m - 1.0 + size / new_size) * v) / new_size
        pool_drift = pool_drift + m * v / new_size**2
        size = new_size
        variances.append(_kernel(bandwidth, pool_var, size))
        drifts.append(pool_drift)
    return variances, drifts


def _subsample_recursion(m, count, var0, bandwidth):
    """V_n, D_n under AccumulateSubsample (docs/theory.md §5.1): model n+1 = KDE of a uniform
    M-subset (without replacement) of the pool of datasets 0..n, N = (n+1) M points. The
    subset's MLE covariance has mean a S, a = (M-1)N / (M(N-1)), and its mean deviates from the
    pool's by b S in mean square, b = (N-M) / ((N-1)M) (finite-population sampling)."""
    variances, drifts = [var0], [np.zeros_like(var0)]
    r = (m - 1.0) / m
    pool_var, pool_drift, size = r * var0, var0 / m, m  # the pool of dataset 0
    for _ in range(count):
        if size == m:
            a, b = 1.0, 0.0
        else:
            a, b = r * size / (size - 1.0), (size - m) / ((size - 1.0) * m)
        v = _kernel(bandwidth, a * pool_var, m)
        variances.append(v)
        drifts.append(pool_drift + b * pool_var)
        new_size = size + m
        offset = b * pool_var  # E (subset mean - pool mean)^2
        pool_drift = pool_drift + (m / new_size) ** 2 * (v / m + offset)
        pool_var = (
            size * pool_var + (m - 1.0 + size / new_size) * v + size * m / new_size * offset
        ) / new_size
        size = new_size
    return variances, drifts


def moment_recursion(
    num_samples: int,
    num_generations: int,
    *,
    bandwidth: Bandwidth,
    var0: ArrayLike = 1.0,
    regime: Regime | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    r""":math:`(V_n, D_n)` for n = 0..num_generations: the expected covariance of model n and
    its expected squared mean drift (docs/theory.md §5.1).

    Parameters
    ----------
    num_samples : int
        M, the size of every dataset (>= 1; >= 2 for a bandwidth fitted on the data).
    num_generations : int
        Last generation computed, >= 0.
    bandwidth : float h > 0, Proportional(c), "scott" or "silverman"
        Kernel bandwidth of every fit (:func:`collapse_theory.kde.options.check_bandwidth`).
    var0 : float or array_like of shape (d, d), default 1.0
        Variance :math:`\sigma_0^2` (> 0) or positive-definite covariance of model 0.
    regime : Replace (default), FreshData, Accumulate or AccumulateSubsample
        Data regime of each generation (docs/theory.md §5.1).

    Returns
    -------
    variances, drifts : ndarray, shape (num_generations + 1,) or (num_generations + 1, d, d)
        :math:`V_n` and :math:`D_n` for n = 0..num_generations (:math:`V_0 = ` var0,
        :math:`D_0 = 0`).
    """
    bandwidth = check_bandwidth(bandwidth)
    m = check_num_samples(num_samples, bandwidth)
    count = check_int("num_generations", num_generations, minimum=0)
    v0 = check_var0(var0)
    regime = check_family_regime(Replace() if regime is None else regime)
    check_horizon("num_generations", count, bytes_per_generation=16 * max(1, v0.size))
    if isinstance(regime, Accumulate):
        variances, drifts = _accumulate_recursion(m, count, v0, bandwidth)
    elif isinstance(regime, AccumulateSubsample):
        variances, drifts = _subsample_recursion(m, count, v0, bandwidth)
    else:
        variances, drifts = _fresh_recursion(m, count, v0, bandwidth, regime)
    return np.asarray(variances, dtype=np.float64), np.asarray(drifts, dtype=np.float64)


def _at(
    values: np.ndarray, gens: np.ndarray
) -> np.float64 | np.ndarray:  # values[g] for an array of generations
    return scalar_or_array(values[gens])


def _evaluate(num_samples, generations, bandwidth, var0, regime):
    gens = check_generations("generations", generations)
    top = int(gens.max()) if gens.size else 0
    variances, drifts = moment_recursion(
        num_samples, top, bandwidth=bandwidth, var0=var0, regime=regime
    )
    return gens, variances, drifts


def expected_variance(
    num_samples: int,
    generations: ArrayLike,
    *,
    bandwidth: Bandwidth,
    var0: ArrayLike = 1.0,
    regime: Regime | None = None,
) -> np.float64 | np.ndarray:
    r"""Expected variance (covariance) of model n, :math:`V_n = E\,\mathrm{Var}(\text{model } n)`.

    Replace with a fixed bandwidth h (docs/theory.md §5.1):

    .. math::

        V_n = M h^2 + (\sigma_0^2 - M h^2)\, r^n, \qquad r = (M-1)/M,

    so the variance inflates towards :math:`Mh^2` when :math:`Mh^2 > \sigma_0^2` and shrinks
    otherwise; with ``Proportional(c)``, :math:`V_n = \sigma_0^2 (r(1+c^2))^n`. FreshData,
    Accumulate and AccumulateSubsample follow the exact recursions of docs/theory.md §5.1.

    Parameters
    ----------
    num_samples : int
        M, the size of every dataset (>= 1; >= 2 for a bandwidth fitted on the data).
    generations : int or array of int
    bandwidth : float h > 0, Proportional(c), "scott" or "silverman"
    var0 : float or (d, d) array
        Variance (covariance) of model 0.
    regime : Replace (default), FreshData, Accumulate or AccumulateSubsample

    Returns
    -------
    float, or array of shape ``np.shape(generations)`` (+ (d, d) for a matrix ``var0``)

    Examples
    --------
    >>> round(float(expected_variance(50, 10, bandwidth=0.3)), 5)  # docs/theory.md §5.1 check
    1.64025
    """
    gens, variances, _ = _evaluate(num_samples, generations, bandwidth, var0, regime)
    return _at(variances, gens)


def expected_mean_drift(
    num_samples: int,
    generations: ArrayLike,
    *,
    bandwidth: Bandwidth,
    var0: ArrayLike = 1.0,
    regime: Regime | None = None,
) -> np.float64 | np.ndarray:
    r""":math:`D_n = E(\mu_n - \mu_0)^2` (a matrix in d dimensions), the squared drift of the
    mean of model n (docs/theory.md §5.1); Replace: :math:`D_{n+1} = D_n + V_n/M`.

    Parameters
    ----------
    num_samples : int
        M, the size of every dataset (>= 1; >= 2 for a bandwidth fitted on the data).
    generations : int or array_like of int
        Generations n >= 0.
    bandwidth : float h > 0, Proportional(c), "scott" or "silverman"
        Kernel bandwidth of every fit (:func:`collapse_theory.kde.options.check_bandwidth`).
    var0 : float or array_like of shape (d, d), default 1.0
        Variance :math:`\sigma_0^2` (> 0) or positive-definite covariance of model 0.
    regime : Replace (default), FreshData, Accumulate or AccumulateSubsample
        Data regime of each generation (docs/theory.md §5.1).

    Returns
    -------
    float, or array of shape ``np.shape(generations)`` (+ (d, d) for a matrix ``var0``)
        :math:`D_n`; 0 at n = 0.
    """
    gens, _, drifts = _evaluate(num_samples, generations, bandwidth, var0, regime)
    return _at(drifts, gens)


def marginal_variance(
    num_samples: int,
    generations: ArrayLike,
    *,
    bandwidth: Bandwidth,
    var0: ArrayLike = 1.0,
    regime: Regime | None = None,
) -> np.float64 | np.ndarray:
    r"""Variance of one point drawn from model n (a point of dataset n, averaged over the
    chain): :math:`V_n + D_n` (docs/theory.md §5.1). Replace with a fixed h:
    :math:`\sigma_0^2 + n h^2` (a draw is its ancestor in model 0 plus n kernel steps).

    Parameters
    ----------
    num_samples : int
        M, the size of every dataset (>= 1; >= 2 for a bandwidth fitted on the data).
    generations : int or array_like of int
        Generations n >= 0.
    bandwidth : float h > 0, Proportional(c), "scott" or "silverman"
        Kernel bandwidth of every fit (:func:`collapse_theory.kde.options.check_bandwidth`).
    var0 : float or array_like of shape (d, d), default 1.0
        Variance :math:`\sigma_0^2` (> 0) or positive-definite covariance of model 0.
    regime : Replace (default), FreshData, Accumulate or AccumulateSubsample
        Data regime of each generation (docs/theory.md §5.1).

    Returns
    -------
    float, or array of shape ``np.shape(generations)`` (+ (d, d) for a matrix ``var0``)
        :math:`V_n + D_n`.

    Examples
    --------
    >>> round(float(marginal_variance(50, 10, bandwidth=0.3)), 12)  # sigma0^2 + n h^2
    1.9
    """
    gens, variances, drifts = _evaluate(num_samples, generations, bandwidth, var0, regime)
    return _at(variances + drifts, gens)


def inflation_threshold(num_samples: int, var0: float = 1.0) -> float:
    r"""The fixed bandwidth :math:`h^* = \sigma_0/\sqrt M` above which Replace inflates the
    variance (:math:`Mh^2 > \sigma_0^2`) and below which it shrinks (docs/theory.md §5.1).

    Parameters
    ----------
    num_samples : int
        M >= 1, the size of every dataset.
    var0 : float, default 1.0
        Variance :math:`\sigma_0^2` of model 0 (> 0; one dimension).

    Returns
    -------
    float
        :math:`h^* = \sqrt{\sigma_0^2 / M}`.
    """
    m = check_int("num_samples", num_samples, minimum=1)
    v0 = check_real("var0", var0, minimum=0.0, strict_minimum=True)
    if not np.isfinite(v0 / m):
        raise InputError(f"var0 / num_samples must be finite; got {v0} / {m}")
    return float(np.sqrt(v0 / m))
