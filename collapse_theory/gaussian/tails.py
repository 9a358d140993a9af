r"""The Gaussian family's tail law (docs/theory.md §2.4, §2.9).

A tail is the two-sided set :math:`A = \{x : |x-\mu_0| > k\sigma_0\}` of the original
Gaussian (:class:`GaussianTail`). :func:`gaussian_rao_blackwell` is Monte Carlo over the
chi-square path only: given the path, :math:`\delta = (\mu_n-\mu_0)/\sigma_0 \sim N(0, A_n)`
and :math:`s^2 = B_n`, so :math:`E[T_n\mid S] = 2\bar\Phi(k/\sqrt{A_n+B_n})` and, because
:math:`T` grows with :math:`|\delta|` at fixed s, :math:`P(T_n\le t\mid S) =
2\Phi(d_t/\sqrt{A_n}) - 1` with :math:`d_t` the root of
:math:`\bar\Phi((k-d)/s)+\bar\Phi((k+d)/s) = t`: the mean and the distribution function
(median, quantiles, :math:`P(T_n<\varepsilon T_0)`) are integrated over :math:`\mu_n` exactly.
:func:`gaussian_monte_carlo` simulates any regime. :func:`benchmark_settings` and
:func:`benchmark_curves` are the family's rows of the tail-loss table.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike
from scipy import optimize
from scipy.special import digamma, ndtr, ndtri, polygamma

from collapse_theory import _stats
from collapse_theory._validate import (
    InputError,
    InputTypeError,
    _show,
    check_choice,
    check_int,
    check_real,
)
from collapse_theory.gaussian.simulate import simulate as gaussian_simulate
from collapse_theory.gaussian.theory import (
    _CenteredLogGamma,
    _check_estimator,
    _cumulative,
    _gil_pelaez_cdf,
    _log_variance_parts,
    _unique_halves,
    check_var0,
    log_variance_cumulants,
    refuse_sigma0,
)
from collapse_theory.policies import Policy, Temperature, Truncation
from collapse_theory.regimes import Regime
from collapse_theory.rng import SeedLike, as_generator, as_seed_sequence
from collapse_theory.schedules import ScheduleLike, sample_sizes
from collapse_theory.tails.curves import (
    QUANTILE_LEVELS,
    TailCurve,
    check_eps,
    check_record,
    curve_from_samples,
    drift_from_logs,
    half_window,
    simulate_recorded,
    width_or_quantile,
)
from collapse_theory.tails.table import REGIMES, CurveRequest, Setting

__all__ = [
    "TAIL_STATISTICS",
    "GaussianTail",
    "benchmark_curves",
    "benchmark_settings",
    "expected_tail_mass",
    "gaussian_monte_carlo",
    "gaussian_rao_blackwell",
]


#: Statistics of the tail mass over models that expected_tail_mass computes.
TAIL_STATISTICS = ("mean", "median")


def _mean_given_path(k: float, a: np.ndarray, log_b: np.ndarray) -> np.ndarray:
    r""":math:`E[T_n \mid S] = 2\bar\Phi(k/\sqrt{A_n + B_n})` per path: the tail mass beyond
    :math:`k\sigma_0` with the mean integrated out (docs/theory.md §2.9)."""
    return 2.0 * ndtr(-k / np.sqrt(a + np.exp(log_b)))


def _chi_square_paths(
    sizes: np.ndarray, estimator: str, num_paths: int, horizon: int, rng: np.random.Generator
) -> Iterator[tuple[int, np.ndarray, np.ndarray]]:
    r"""The chi-square path of the 1-D chain, ``num_paths`` at a time (docs/theory.md §2.4, §2.9):
    yields ``(n, A_n, ln B_n)`` for n = 0..horizon, where :math:`B_n = \sigma_n^2/\sigma_0^2 =
    \prod_{l\le n} S_l` (unbiased :math:`S = \chi^2_{M-1}/(M-1)`, MLE :math:`\chi^2_{M-1}/M`)
    and :math:`A_n = \sum_{i<n} B_i/M_i` is the conditional variance of
    :math:`(\mu_n-\mu_0)/\sigma_0`. The arrays are updated in place after each yield; the
    caller may draw from ``rng`` in between (the next step's chi-squares come after)."""
    divisors = sizes - 1.0 if estimator == "unbiased" else sizes
    log_b = np.zeros(num_paths)
    a = np.zeros(num_paths)
    for g in range(horizon + 1):
        yield g, a, log_b
        if g == horizon:
            return
        m = sizes[g]
        a += np.exp(log_b) / m
        log_b += np.log(rng.chisquare(m - 1.0, num_paths) / divisors[g])


@refuse_sigma0
def expected_tail_mass(
    k: float,
    num_samples: ScheduleLike,
    generations: ArrayLike,
    *,
    centered: bool = False,
    statistic: str = "mean",
    estimator: str = "unbiased",
    num_paths: int = 100_000,
    seed: SeedLike = None,
) -> np.ndarray:
    r"""Tail mass of model n beyond :math:`k\sigma_0` (docs/theory.md §2.9): mean or median over models.

    **centered=False** — about the original mean: :math:`T_n = P_n(|X-\mu_0| > k\sigma_0)
    = \bar\Phi((k-\delta)/s) + \Phi((-k-\delta)/s)`, :math:`\delta = (\mu_n-\mu_0)/\sigma_0`,
    :math:`s = \sigma_n/\sigma_0`. Given the chi-square path, :math:`\delta\sim N(0, A_n)` with
    :math:`A_n = \sum_{i<n} B_i/M_i`, :math:`B_i = \prod_{l\le i} S_l`, so
    :math:`E[T_n \mid S] = 2\bar\Phi(k/\sqrt{A_n + B_n})`. The law of :math:`A_n + B_n` has no
    closed form, so this branch is **Monte Carlo** over ``num_paths`` chi-square paths
    (Rao–Blackwellised for the mean: :math:`\delta` is integrated out exactly, which removes most
    of the variance; for the median :math:`\delta` is drawn too). It is random: pass ``seed``
    for reproducibility. Standard error of the mean about :math:`\mathrm{sd}/\sqrt{\text{num\_paths}}`.
    Cost O(n x num_paths).

    **centered=True** — about the model's own mean: :math:`T_n = P_n(|X-\mu_n| > k\sigma_0) =
    2\bar\Phi(k/\sqrt{B_n})`. Both statistics are **exact** (deterministic, Gil–Pelaez):

    - mean: :math:`E\,2\bar\Phi(k/\sqrt{B_n}) = P(B_n \chi^2_1 > k^2) = P(L + \ln\chi^2_1 > 2\ln k)`
      with :math:`L = \ln B_n`, inverted from the characteristic function
      :math:`\varphi_L(t)\,\Gamma(\tfrac12+it)2^{it}/\Gamma(\tfrac12)`;
    - median: :math:`2\bar\Phi(k e^{-m/2})` with m the exact median of L (root of the Gil–Pelaez
      CDF); §2.9's approximation :math:`m \approx \kappa_1` gives :math:`2\bar\Phi(k e^{-\kappa_1/2})`.

    The expected mass *grows* (drift and heavy tails) while the typical model loses its tails.
    The law is scale-free: it does not depend on the variance var0 of model 0 (the threshold is
    in units of :math:`\sigma_0 = \sqrt{\mathrm{var0}}`), so there is no ``var0`` argument.

    Parameters
    ----------
    k : float
        Threshold in units of :math:`\sigma_0` (> 0).
    num_samples : int or schedule
        M_i >= 2.
    generations : int or array_like of int
    centered : bool, default False
    statistic : {"mean", "median"}
    estimator : {"unbiased", "mle"}
    num_paths : int, default 100000
        Monte Carlo paths (centered=False only).
    seed : int, SeedSequence, Generator or None
        Randomness for the Monte Carlo branch (centered=False only).

    Returns
    -------
    numpy.ndarray
        Same shape as ``generations``.

    Examples
    --------
    >>> round(float(expected_tail_mass(3.0, 10, 0, centered=True)), 5)
    0.0027
    """
    kk = check_real("k", k, minimum=0.0, strict_minimum=True)
    if not isinstance(centered, (bool, np.bool_)):
        raise InputTypeError(f"centered must be True or False; got {_show(centered)}")
    statistic = check_choice("statistic", statistic, TAIL_STATISTICS)
    num_paths = check_int("num_paths", num_paths, minimum=2, maximum=10**9)
    sizes, gens, kappa1_terms = _log_variance_parts(num_samples, generations, estimator)
    half = 0.5 * (sizes - 1.0)
    out = np.empty(gens.shape)
    flat = gens.ravel()
    res = out.reshape(-1)
    if centered:
        k1 = _cumulative(kappa1_terms, flat)
        k2 = _cumulative(polygamma(1, half), flat)
        for j, g in enumerate(flat):
            halves, counts = _unique_halves(sizes[:g])
            if statistic == "mean":
                # L + ln chi2_1 = L + ln 2 + ln Gamma(1/2).
                halves = np.append(halves, 0.5)
                counts = np.append(counts, 1.0)
                logcf = _CenteredLogGamma(halves, counts)
                mean = k1[j] + math.log(2.0) + float(digamma(0.5))
                var = k2[j] + float(polygamma(1, 0.5))
                res[j] = 1.0 - _gil_pelaez_cdf(2.0 * math.log(kk), logcf, mean, var)
            else:
                if g == 0:
                    median = 0.0
                else:
                    logcf = _CenteredLogGamma(halves, counts)
                    sd = math.sqrt(k2[j])

                    def f(x: float, logcf=logcf, j=j, sd=sd) -> float:
                        return _gil_pelaez_cdf(x, logcf, k1[j], sd * sd) - 0.5

                    lo, hi = k1[j] - 4.0 * sd, k1[j] + 4.0 * sd
                    while f(lo) > 0:
                        lo -= 4.0 * sd
                    while f(hi) < 0:
                        hi += 4.0 * sd
                    median = optimize.brentq(f, lo, hi, xtol=1e-12 * max(1.0, sd))
                res[j] = 2.0 * ndtr(-kk * math.exp(-0.5 * median))
        return out
    rng = as_generator(seed)
    horizon = int(flat.max()) if flat.size else 0
    want: dict[int, list[int]] = {}
    for j, g in enumerate(flat):
        want.setdefault(int(g), []).append(j)
    for g, a, log_b in _chi_square_paths(sizes, estimator, num_paths, horizon, rng):
        if g not in want:
            continue
        b = np.exp(log_b)
        if statistic == "mean":
            value = float(np.mean(_mean_given_path(kk, a, log_b)))
        else:
            delta = np.sqrt(a) * rng.standard_normal(num_paths)
            s = np.sqrt(b)
            with np.errstate(divide="ignore", invalid="ignore"):
                mass = ndtr((delta - kk) / s) + ndtr((-kk - delta) / s)
            value = float(np.median(mass))
        for j in want[g]:
            res[j] = value
    return out


@dataclass(frozen=True)
class GaussianTail:
    r"""The two-sided tail :math:`A = \{x : |x - \mu_0| > k\sigma_0\}` of :math:`N(\mu_0,\sigma_0^2)`.

    Give exactly one of ``k`` > 0 or ``quantile`` q in (0, 1) (the lowest-density region with
    original mass q: :math:`k = \bar\Phi^{-1}(q/2)`). The tail mass of :math:`N(\mu,\sigma^2)` is
    (docs/theory.md §2.9, with :math:`\delta = (\mu-\mu_0)/\sigma_0`, :math:`s = \sigma/\sigma_0`)

    .. math:: T = \bar\Phi\big((k-\delta)/s\big) + \Phi\big((-k-\delta)/s\big).

    Parameters
    ----------
    k : float, optional
        Width k > 0 of the tail in original standard deviations.
    quantile : float, optional
        Original mass q in (0, 1) of the tail, instead of ``k``.

    Examples
    --------
    >>> round(GaussianTail(quantile=0.05).width, 4)
    1.96
    >>> round(GaussianTail(k=3).original_mass, 5)
    0.0027
    """

    k: float | None = None
    quantile: float | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, *width_or_quantile("GaussianTail", self.k, self.quantile))

    @property
    def width(self) -> float:
        """k: the tail starts k original standard deviations from the original mean."""
        if self.k is not None:
            return self.k
        return float(-ndtri(0.5 * self.quantile))

    @property
    def original_mass(self) -> float:
        r""":math:`T_0 = 2\bar\Phi(k)`."""
        return float(2.0 * ndtr(-self.width))

    @refuse_sigma0
    def mass(
        self, mean: ArrayLike, var: ArrayLike, *, mean0: float = 0.0, var0: float = 1.0
    ) -> np.ndarray:
        r"""Tail mass of N(mean, var) (arrays broadcast); original model N(mean0, var0).

        :math:`\bar\Phi((\mu_0 + k\sqrt{\mathrm{var0}} - m)/\sqrt v) +
        \Phi((\mu_0 - k\sqrt{\mathrm{var0}} - m)/\sqrt v)` (docs/theory.md §2.9): the tail
        starts k standard deviations :math:`\sigma_0 = \sqrt{\mathrm{var0}}` from ``mean0``.
        ``var0`` is a variance (> 0); the keyword ``sigma0`` raises a TypeError.
        """
        from collapse_theory.metrics import tail_mass_gaussian

        var0 = check_var0(var0)
        return np.asarray(
            tail_mass_gaussian(mean, var, self.width, center=mean0, scale=math.sqrt(var0))
        )


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


@refuse_sigma0
def gaussian_rao_blackwell(
    tail: GaussianTail,
    num_samples: ScheduleLike,
    generations: ArrayLike,
    *,
    estimator: str = "unbiased",
    eps: float = 0.01,
    num_paths: int = 2000,
    seed: SeedLike = None,
) -> TailCurve:
    r"""Tail mass of the 1-D Gaussian chain under Replace, Rao–Blackwellised over
    :math:`\mu_n` (docs/theory.md §2.4, §2.9).

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
        raise InputTypeError(f"tail must be a GaussianTail; got {type(tail).__name__}")
    gens = check_record(generations)
    sizes = sample_sizes(num_samples, int(gens[-1])).astype(np.float64)
    if sizes.size and sizes.min() < 2:
        raise InputError(f"num_samples must be >= 2 in every generation; got {int(sizes.min())}")
    estimator = _check_estimator(estimator)
    eps = check_eps(eps)
    num_paths = check_int("num_paths", num_paths, minimum=100, maximum=10**7)
    # separate streams: the chi-square paths must not depend on which generations are recorded
    path_seed, grid_seed = as_seed_sequence(seed).spawn(2)
    rng, grid_rng = np.random.default_rng(path_seed), np.random.default_rng(grid_seed)
    k = tail.width
    t0 = tail.original_mass
    g_count = gens.size
    table_bytes = 8 * num_paths * g_count * (_GRID_POINTS + 1)
    if table_bytes > 2 * 2**30:
        raise InputError(
            f"num_paths={num_paths} with {g_count} generations would store "
            f"{table_bytes / 2**30:.1f} GiB of conditional probabilities (limit 2 GiB): "
            "use fewer paths or fewer recorded generations"
        )
    mean, mean_se, mean_share = np.empty(g_count), np.empty(g_count), np.empty(g_count)
    grids = np.empty((g_count, _GRID_POINTS + 1))
    cond = np.empty((num_paths, g_count, _GRID_POINTS + 1))
    wanted = {int(g): j for j, g in enumerate(gens)}
    for g, a, log_b in _chi_square_paths(sizes, estimator, num_paths, int(gens[-1]), rng):
        j = wanted.get(g)
        if j is None:
            continue
        per_path = _mean_given_path(k, a, log_b)
        mean[j], mean_se[j] = _stats.mean_se(per_path)
        mean_share[j] = _stats.top_share(per_path)
        grids[j] = _level_grid(k, log_b, a, eps * t0, grid_rng)
        if g == 0:
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
    prob, prob_se = _stats.mean_se(below, axis=0)
    median[gens == 0] = t0
    quantiles[:, gens == 0] = t0

    def resample(boot_rng: np.random.Generator) -> np.ndarray:
        counts = np.bincount(boot_rng.integers(0, num_paths, num_paths), minlength=num_paths)
        med = summarise(counts / num_paths)[0]
        med[gens == 0] = t0
        return med

    first, last = half_window(gens)
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
        mean_top_share=mean_share,
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


@refuse_sigma0
def gaussian_monte_carlo(
    tail: GaussianTail,
    num_samples: ScheduleLike,
    generations: ArrayLike,
    *,
    estimator: str = "unbiased",
    regime: Regime | None = None,
    eps: float = 0.01,
    num_replicates: int = 2000,
    seed: SeedLike = None,
    progress: bool = False,
    policy: Policy | None = None,
) -> TailCurve:
    r"""Tail mass :math:`\bar\Phi((k-\delta)/s) + \Phi((-k-\delta)/s)` of simulated 1-D Gaussian
    chains started at N(0, 1) (exact sufficient-statistics sampler, docs/theory.md §2.1, §2.9);
    with a sampling ``policy``, of chains whose fitted models generate through it (§8.2).

    The scale drift is the mean per-generation change of :math:`\ln\sigma_n^2` over the second
    half of the horizon (:math:`\approx -1/M` unbiased, :math:`-2/M` MLE under Replace, §2.3).

    Parameters
    ----------
    tail : GaussianTail
        The tail set A of model 0 = N(0, 1).
    num_samples : int or schedule
        Sample size M (or schedule M_i); >= 2 for ``"unbiased"``, >= 1 for ``"mle"``.
    generations : array_like of int
        Recorded generations, at least 2 and including 0.
    estimator : {"unbiased", "mle"}
        Variance estimator of each fit (ddof = 1 or ddof = 0).
    regime : Replace (default), FreshData, Accumulate or WeightedFresh, optional
        Data regime of each generation (as in :func:`collapse_theory.gaussian.simulate`).
    eps : float, default 0.01
        Relative level in (0, 1) of :math:`P(T_n < \varepsilon T_0)`.
    num_replicates : int, default 2000
        Independent chains R >= 2.
    seed : SeedLike, optional
        Seed of the simulation (None: fresh entropy).
    progress : bool, default False
        Show a progress bar while simulating.
    policy : Temperature, Truncation or a Compose of them, optional
        Sampling policy of the fitted models' synthetic draws (docs/theory.md §8.2).

    Returns
    -------
    TailCurve
        ``method="monte-carlo"``: mean, median, quantiles and
        :math:`P(T_n < \varepsilon T_0)` with their standard errors, the scale drift and the
        samples, per recorded generation.

    Examples
    --------
    >>> curve = gaussian_monte_carlo(GaussianTail(k=3), 10, [0, 20], num_replicates=500, seed=0)
    >>> round(float(curve.median[0]), 4)
    0.0027
    """
    if not isinstance(tail, GaussianTail):
        raise InputTypeError(f"tail must be a GaussianTail; got {type(tail).__name__}")
    gens, eps, run = simulate_recorded(
        gaussian_simulate,
        (0.0, 1.0),
        num_samples,
        generations,
        eps=eps,
        num_replicates=num_replicates,
        estimator=estimator,
        regime=regime,
        seed=seed,
        progress=progress,
        policy=policy,
    )
    masses = tail.mass(run["mean"], run["var"])
    with np.errstate(divide="ignore"):
        drift = drift_from_logs(gens, np.log(run["var"]))
    return curve_from_samples(gens, masses, tail.original_mass, eps, scale_drift=drift)


# ---------------------------------------------------------------------------------------------
# rows of the tail-loss table

#: Label and the tail described in the table's notes.
BENCHMARK_NOTE = "gaussian: |x| > 1.645 for N(0,1), the 10% of lowest density (drift: E ln σ²)"


#: Policy rows of the table (docs/theory.md §8.2): label -> policy, N(0, 1), unbiased, replace;
#: Monte Carlo only (the Rao–Blackwellised law is that of the plain chain).
POLICY_ROWS: dict[str, Policy] = {
    "temperature 0.7": Temperature(0.7),
    "temperature 1.3": Temperature(1.3),
    "truncation 2": Truncation(2.0),
}
_POLICY_SEPARATOR = ", "


def benchmark_settings(sizes: tuple[int, ...], quick: bool) -> list[Setting]:
    r"""N(0, 1), unbiased and MLE, every M and regime; 4000 replicates (200 when ``quick``);
    horizon 2M. Policy rows (:data:`POLICY_ROWS`): unbiased, replace, every M, at most 200
    generations (under a temperature above 1 the variance grows like :math:`\tau^{2n}` and
    leaves the float range after about :math:`700/\ln\tau^2` generations); a truncation draws
    its points one by one, so its rows use 1000 replicates.

    Parameters
    ----------
    sizes : tuple of int
        The sample sizes M of the grid (>= 2).
    quick : bool
        Fewer replicates (a quick table for a smoke test).

    Returns
    -------
    list of Setting
        One :class:`~collapse_theory.tails.table.Setting` per (estimator, M, regime) of the
        grid, then one per (policy row, M).
    """
    r = min(4000, 200) if quick else 4000
    rows = [
        Setting("gaussian", "N(0,1)", estimator, m, regime, 2 * m, r, "gaussian")
        for estimator in ("unbiased", "mle")
        for m in sizes
        for regime in REGIMES
    ]
    for label, policy in POLICY_ROWS.items():
        truncated = policy.gaussian_law()[1] < float("inf")
        for m in sizes:
            horizon = min(2 * m, 200)
            replicates = min(r, 1000) if truncated else r
            model = f"N(0,1){_POLICY_SEPARATOR}{label}"
            rows.append(
                Setting(
                    "gaussian", model, "unbiased", m, "replace", horizon, replicates, "gaussian"
                )
            )
    return rows


def benchmark_curves(request: CurveRequest) -> list[TailCurve]:
    """Monte Carlo curve of the setting, then the Rao–Blackwellised law under Replace (without
    a policy).

    Parameters
    ----------
    request : CurveRequest
        The table's cell (``request.setting``), its recorded generations (including 0), tail
        level ``tail_quantile``, ``eps`` and the seeds ``mc_seed`` / ``exact_seed``.

    Returns
    -------
    list of TailCurve
        :func:`gaussian_monte_carlo` (seed ``mc_seed``), followed under Replace without a
        policy by :func:`gaussian_rao_blackwell` (seed ``exact_seed``, at most 2000 paths).
    """
    setting, generations, eps = request.setting, request.generations, request.eps
    label = setting.model.partition(_POLICY_SEPARATOR)[2]
    policy = POLICY_ROWS[label] if label else None
    tail = GaussianTail(quantile=request.tail_quantile)
    m, r = setting.num_samples, setting.replicates
    curves = [
        gaussian_monte_carlo(
            tail,
            m,
            generations,
            estimator=setting.estimator,
            regime=request.regime,
            eps=eps,
            num_replicates=r,
            seed=request.mc_seed,
            policy=policy,
        )
    ]
    if setting.regime == "replace" and policy is None:
        curves.append(
            gaussian_rao_blackwell(
                tail,
                m,
                generations,
                estimator=setting.estimator,
                eps=eps,
                num_paths=min(max(r, 100), 2000),
                seed=request.exact_seed,
            )
        )
    return curves
