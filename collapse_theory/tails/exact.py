r"""Tail-mass laws computed without simulating the chains (Replace regime, constant M).

- :func:`categorical_exact`: exact. The tail mass :math:`T_n = p_{n,A}` of a set A of states is
  itself a 2-state Wright–Fisher chain, :math:`M T_{n+1} \mid T_n \sim \mathrm{Bin}(M, T_n)`
  (theory.md §1.4, §1.9), so its whole law at every generation comes from the banded lumped
  chain (:mod:`collapse_theory.categorical.markov`); the expected number of surviving tail
  states is :math:`\sum_{i\in A}(1 - P(p_{n,i}=0))` by linearity.
- :func:`gaussian_rao_blackwell`: Monte Carlo over the chi-square path only. Given the path,
  :math:`\delta = (\mu_n-\mu_0)/\sigma_0 \sim N(0, A_n)` and :math:`s^2 = B_n`
  (theory.md §2.4, §2.9), so :math:`E[T_n\mid S] = 2\bar\Phi(k/\sqrt{A_n+B_n})` and, because
  :math:`T` grows with :math:`|\delta|` at fixed s, :math:`P(T_n\le t\mid S) =
  2\Phi(d_t/\sqrt{A_n}) - 1` with :math:`d_t` the root of
  :math:`\bar\Phi((k-d)/s)+\bar\Phi((k+d)/s) = t`: the mean is integrated over
  :math:`\mu_n` exactly, and so is the distribution function (median, quantiles,
  :math:`P(T_n<\varepsilon T_0)`), which removes the variance due to :math:`\mu_n`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.special import ndtr, ndtri

from collapse_theory._validate import check_choice, check_int, check_real
from collapse_theory.categorical import markov
from collapse_theory.categorical.markov import lumped_loss_probability
from collapse_theory.gaussian.theory import log_variance_cumulants
from collapse_theory.rng import as_seed_sequence
from collapse_theory.schedules import sample_sizes
from collapse_theory.tails.curves import QUANTILE_LEVELS, TailCurve, _half_window
from collapse_theory.tails.definitions import CategoricalTail, GaussianTail

__all__ = ["categorical_exact", "gaussian_rao_blackwell"]


def _check_record(generations: Any) -> np.ndarray:
    from collapse_theory._validate import check_generations

    gens = check_generations("generations", generations)
    if gens.ndim != 1 or gens.size < 2:
        raise ValueError(
            f"generations must be a 1-D list of at least 2 generations; got shape {gens.shape}"
        )
    gens = np.unique(gens)
    if gens[0] != 0:
        raise ValueError("generations must include generation 0 (the original tail mass)")
    return gens


def _check_eps(eps: Any) -> float:
    eps = check_real("eps", eps, minimum=0.0, strict_minimum=True)
    if eps >= 1.0:
        raise ValueError(f"eps must lie strictly between 0 and 1 (a fraction of T0); got {eps}")
    return eps


def _law_quantile(fractions: np.ndarray, cdf: np.ndarray, level: float) -> float:
    """Smallest support point with CDF >= level (a tiny slack absorbs rounding)."""
    return float(fractions[np.searchsorted(cdf, level - 1e-12)])


def categorical_exact(
    p0: Any, tail: CategoricalTail, num_samples: Any, generations: Any, *, eps: float = 0.01
) -> TailCurve:
    r"""Exact tail-mass law of the categorical model under Replace (theory.md §1.4, §1.9).

    :math:`E T_n = T_0` (martingale); median, quantiles and :math:`P(T_n < \varepsilon T_0)`
    from the law of the lumped chain; surviving tail states
    :math:`\sum_{i\in A}(1 - P(p_{n,i} = 0))`; the scale drift
    :math:`\ln E[T_n(1-T_n)]` per generation is :math:`\ln(1-1/M)` exactly (§1.3), here read off
    the computed laws (NaN when the lumped chain is absorbed by mid-horizon). Truncation error of every probability below about 1e-12.

    Parameters
    ----------
    p0 : array_like, shape (K,)
    tail : CategoricalTail
    num_samples : int or schedule
        M >= 1, or a sample-size schedule.
    generations : array_like of int
        Recorded generations, including 0.
    eps : float
        Relative level in (0, 1).

    Returns
    -------
    TailCurve
        ``method="exact"``; standard errors are 0.

    Examples
    --------
    >>> curve = categorical_exact([0.9, 0.05, 0.05], CategoricalTail(threshold=0.1), 20, [0, 1])
    >>> round(float(curve.prob_below[1]), 6)  # both rare states lost at once: 0.9**20
    0.121577
    """
    if not isinstance(tail, CategoricalTail):
        raise TypeError(f"tail must be a CategoricalTail; got {type(tail).__name__}")
    states = tail.states(p0)
    p0 = np.asarray(p0, dtype=float) / np.sum(p0)
    gens = _check_record(generations)
    sample_sizes(num_samples, int(gens[-1]))  # validates the schedule (M_i >= 1)
    eps = _check_eps(eps)
    t0 = float(p0[states].sum())
    path = markov.propagate(t0, num_samples, gens, distributions=True)
    g = gens.size
    mean, median, prob, het = (np.empty(g) for _ in range(4))
    quantiles = np.empty((len(QUANTILE_LEVELS), g))
    for j, (size, v, v_lo, lost, full) in enumerate(path.distributions):
        if size is None:
            fractions, probs = np.array([t0]), np.array([1.0])
        else:
            inner = (v_lo + np.arange(v.size)) / size
            fractions = np.concatenate([[0.0], inner, [1.0]])
            probs = np.concatenate([[lost], v, [full]])
        cdf = np.cumsum(probs)
        mean[j] = float(fractions @ probs)
        het[j] = float((fractions * (1.0 - fractions)) @ probs)
        median[j] = _law_quantile(fractions, cdf, 0.5)
        quantiles[:, j] = [_law_quantile(fractions, cdf, q) for q in QUANTILE_LEVELS]
        prob[j] = float(probs[fractions < eps * t0].sum())
    lost_each = lumped_loss_probability(p0[states][:, None], num_samples, gens[None, :])[0]
    first, last = _half_window(gens)
    with np.errstate(divide="ignore", invalid="ignore"):  # NaN once every chain is absorbed
        drift = float(np.log(het[last] / het[first]) / (gens[last] - gens[first]))
    zeros = np.zeros(g)
    return TailCurve(
        generations=gens,
        initial_mass=t0,
        method="exact",
        mean=mean,
        mean_se=zeros,
        median=median,
        quantiles=quantiles,
        eps=eps,
        prob_below=prob,
        prob_below_se=zeros,
        surviving=(1.0 - lost_each).sum(axis=0),
        surviving_se=zeros,
        scale_drift=drift,
        scale_drift_se=0.0,
    )


# ---------------------------------------------------------------------------------------------
# Gaussian: Rao–Blackwellised over the mean (theory.md §2.9)

_BISECTIONS = 30
_GRID_POINTS = 40


def _conditional_cdf(t: np.ndarray, k: float, s: np.ndarray, a: np.ndarray) -> np.ndarray:
    r""":math:`P(T \le t \mid s, A)` for paths (N,) and levels (L,): shape (N, L).

    :math:`T(d) = \bar\Phi((k-d)/s) + \bar\Phi((k+d)/s)` increases in :math:`d = |\delta|`;
    its root :math:`d_t` lies between :math:`k + s\Phi^{-1}(t/2)` (where T <= t) and
    :math:`k + s\Phi^{-1}(t)` (where T >= t) and is found by bisection.
    """
    s = s[:, None]
    t = t[None, :]
    lo = np.maximum(k + s * ndtri(0.5 * t), 0.0)
    hi = np.maximum(k + s * ndtri(np.minimum(t, 1.0 - 1e-16)), lo)
    for _ in range(_BISECTIONS):
        mid = 0.5 * (lo + hi)
        above = ndtr((mid - k) / s) + ndtr((-k - mid) / s) > t
        hi = np.where(above, mid, hi)
        lo = np.where(above, lo, mid)
    root = 0.5 * (lo + hi)
    possible = 2.0 * ndtr(-k / s) < t  # T(0) < t, else T > t for every delta
    cdf = np.where(possible, 2.0 * ndtr(root / np.sqrt(a)[:, None]) - 1.0, 0.0)
    return np.where(t >= 1.0, 1.0, cdf)


def _grid_quantile(grid: np.ndarray, cdf: np.ndarray, level: float) -> float:
    """Quantile of a continuous law from its CDF on an increasing grid (log-linear
    interpolation; the grid's ends when the level is outside)."""
    j = int(np.searchsorted(cdf, level))
    if j == 0:
        return float(grid[0])
    if j >= grid.size:
        return float(grid[-1])
    c0, c1 = cdf[j - 1], cdf[j]
    w = 0.0 if c1 <= c0 else (level - c0) / (c1 - c0)
    return float(np.exp((1.0 - w) * np.log(grid[j - 1]) + w * np.log(grid[j])))


def gaussian_rao_blackwell(
    tail: GaussianTail,
    num_samples: Any,
    generations: Any,
    *,
    estimator: str = "unbiased",
    eps: float = 0.01,
    num_paths: int = 2000,
    seed: Any = None,
) -> TailCurve:
    r"""Tail mass of the 1-D Gaussian chain under Replace, Rao–Blackwellised over
    :math:`\mu_n` (theory.md §2.4, §2.9).

    Draws ``num_paths`` chi-square paths :math:`B_n = \prod_{l\le n} S_l`,
    :math:`A_n = \sum_{i<n} B_i/M` (MLE: :math:`S = \chi^2_{M-1}/M`); the mean is
    :math:`E[2\bar\Phi(k/\sqrt{A_n+B_n})]`, the distribution function the path average of
    :math:`2\Phi(d_t/\sqrt{A_n})-1` (module docstring), evaluated on a log grid of levels per
    generation, from which the median and quantiles are interpolated. The scale drift over the
    second half of the horizon, :math:`(\kappa_1(n) - \kappa_1(n/2))/(n/2)` with
    :math:`\kappa_1 = E\ln\sigma_n^2`, is exact (§2.3, §2.6): for constant M,
    :math:`\psi((M-1)/2) - \ln((M-1)/2)` per generation (+ :math:`\ln((M-1)/M)` for the MLE).

    Parameters
    ----------
    tail : GaussianTail
    num_samples : int or schedule
        M >= 2, or a sample-size schedule (every M_i >= 2).
    generations : array_like of int
        Recorded generations, including 0.
    estimator : {"unbiased", "mle"}
    eps : float
        Relative level in (0, 1).
    num_paths : int
        Chi-square paths (>= 100).
    seed : int, SeedSequence or None

    Returns
    -------
    TailCurve
        ``method="rao-blackwell"``; its ``resample`` draws a bootstrap resample of the paths.

    Examples
    --------
    >>> curve = gaussian_rao_blackwell(GaussianTail(k=3), 10, [0, 20], num_paths=500, seed=0)
    >>> round(float(curve.mean[0]), 4), bool(curve.median[1] < 1e-6)
    (0.0027, True)
    """
    if not isinstance(tail, GaussianTail):
        raise TypeError(f"tail must be a GaussianTail; got {type(tail).__name__}")
    gens = _check_record(generations)
    sizes = sample_sizes(num_samples, int(gens[-1])).astype(np.float64)
    if sizes.size and sizes.min() < 2:
        raise ValueError(f"num_samples must be >= 2 in every generation; got {int(sizes.min())}")
    estimator = check_choice("estimator", estimator, ("unbiased", "mle"))
    eps = _check_eps(eps)
    num_paths = check_int("num_paths", num_paths, minimum=100, maximum=10**7)
    # separate streams: the chi-square paths must not depend on which generations are recorded
    path_seed, grid_seed = as_seed_sequence(seed).spawn(2)
    rng, grid_rng = np.random.default_rng(path_seed), np.random.default_rng(grid_seed)
    k = tail.width
    t0 = tail.original_mass
    divisors = sizes - 1.0 if estimator == "unbiased" else sizes

    g_count = gens.size
    table_bytes = 8 * num_paths * g_count * (_GRID_POINTS + 1)
    if table_bytes > 2 * 2**30:
        raise ValueError(
            f"num_paths={num_paths} with {g_count} generations would store "
            f"{table_bytes / 2**30:.1f} GiB of conditional probabilities (limit 2 GiB): "
            "use fewer paths or fewer recorded generations"
        )
    mean, mean_se = np.empty(g_count), np.empty(g_count)
    grids = np.empty((g_count, _GRID_POINTS + 1))
    cond = np.empty((num_paths, g_count, _GRID_POINTS + 1))
    log_b = np.zeros(num_paths)
    a = np.zeros(num_paths)
    gen = 0
    for j, target in enumerate(gens):
        while gen < target:
            m = sizes[gen]
            a += np.exp(log_b) / m
            log_b += np.log(rng.chisquare(m - 1.0, num_paths) / divisors[gen])
            gen += 1
        per_path = 2.0 * ndtr(-k / np.sqrt(a + np.exp(log_b)))
        mean[j] = per_path.mean()
        mean_se[j] = per_path.std(ddof=1) / np.sqrt(num_paths)
        grids[j] = _level_grid(k, log_b, a, eps * t0, grid_rng)
        if target == 0:
            cond[:, j, :] = (grids[j] >= t0)[None, :]
        else:
            cond[:, j, :] = _conditional_cdf(grids[j], k, np.exp(0.5 * log_b), a)
    # Column 0 is the level eps * T0; columns 1: the increasing grid.
    levels, cond_grid = grids[:, 1:], cond[:, :, 1:]

    def summarise(weights: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        cdf = np.einsum("n,ngl->gl", weights, cond_grid)
        med = np.array([_grid_quantile(levels[j], cdf[j], 0.5) for j in range(g_count)])
        qs = np.array(
            [
                [_grid_quantile(levels[j], cdf[j], q) for j in range(g_count)]
                for q in QUANTILE_LEVELS
            ]
        )
        return med, qs, cdf

    uniform = np.full(num_paths, 1.0 / num_paths)
    median, quantiles, _ = summarise(uniform)
    below = cond[:, :, 0]
    prob = below.mean(axis=0)
    prob_se = below.std(axis=0, ddof=1) / np.sqrt(num_paths)
    median[gens == 0] = t0
    quantiles[:, gens == 0] = t0

    def resample(boot_rng: np.random.Generator) -> np.ndarray:
        counts = np.bincount(boot_rng.integers(0, num_paths, num_paths), minlength=num_paths)
        med = summarise(counts / num_paths)[0]
        med[gens == 0] = t0
        return med

    first, last = _half_window(gens)
    kappa1 = log_variance_cumulants(num_samples, gens[[first, last]], order=1, estimator=estimator)[
        0
    ]
    drift = (kappa1[1] - kappa1[0]) / float(gens[last] - gens[first])
    return TailCurve(
        generations=gens,
        initial_mass=t0,
        method="rao-blackwell",
        mean=mean,
        mean_se=mean_se,
        median=median,
        quantiles=quantiles,
        eps=eps,
        prob_below=prob,
        prob_below_se=prob_se,
        scale_drift=float(drift),
        scale_drift_se=0.0,
        num_draws=num_paths,
        resample=resample,
    )


def _level_grid(
    k: float, log_b: np.ndarray, a: np.ndarray, first: float, rng: np.random.Generator
) -> np.ndarray:
    """Levels t at which the conditional CDFs are evaluated: ``first`` (= eps T0), then
    ``_GRID_POINTS`` quantiles of a pilot sample of T (delta drawn once per path), so that
    neighbouring levels differ by about 1/_GRID_POINTS in probability wherever T lies."""
    delta = np.sqrt(a) * rng.standard_normal(a.size)
    s = np.exp(0.5 * log_b)
    pilot = ndtr((delta - k) / s) + ndtr((-k - delta) / s)
    grid = np.quantile(np.maximum(pilot, 1e-300), np.linspace(0.0, 1.0, _GRID_POINTS))
    grid = np.maximum.accumulate(grid * (1.0 + 1e-9 * np.arange(_GRID_POINTS)))
    return np.concatenate([[first], grid])
