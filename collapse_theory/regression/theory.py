r"""Exact laws of linear regression refitted on its own labels (docs/theory.md §5.2).

Model 0 is the true coefficient vector :math:`w^*`. Generation n draws labels
:math:`y_n = X_n\hat w_{n-1} + \varepsilon_n`, :math:`\varepsilon_n \sim N(0, \sigma^2 I_T)`, on a
design :math:`X_n` of T rows :math:`N(0, \Sigma)` in d dimensions (the same design every
generation, ``design="fixed"``, or a fresh one, ``"redrawn"``), and fits
:math:`\hat w_n` by least squares with a ridge penalty :math:`\lambda\|w\|^2` (OLS: λ = 0).
The excess risk is :math:`\|\hat w_n - w^*\|^2_\Sigma = (\hat w_n - w^*)^\top\Sigma(\hat w_n - w^*)`.

OLS, in expectation over the design and the noise (:func:`expected_excess_risk`):

- Replace (fixed or redrawn design): :math:`E = n\sigma^2 d/(T-d-1)` (linear growth);
- Accumulate (fit on all label sets, fixed design): :math:`E = \sigma^2 d/(T-d-1)\sum_{i\le n}
  i^{-2} < (\pi^2/6)\sigma^2 d/(T-d-1)`.

Given the design, for ridge too (:func:`excess_risk_given_design`): Replace and FreshData
"split" are linear Gaussian recursions of the mean and covariance of :math:`\hat w_n`;
Accumulate, diagonal in the eigenbasis of :math:`X^\top X`, is one scalar recursion per
eigen-direction (docs/theory.md §5.2).
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike

from collapse_theory._validate import (
    InputError,
    as_float_array,
    check_covariance,
    check_generations,
    check_horizon,
    check_int,
    check_real,
    scalar_or_array,
)
from collapse_theory.kde.options import Regime, check_family_regime
from collapse_theory.regimes import Accumulate, FreshData, Replace

__all__ = ["accumulate_bound", "excess_risk_given_design", "expected_excess_risk"]


def check_sizes(dim: int, num_points: int, ridge: float) -> tuple[int, int]:
    """d >= 1 and T >= 1, with T >= d + 2 for OLS (E (X^T X)^{-1} is finite only then)."""
    d = check_int("dim", dim, minimum=1)
    t = check_int("num_points", num_points, minimum=1)
    if ridge == 0.0 and t < d + 2:
        raise InputError(
            f"num_points must be >= dim + 2 = {d + 2} for OLS (ridge=0: the expected risk is "
            f"infinite below); got num_points={t} with dim={d}"
        )
    return d, t


def trace_factor(dim: int, num_points: int, cov: ArrayLike | None = None) -> float:
    r""":math:`E\,\mathrm{tr}(\Sigma (X^\top X)^{-1}) = d/(T-d-1)` for rows :math:`N(0,\Sigma)`
    (the mean of an inverse Wishart; independent of Σ)."""
    del cov
    return dim / (num_points - dim - 1.0)


def _check_cov(cov: ArrayLike | None, dim: int) -> np.ndarray:
    if cov is None:
        return np.eye(dim)
    matrix = check_covariance("cov", cov, positive_definite=True)
    if matrix.shape != (dim, dim):
        raise InputError(f"cov must have shape ({dim}, {dim}) for dim={dim}; got {matrix.shape}")
    return matrix


def expected_excess_risk(
    dim: int,
    num_points: int,
    generations: ArrayLike,
    *,
    noise_var: float = 1.0,
    regime: Regime | None = None,
    ridge: float = 0.0,
    cov: ArrayLike | None = None,
) -> np.float64 | np.ndarray:
    r"""Exact :math:`E\|\hat w_n - w^*\|^2_\Sigma` of OLS (docs/theory.md §5.2).

    .. math::

        \text{Replace: } \frac{n\sigma^2 d}{T-d-1}, \qquad
        \text{Accumulate: } \frac{\sigma^2 d}{T-d-1}\sum_{i=1}^{n}\frac{1}{i^2}.

    Both hold for any Σ; Replace for a fixed or a redrawn design, Accumulate for a fixed design.
    Ridge (λ > 0), FreshData and AccumulateSubsample depend on the design's law beyond its
    inverse mean: they are exact given the design (:func:`excess_risk_given_design`) and
    otherwise Monte Carlo (:func:`collapse_theory.regression.simulate`); asking for them here
    raises an InputError that says so.

    Parameters
    ----------
    dim : int
        d >= 1.
    num_points : int
        T, rows of the design (>= d + 2).
    generations : int or array of int
        Generations n >= 0.
    noise_var : float
        Label noise variance σ² > 0.
    regime : Replace (default) or Accumulate
        Data regime (the others raise: see above).
    ridge : float
        λ >= 0 (only 0 has a closed form here).
    cov : (d, d) array, optional
        Σ of the design's rows (default identity); the result does not depend on it.

    Returns
    -------
    numpy.float64 or numpy.ndarray
        :math:`E\|\hat w_n - w^*\|^2_\Sigma` (formulas above), shape of ``generations`` (a
        float for a scalar); 0 at n = 0.

    Examples
    --------
    >>> round(float(expected_excess_risk(5, 20, 10)), 4)  # docs/theory.md §5.2 check value
    3.5714
    >>> from collapse_theory.regimes import Accumulate
    >>> round(float(expected_excess_risk(5, 20, 10, regime=Accumulate())), 5)
    0.55349
    """
    lam = check_real("ridge", ridge, minimum=0.0)
    d, t = check_sizes(dim, num_points, lam)
    sigma2 = check_real("noise_var", noise_var, minimum=0.0, strict_minimum=True)
    regime = check_family_regime(Replace() if regime is None else regime)
    _check_cov(cov, d)
    gens = check_generations("generations", generations)
    if lam > 0.0 or not isinstance(regime, (Replace, Accumulate)):
        raise InputError(
            f"expected_excess_risk is exact for OLS (ridge=0) under Replace or Accumulate; got "
            f"ridge={lam}, regime={regime!r}: use excess_risk_given_design (exact given the "
            "design) or simulate (Monte Carlo)"
        )
    scale = sigma2 * trace_factor(d, t)
    if isinstance(regime, Replace):
        return scalar_or_array(scale * gens.astype(np.float64))
    top = int(gens.max()) if gens.size else 0
    check_horizon("generations", top)
    partial = np.concatenate([[0.0], np.cumsum(1.0 / np.arange(1, top + 1) ** 2)])
    return scalar_or_array(scale * partial[gens])


def accumulate_bound(dim: int, num_points: int, *, noise_var: float = 1.0) -> float:
    r"""The limit :math:`(\pi^2/6)\sigma^2 d/(T-d-1)` that OLS under Accumulate stays below at
    every generation (docs/theory.md §5.2).

    Parameters
    ----------
    dim : int
        Number of features d >= 1.
    num_points : int
        T, rows of each design (>= d + 2).
    noise_var : float, default 1.0
        Label noise variance σ² > 0.

    Returns
    -------
    float
        :math:`\frac{\pi^2}{6}\,\frac{\sigma^2 d}{T-d-1}`, the n → ∞ limit of
        :func:`expected_excess_risk` under Accumulate.

    Examples
    --------
    >>> round(accumulate_bound(5, 20), 4)
    0.5875
    """
    d, t = check_sizes(dim, num_points, 0.0)
    sigma2 = check_real("noise_var", noise_var, minimum=0.0, strict_minimum=True)
    return math.pi**2 / 6.0 * sigma2 * trace_factor(d, t)


def _replace_given_design(gram, fresh_gram, w_star, count, sigma2, lam):
    """Mean and covariance of w_n for n = 0..count (Replace; FreshData "split" when
    ``fresh_gram`` is the Gram matrix of the rows labelled by w*): w_n = A(G_F w* + G_S w_{n-1} +
    X^T eps), A = (G + lam I)^{-1}."""
    d = w_star.size
    inverse = np.linalg.inv(gram + lam * np.eye(d))
    synthetic = inverse @ (gram - fresh_gram)
    anchor = inverse @ fresh_gram @ w_star
    noise = sigma2 * inverse @ gram @ inverse
    means, covs = [w_star], [np.zeros((d, d))]
    for _ in range(count):
        means.append(anchor + synthetic @ means[-1])
        covs.append(synthetic @ covs[-1] @ synthetic.T + noise)
    return np.array(means), np.array(covs)


def _accumulate_given_design(gram, w_star, count, sigma2, lam):
    """Mean and covariance of w_n (Accumulate, fixed design; docs/theory.md §5.2): in the
    eigenbasis of G = X^T X (eigenvalues g), u_n = (g Σ_{i<n} u_i + Σ_{i<=n} η_i) / (n g + lam),
    η_i ~ N(0, σ² g) independent per coordinate; u_n = mean_n + Σ_i c_{n,i} η_i."""
    values, vectors = np.linalg.eigh(gram)
    d = w_star.size
    mean = [vectors.T @ w_star]
    mean_sum = np.zeros(d)
    previous = np.zeros((d, count + 1))  # c_{n-1, :, i}
    coefficient_sum = np.zeros((d, count + 1))
    variances = [np.zeros(d)]
    for n in range(1, count + 1):
        denominator = n * values + lam
        mean_sum += mean[-1]
        mean.append(values * mean_sum / denominator)
        coefficient_sum += previous
        previous = values[:, None] * coefficient_sum / denominator[:, None]
        previous[:, 1 : n + 1] += 1.0 / denominator[:, None]
        variances.append(sigma2 * values * np.sum(previous**2, axis=1))
    means = np.array(mean) @ vectors.T
    covs = np.einsum("ij,nj,kj->nik", vectors, np.array(variances), vectors)
    return means, covs


def excess_risk_given_design(
    design: ArrayLike,
    generations: ArrayLike,
    *,
    w_star: ArrayLike,
    noise_var: float = 1.0,
    regime: Regime | None = None,
    ridge: float = 0.0,
    cov: ArrayLike | None = None,
) -> np.float64 | np.ndarray:
    r""":math:`E[\|\hat w_n - w^*\|^2_\Sigma \mid X]` for a fixed design X, exact, OLS or ridge
    (docs/theory.md §5.2). With :math:`m_n, C_n` the mean and covariance of :math:`\hat w_n`
    given X, the risk is :math:`(m_n - w^*)^\top\Sigma(m_n - w^*) + \mathrm{tr}(\Sigma C_n)`.

    - Replace / FreshData "split" (the first round(fraction T) rows labelled by :math:`w^*`):
      :math:`m_n = A(G_F w^* + G_S m_{n-1})`, :math:`C_n = AG_SC_{n-1}G_SA + \sigma^2AGA`,
      :math:`A = (G + \lambda I)^{-1}`.
    - Accumulate: one scalar recursion per eigen-direction of :math:`G = X^\top X`.

    Parameters
    ----------
    design : (T, d) array
        The fixed design X, reused at every generation (T >= 1 rows).
    generations : int or array of int
        Generations n >= 0.
    w_star : (d,) array
        The true coefficients :math:`w^*` that label dataset 0.
    noise_var : float
        Label noise variance σ² > 0.
    regime : Replace (default), FreshData(fraction, "split") or Accumulate
        Data regime of each generation.
    ridge : float
        λ >= 0; with λ = 0 the design must have rank d.
    cov : (d, d) array, optional
        Σ of the risk's norm (default identity).

    Returns
    -------
    numpy.float64 or numpy.ndarray
        :math:`(m_n - w^*)^\top\Sigma(m_n - w^*) + \mathrm{tr}(\Sigma C_n)`, shape of
        ``generations`` (a float for a scalar); 0 at n = 0.

    Examples
    --------
    >>> x = np.random.default_rng(0).standard_normal((20, 5))
    >>> bool(excess_risk_given_design(x, 3, w_star=np.ones(5)) > 0)
    True
    """
    x = as_float_array("design", design, ndim=2)
    t, d = x.shape
    w = as_float_array("w_star", w_star, ndim=1)
    if w.size != d or t < 1:
        raise InputError(
            f"w_star must have the design's {d} columns and the design >= 1 row; got w_star of "
            f"size {w.size}, design of shape {x.shape}"
        )
    lam = check_real("ridge", ridge, minimum=0.0)
    sigma2 = check_real("noise_var", noise_var, minimum=0.0, strict_minimum=True)
    regime = check_family_regime(Replace() if regime is None else regime)
    sigma = _check_cov(cov, d)
    gens = check_generations("generations", generations)
    top = int(gens.max()) if gens.size else 0
    check_horizon("generations", top, bytes_per_generation=8 * d * (top + 2))
    gram = x.T @ x
    if lam == 0.0 and np.linalg.matrix_rank(gram) < d:
        raise InputError(f"design must have rank {d} for OLS (ridge=0); got a singular X^T X")
    if isinstance(regime, Accumulate):
        means, covs = _accumulate_given_design(gram, w, top, sigma2, lam)
    elif isinstance(regime, Replace) or (
        isinstance(regime, FreshData) and regime.variant == "split"
    ):
        fresh = int(np.rint(regime.fraction * t)) if isinstance(regime, FreshData) else 0
        means, covs = _replace_given_design(gram, x[:fresh].T @ x[:fresh], w, top, sigma2, lam)
    else:
        raise InputError(
            "excess_risk_given_design is exact for Replace, FreshData(fraction, 'split') and "
            f"Accumulate; got regime={regime!r}: use simulate (Monte Carlo)"
        )
    bias = means - w
    risk = np.einsum("ni,ij,nj->n", bias, sigma, bias) + np.einsum("ij,nji->n", sigma, covs)
    return scalar_or_array(risk[gens])
