r"""Closed forms of recursive Gaussian fitting (docs/theory.md §2 in one dimension, §3 in d dimensions).

Model 0 is :math:`N(\mu_0, \sigma_0^2)` (or :math:`N(\mu_0, \Sigma_0)`); model i+1 is fitted to M_i
draws from model i, with :math:`k_i = M_i - 1`. With the unbiased estimator (ddof=1) the fitted
variance is :math:`\sigma_{i+1}^2 = \sigma_i^2 S_{i+1}`, :math:`S = \chi^2_{k}/k`; with maximum
likelihood (ddof=0) :math:`S = \chi^2_k / M`. The MLE chain is the unbiased chain scaled by the
deterministic factor :math:`\prod_i r_i`, :math:`r_i = (M_i-1)/M_i`, in law (§2.6), which is how the
MLE variants of the multivariate quantities are obtained.

Conventions
-----------
- The scale of the 1-D model 0 is ``var0`` :math:`= \sigma_0^2`, a variance (default 1), in every
  function; passing the old ``sigma0=`` (a standard deviation) raises a ``TypeError`` that says
  to pass ``var0=sigma0**2``. The d-dimensional functions take the covariance ``cov0``.
- ``num_samples`` is an int (constant M) or a schedule (:mod:`collapse_theory.schedules`);
  ``generations`` is an int or an integer array, and results broadcast over it: a scalar
  ``generations`` (and scalar ``eps``) gives a ``numpy.float64``, an array an ndarray.
- Results are finite: a scale (``var0``, ``cov0``) so large that the result exceeds the float64
  range is refused with an ``InputError`` (the closed forms scale as var0 or var0**2: compute
  with var0=1 and rescale). A value beyond the float range for var0 = 1 itself (e.g.
  :func:`variance_of_variance` for M = 2 after 1000 generations, about 3^1000) is inf.
- Products over generations are sums of logarithms (``log1p``, asymptotic series for
  :math:`\psi(x) - \ln x` and :math:`\ln\Gamma(x+\tfrac12) - \ln\Gamma(x) - \tfrac12\ln x`)
  accumulated with cumulative sums, so that n = 10^6 generations and M = 10^9 are exact to
  rounding and fast.
- The unbiased estimator needs M_i >= 2, maximum likelihood M_i >= 1, a d x d covariance fit
  M_i >= d + 1.
"""

from __future__ import annotations

import functools
import inspect
import itertools
import math
import numbers
from collections.abc import Callable
from typing import Any, TypeVar

import numpy as np
from numpy.typing import ArrayLike
from scipy import integrate
from scipy.special import bernoulli, digamma, gammaln, loggamma, ndtr, polygamma

from collapse_theory._validate import (
    InputError,
    InputTypeError,
    _show,
    as_float_array,
    check_choice,
    check_covariance,
    check_generations,
    check_horizon,
    check_int,
    check_real,
    scalar_or_array,
)
from collapse_theory.policies import Policy, check_policy
from collapse_theory.regimes import (
    BASIC_REGIMES,
    FreshData,
    Regime,
    Replace,
    WeightedFresh,
    check_regime,
)
from collapse_theory.schedules import (
    MAX_SAMPLE_SIZE,
    Constant,
    ScheduleLike,
    as_schedule,
    sample_sizes,
)

__all__ = [
    "expected_det",
    "expected_log_det",
    "expected_mean_drift",
    "expected_std",
    "expected_tail_mass",  # noqa: F822 (the tail law, from tails.py by __getattr__)
    "expected_variance",
    "expected_w2_squared",
    "fresh_draw_variance",
    "log_variance_cumulants",
    "lyapunov_exponents",
    "mean_squared_drift",
    "optimal_fresh_weight",
    "prob_variance_below",
    "stationary_moments",
    "trace_moments",
    "variance_log_det",
    "variance_of_variance",
    "w2_first_order",
    "w2_first_order_isotropic",
    "w2_lower_bound",
    "w2_squared_bounds",
    "w2_squared_moments",
]

ESTIMATORS = ("unbiased", "mle")
#: Default regime (regimes are frozen dataclasses, so one shared instance is safe).
REPLACE = Replace()
PROBABILITY_METHODS = ("exact", "normal", "edgeworth")
#: Above this argument the asymptotic series replace the special-function differences.
_SERIES_FROM = 10.0
_BERNOULLI = bernoulli(20)

#: Regimes with closed forms for (E sigma_n^2, E(mu_n - mu_0)^2) (docs/theory.md §2.7, §2.8, §9.1).
_MOMENT_REGIMES = (*BASIC_REGIMES, WeightedFresh)
_REGIME_TABLE = (
    "expected_variance, mean_squared_drift, fresh_draw_variance: Replace, FreshData, Accumulate, "
    "WeightedFresh (unbiased and mle); expected_std, variance_of_variance, expected_w2_squared: Replace only"
)


# ---------------------------------------------------------------------------------------------
# Shared helpers


def _psi_minus_log(x: np.ndarray) -> np.ndarray:
    r""":math:`\psi(x) - \ln x`, by its asymptotic series for large x (no cancellation)."""
    x = np.asarray(x, dtype=np.float64)
    out = np.empty_like(x)
    big = x >= _SERIES_FROM
    small = ~big
    out[small] = digamma(x[small]) - np.log(x[small])
    xb = x[big]
    series = -0.5 / xb
    inv2 = 1.0 / (xb * xb)
    power = inv2.copy()
    for m in range(1, 11):
        series -= _BERNOULLI[2 * m] / (2 * m) * power
        power *= inv2
    out[big] = series
    return out


def _log_c(k: np.ndarray) -> np.ndarray:
    r""":math:`\ln c(k) = \ln\Gamma(\tfrac{k+1}{2}) - \ln\Gamma(\tfrac k2) - \tfrac12 \ln\tfrac k2`.

    For x = k/2 >= 20 the series
    :math:`\sum_{m\ge1} (2^{1-2m}-2) B_{2m} / (2m(2m-1) x^{2m-1}) = -1/(8x) + 1/(192x^3) - \dots`
    is used; ``k = 0`` (MLE with M = 1) gives ``-inf`` (the fitted sigma is 0).
    """
    k = np.asarray(k, dtype=np.float64)
    x = 0.5 * k
    out = np.empty_like(x)
    zero = k == 0
    big = x >= _SERIES_FROM
    small = ~big & ~zero
    out[zero] = -np.inf
    xs = x[small]
    out[small] = gammaln(xs + 0.5) - gammaln(xs) - 0.5 * np.log(xs)
    xb = x[big]
    series = np.zeros_like(xb)
    inv2 = 1.0 / (xb * xb)
    power = 1.0 / xb
    for m in range(1, 11):
        series += (2.0 ** (1 - 2 * m) - 2.0) * _BERNOULLI[2 * m] / (2 * m * (2 * m - 1)) * power
        power = power * inv2
    out[big] = series
    return out


def _check_estimator(estimator: Any) -> str:
    return check_choice("estimator", estimator, ESTIMATORS)


def _prepare(
    num_samples: ScheduleLike, generations: ArrayLike, *, minimum: int, why: str
) -> tuple[np.ndarray, np.ndarray]:
    """Sizes M_0..M_{N-1} (float64, N = max generation) and the int64 generations array; the
    per-generation arrays are checked against the memory limit before they exist."""
    gens = check_generations("generations", generations)
    schedule = as_schedule(num_samples)
    horizon = int(gens.max()) if gens.size else 0
    check_horizon("generations", horizon)
    sizes = schedule.sizes(horizon).astype(np.float64)
    if sizes.size and sizes.min() < minimum:
        where = int(np.argmin(sizes))
        raise InputError(
            f"num_samples must be >= {minimum} ({why}); got M_{where} = {int(sizes[where])} "
            f"from num_samples={_show(num_samples)}"
        )
    return sizes, gens


def _min_size(estimator: str) -> tuple[int, str]:
    if estimator == "unbiased":
        return 2, "the unbiased variance needs at least 2 samples"
    return 1, "a maximum-likelihood fit needs at least 1 sample"


def _cumulative(terms: np.ndarray, gens: np.ndarray) -> np.ndarray:
    """Partial sums S_g = sum_{i<g} terms_i at the requested generations (S_0 = 0)."""
    sums = np.concatenate(([0.0], np.cumsum(terms)))
    return sums[gens]


_F = TypeVar("_F", bound=Callable[..., Any])


def refuse_sigma0(function: _F) -> _F:
    """Decorator: calling ``function`` with the keyword ``sigma0=`` raises a ``TypeError``.

    The scale of a 1-D Gaussian model 0 is spelled ``var0``, a variance, everywhere; ``sigma0``
    (a standard deviation) was its old spelling in the closed forms, and silently accepting it
    would compare variance s with variance s**2. For a function that takes ``var0`` the message
    says to pass ``var0=sigma0**2`` (with the converted value when it is a number); for a
    scale-free one (no ``var0``: its result does not depend on the variance of model 0) it says
    to drop the argument. The wrapper keeps the signature (``functools.wraps``), so
    ``inspect.signature`` still shows the function's own parameters.
    """
    takes_var0 = "var0" in inspect.signature(function).parameters

    @functools.wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if "sigma0" in kwargs:
            sigma0 = kwargs["sigma0"]
            name = f"{function.__qualname__}()"
            if not takes_var0:
                raise InputTypeError(
                    f"{name} does not take sigma0 (got sigma0={_show(sigma0)}): its result does "
                    "not depend on the scale of model 0 (whose variance is var0 elsewhere); "
                    "remove the argument"
                )
            converted = ""
            if isinstance(sigma0, numbers.Real) and not isinstance(sigma0, bool):
                converted = f" (here var0={float(sigma0) ** 2!r})"
            raise InputTypeError(
                f"{name} takes var0, the variance of model 0, not sigma0 (a standard "
                f"deviation); got sigma0={_show(sigma0)}: pass var0=sigma0**2{converted}"
            )
        return function(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


def check_var0(var0: Any) -> float:
    """The variance of the 1-D model 0 (finite, > 0), as a float."""
    return check_real("var0 (the variance of model 0)", var0, minimum=0.0, strict_minimum=True)


def _log_r(sizes: np.ndarray) -> np.ndarray:
    """ln((M-1)/M), -inf for M = 1."""
    with np.errstate(divide="ignore"):
        return np.log1p(-1.0 / sizes)


def _scaled(log_factor: np.ndarray, log_scale: float, scale_name: str) -> np.ndarray:
    """exp(log_factor + log_scale) without intermediate overflow of the scale; refused (see
    :func:`_times_scale`) where only the scale makes it overflow."""
    with np.errstate(over="ignore", under="ignore"):
        return _refuse_scale_overflow(
            np.exp(log_factor), np.exp(log_factor + log_scale), scale_name
        )


def _times_scale(values: np.ndarray, scale: float, scale_name: str) -> np.float64 | np.ndarray:
    """``values * scale`` (e.g. var0 or var0**2) as the function's result
    (:func:`~collapse_theory._validate.scalar_or_array`), refused with an ``InputError`` naming
    the scale where the product overflows although ``values`` (the result for var0 = 1) is
    finite."""
    with np.errstate(over="ignore", invalid="ignore"):
        return _refuse_scale_overflow(values, np.asarray(values) * scale, scale_name)


def _refuse_scale_overflow(
    unscaled: np.ndarray, scaled: np.ndarray, scale_name: str
) -> np.float64 | np.ndarray:
    overflow = np.isfinite(unscaled) & ~np.isfinite(scaled)
    if np.any(overflow):
        raise InputError(
            f"{scale_name} makes the result overflow float64 ({int(np.sum(overflow))} of "
            f"{np.size(scaled)} values): the closed form scales with it, so compute it for a "
            "unit scale (var0=1, or cov0 divided by its largest entry) and rescale in log space"
        )
    return scalar_or_array(scaled)


# ---------------------------------------------------------------------------------------------
# Regimes: the pair (V_n, D_n) = (E sigma_n^2, E (mu_n - mu_0)^2) with var0 = 1


def _fresh_step(size: float, beta: float, split: bool, mle: bool) -> np.ndarray:
    """3x3 affine map (V, D, 1) -> (V', D', 1) of one FreshData generation (docs/theory.md §2.7)."""
    ratio = (size - 1.0) / size if mle else 1.0
    if split:
        # m = beta*M true draws, M - m synthetic: pooled fit (docs/theory.md §2.7).
        cross = beta * (1.0 - beta) * size / (size - 1.0) if size > 1 else 0.0
        v_row = [ratio * (1.0 - beta), ratio * cross, ratio * beta]
        d_row = [(1.0 - beta) / size, (1.0 - beta) ** 2, beta / size]
    else:
        # Every point from the mixture (1-beta) N(mu_n, V) + beta N(mu_0, 1): its variance is
        # Q = beta + (1-beta) V + beta (1-beta) (mu_n - mu_0)^2.
        q = [1.0 - beta, beta * (1.0 - beta), beta]
        v_row = [ratio * q[0], ratio * q[1], ratio * q[2]]
        d_row = [q[0] / size, (1.0 - beta) ** 2 + q[1] / size, q[2] / size]
    return np.array([v_row, d_row, [0.0, 0.0, 1.0]])


def _fresh_betas(sizes: np.ndarray, fresh: FreshData) -> np.ndarray:
    if fresh.variant == "split":
        return np.rint(fresh.fraction * sizes) / sizes
    return np.full(sizes.shape, fresh.fraction)


def _fresh_moments(
    sizes: np.ndarray, gens: np.ndarray, fresh: FreshData, mle: bool
) -> tuple[np.ndarray, np.ndarray]:
    split = fresh.variant == "split"
    betas = _fresh_betas(sizes, fresh)
    start = np.array([1.0, 0.0, 1.0])
    values = np.empty((gens.size, 2))
    flat = gens.ravel()
    if sizes.size and np.all(sizes == sizes[0]):
        step = _fresh_step(sizes[0], betas[0], split, mle)
        for j, g in enumerate(flat):
            values[j] = (np.linalg.matrix_power(step, int(g)) @ start)[:2]
    else:
        order = np.argsort(flat, kind="stable")
        v, d = 1.0, 0.0
        done = 0
        for j in order:
            g = int(flat[j])
            while done < g:
                m, b = sizes[done], betas[done]
                r = (m - 1.0) / m if mle else 1.0
                if split:
                    cross = b * (1.0 - b) * m / (m - 1.0) if m > 1 else 0.0
                    v, d = (
                        r * (b + (1.0 - b) * v + cross * d),
                        (1.0 - b) ** 2 * d + (b + (1.0 - b) * v) / m,
                    )
                else:
                    q = b + (1.0 - b) * v + b * (1.0 - b) * d
                    v, d = r * q, (1.0 - b) ** 2 * d + q / m
                done += 1
            values[j] = (v, d)
    return values[:, 0].reshape(gens.shape), values[:, 1].reshape(gens.shape)


def _accumulate_moments(
    sizes: np.ndarray, gens: np.ndarray, mle: bool
) -> tuple[np.ndarray, np.ndarray]:
    r"""(V_n, D_n) for the accumulate regime with any schedule (docs/theory.md §2.8).

    Pool sizes :math:`N_j = \sum_{i<j} M_i`. Model j >= 1 is fitted to the pool of N_j points; with
    :math:`d_j = N_j - 1` (unbiased) or :math:`N_j` (MLE), the expected sum of squares gives
    :math:`V_{j+1} = V_j\,[1 - M_j/(N_{j+1} d_{j+1})]` (unbiased) or :math:`V_j [1 - M_j/N_{j+1}^2]`
    (MLE) for j >= 1, and :math:`D_{j+1} = D_j + M_j V_j / N_{j+1}^2`.
    """
    n = sizes.size
    pools = np.cumsum(sizes)  # N_1, ..., N_n
    log_v = np.zeros(n + 1)
    if n >= 1:
        log_v[1] = float(_log_r(sizes[:1])[0]) if mle else 0.0
    if n >= 2:
        nxt = pools[1:]  # N_{j+1} for j = 1..n-1
        denom = nxt * nxt if mle else nxt * (nxt - 1.0)
        with np.errstate(divide="ignore"):
            log_v[2:] = log_v[1] + np.cumsum(np.log1p(-sizes[1:] / denom))
    with np.errstate(under="ignore"):
        v = np.exp(log_v)
    drift_terms = sizes * v[:n] / (pools * pools)
    return v[gens], _cumulative(drift_terms, gens)


def _weighted_step(size: float, regime: WeightedFresh, mle: bool) -> np.ndarray:
    r"""3x3 affine map (V, D, 1) -> (V', D', 1) of one WeightedFresh generation, var0 = 1
    (docs/theory.md §9.1): with u = 1 - w, :math:`r_k = (k-1)/(k-\delta)`,
    :math:`V' = u\,r_M V + w\,r_n`, :math:`D' = u^2(D + V/M) + w^2/n`."""
    delta = 0.0 if mle else 1.0
    n, w = float(regime.num_real), regime.weight
    u = 1.0 - w
    v_row = [u * (size - 1.0) / (size - delta), 0.0, w * (n - 1.0) / (n - delta)]
    d_row = [u * u / size, u * u, w * w / n]
    return np.array([v_row, d_row, [0.0, 0.0, 1.0]])


def _weighted_moments(
    sizes: np.ndarray, gens: np.ndarray, regime: WeightedFresh, mle: bool
) -> tuple[np.ndarray, np.ndarray]:
    """(V_t, D_t) for t = gens under WeightedFresh, from (V_0, D_0) = (1, 0)."""
    path = np.empty((sizes.size + 1, 3))
    path[0] = (1.0, 0.0, 1.0)
    for t, size in enumerate(sizes):
        path[t + 1] = _weighted_step(float(size), regime, mle) @ path[t]
    return path[gens, 0], path[gens, 1]


def _weighted_stationary(size: float, regime: WeightedFresh, mle: bool) -> tuple[float, float]:
    """The fixed point (V, D) of :func:`_weighted_step`, var0 = 1, written without cancellation
    for small w: 1 - (1-w) r_M = (1 - r_M) + w r_M and 1 - (1-w)^2 = w (2 - w)."""
    delta = 0.0 if mle else 1.0
    n, w = float(regime.num_real), regime.weight
    r_m, r_n = (size - 1.0) / (size - delta), (n - 1.0) / (n - delta)
    v = w * r_n / ((1.0 - r_m) + w * r_m)
    d = ((1.0 - w) ** 2 * v / size + w * w / n) / (w * (2.0 - w))
    return v, d


def _check_num_real(regime: Regime, estimator: str) -> None:
    minimum, why = _min_size(estimator)
    if isinstance(regime, WeightedFresh) and regime.num_real < minimum:
        raise InputError(f"WeightedFresh num_real must be >= {minimum} ({why}); got {regime!r}")


def _regime_moments(
    num_samples: ScheduleLike, generations: ArrayLike, estimator: str, regime: Regime
) -> tuple[np.ndarray, np.ndarray]:
    """(E sigma_n^2, E(mu_n - mu_0)^2) / var0 for any supported regime."""
    estimator = _check_estimator(estimator)
    regime = check_regime(regime, _MOMENT_REGIMES, "the Gaussian moments")
    _check_num_real(regime, estimator)
    minimum, why = _min_size(estimator)
    sizes, gens = _prepare(num_samples, generations, minimum=minimum, why=why)
    mle = estimator == "mle"
    if isinstance(regime, WeightedFresh):
        return _weighted_moments(sizes, gens, regime, mle)
    if isinstance(regime, Replace):
        if mle:
            with np.errstate(under="ignore"):
                log_product = _cumulative(_log_r(sizes), gens)
                return np.exp(log_product), -np.expm1(log_product)
        return np.ones(gens.shape), _cumulative(1.0 / sizes, gens)
    if isinstance(regime, FreshData):
        if regime.variant == "split" and np.any(sizes - np.rint(regime.fraction * sizes) < 1):
            raise InputError(
                f"FreshData(fraction={regime.fraction}, 'split') leaves no synthetic draws for "
                f"some M_i in num_samples={_show(num_samples)}; use a smaller fraction"
            )
        return _fresh_moments(sizes, gens, regime, mle)
    return _accumulate_moments(sizes, gens, mle)


def _replace_only(name: str, regime: Regime) -> None:
    regime = check_regime(regime, _MOMENT_REGIMES)
    if not isinstance(regime, Replace):
        raise InputError(
            f"{name} has a closed form only for regime=Replace(); got {regime!r}. "
            f"Closed forms exist for: {_REGIME_TABLE}"
        )


def _policy(name: str, policy: object, regime: Regime) -> Policy | None:
    """The sampling policy (None for none or an identity); closed forms need Replace (§8.2)."""
    policy = check_policy(policy, "gaussian")
    if policy is None or policy.is_identity:
        return None
    regime = check_regime(regime, _MOMENT_REGIMES)
    if not isinstance(regime, Replace):
        raise InputError(
            f"{name} under policy={policy!r} has a closed form only for regime=Replace(); got "
            f"{regime!r}: use simulate(..., policy=...)"
        )
    return policy


def _policy_moments(
    num_samples: ScheduleLike, generations: ArrayLike, estimator: str, policy: Policy
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(E sigma_n^2, E (mu_n - mu_0)^2, E sigma_n^4) for var0 = 1 under a policy (§8.2)."""
    from collapse_theory.gaussian.policy import policy_moments

    estimator = _check_estimator(estimator)
    minimum, why = _min_size(estimator)
    sizes, gens = _prepare(num_samples, generations, minimum=minimum, why=why)
    return policy_moments(sizes, gens, 1 if estimator == "unbiased" else 0, policy)


def _temperature_shift(policy: Policy, gens: np.ndarray, what: str) -> np.ndarray:
    """(n - 1)^+ ln tau for a temperature: sigma_n = tau^{(n-1)^+} x the plain sigma_n (§8.2)."""
    scale, cut = policy.gaussian_law()
    if cut < math.inf:
        raise InputError(
            f"{what} has no closed form under policy={policy!r} (a truncated sample variance "
            "is not a chi-square, docs/theory.md §8.2): estimate it by Monte Carlo with "
            "simulate(..., policy=...); expected_variance, variance_of_variance and "
            "mean_squared_drift are exact under any policy"
        )
    return np.maximum(gens - 1, 0) * math.log(scale)


# ---------------------------------------------------------------------------------------------
# 1-D moments


@refuse_sigma0
def expected_variance(
    num_samples: ScheduleLike,
    generations: ArrayLike,
    *,
    var0: float = 1.0,
    estimator: str = "unbiased",
    regime: Regime = REPLACE,
    policy: Policy | None = None,
) -> np.ndarray:
    r"""Expected fitted variance :math:`E\sigma_n^2` (docs/theory.md §2.2, §2.6, §2.7, §2.8).

    With :math:`\sigma_0^2 = \mathrm{var0}` (the variance of model 0):

    - Replace, unbiased: :math:`E\sigma_n^2 = \mathrm{var0}` (a martingale, not uniformly
      integrable; docs/theory.md §2.2).
    - Replace, MLE: :math:`\mathrm{var0}\prod_{i<n} r_i`, :math:`r_i = (M_i - 1)/M_i` (§2.6).
    - FreshData (§2.7): the exact linear recursion for :math:`(V_n, D_n)`; ``variant="split"``
      uses m_i = round(fraction M_i) true draws,
      :math:`V_{n+1} = \beta\,\mathrm{var0} + (1-\beta)V_n + \beta(1-\beta)\tfrac{M}{M-1}D_n`;
      ``variant="mix"`` draws each point from the mixture, whose variance
      :math:`Q_n = \beta\,\mathrm{var0} + (1-\beta)V_n + \beta(1-\beta)D_n` gives
      :math:`V_{n+1} = Q_n`. The MLE multiplies :math:`V_{n+1}` by :math:`r`.
    - Accumulate (§2.8): :math:`\mathrm{var0}\prod_{j=2}^{n}[1 - 1/(j(jM-1))]` for constant M;
      for a schedule :math:`\mathrm{var0}\prod_{j=1}^{n-1}[1 - M_j/(N_{j+1}(N_{j+1}-1))]`,
      :math:`N_j=\sum_{i<j}M_i` (MLE: :math:`\mathrm{var0}(1-1/M_0)\prod_j [1 - M_j/N_{j+1}^2]`).
    - A sampling ``policy`` (Replace, §8.2): the fitted models generate
      :math:`\hat\mu + \hat\sigma s X`, X ~ N(0, 1) on [-c, c]; with
      :math:`c_c = E X^2`, :math:`E\sigma_n^2 = \mathrm{var0}\, E S_0 (s^2 c_c)^{n-1}
      \prod_{i=1}^{n-1} E S_i`: unbiased :math:`\mathrm{var0}\,\tau^{2(n-1)}` (Temperature),
      :math:`\mathrm{var0}\, c_k^{n-1}` (Truncation(k)); MLE times :math:`\prod_{i<n} r_i`.

    Parameters
    ----------
    num_samples : int or schedule
        Sample size M (or schedule M_i); >= 2 for ``"unbiased"``, >= 1 for ``"mle"``.
    generations : int or array_like of int
        Generations n >= 0; the result broadcasts over them.
    var0 : float, default 1.0
        Variance :math:`\sigma_0^2` of the original model (> 0). The old keyword ``sigma0`` (a
        standard deviation) raises a TypeError: pass ``var0=sigma0**2``.
    estimator : {"unbiased", "mle"}
    regime : Replace, FreshData or Accumulate
    policy : Temperature, Truncation or a Compose of them, optional
        Sampling policy of the fitted models (docs/theory.md §8.2; Replace only).

    Returns
    -------
    numpy.float64 or numpy.ndarray
        Same shape as ``generations`` (a float for a scalar).

    Raises
    ------
    ValueError, TypeError
        Invalid arguments (named in the message).

    Examples
    --------
    >>> float(expected_variance(10, 20, estimator="mle"))  # doctest: +ELLIPSIS
    0.1215...
    """
    var0 = check_var0(var0)
    policy = _policy("expected_variance", policy, regime)
    if policy is not None:
        v = _policy_moments(num_samples, generations, estimator, policy)[0]
        return _times_scale(v, var0, f"var0={var0:g}")
    v, _ = _regime_moments(num_samples, generations, estimator, regime)
    return _times_scale(v, var0, f"var0={var0:g}")


@refuse_sigma0
def mean_squared_drift(
    num_samples: ScheduleLike,
    generations: ArrayLike,
    *,
    var0: float = 1.0,
    estimator: str = "unbiased",
    regime: Regime = REPLACE,
    policy: Policy | None = None,
) -> np.ndarray:
    r"""Mean squared drift of the mean :math:`E(\mu_n - \mu_0)^2` (docs/theory.md §2.4, §2.6–2.8).

    With :math:`\sigma_0^2 = \mathrm{var0}`:

    - Replace, unbiased: :math:`\mathrm{var0} \sum_{i<n} 1/M_i` (docs/theory.md §2.4).
    - Replace, MLE: :math:`\mathrm{var0}\,(1 - \prod_{i<n} r_i)` (§2.6; since
      :math:`1/M_i = 1 - r_i` the sum :math:`\sum_i \prod_{l<i} r_l / M_i` telescopes), so that
      :math:`E[(\mu_n-\mu_0)^2 + \sigma_n^2] = \mathrm{var0}`.
    - FreshData (§2.7): :math:`D_{n+1} = (1-\beta)^2 D_n + (\beta\,\mathrm{var0} + (1-\beta)V_n)/M`
      (split) or :math:`(1-\beta)^2 D_n + Q_n/M` (mix, see :func:`expected_variance`).
    - Accumulate (§2.8): :math:`\sum_{j<n} M_j V_j / N_{j+1}^2`, i.e.
      :math:`(1/M)\sum_{j=1}^{n} V_{j-1}/j^2` for constant M (:math:`V_j = E\sigma_j^2`, so
      the result is proportional to var0).
    - A sampling ``policy`` (Replace, §8.2): :math:`\sum_{i<n} v_i E\sigma_i^2 / M_i` with
      :math:`v_0 = 1` and :math:`v_i = s^2 c_c` (the variance of the sampled law over
      :math:`\hat\sigma^2`; see :func:`expected_variance`).

    Parameters
    ----------
    num_samples : int or schedule
        Sample size M (or schedule M_i); >= 2 for ``"unbiased"``, >= 1 for ``"mle"``.
    generations : int or array_like of int
        Generations n >= 0; the result broadcasts over them.
    var0 : float, default 1.0
        Variance :math:`\sigma_0^2` of the original model (> 0).
    estimator : {"unbiased", "mle"}
        Variance estimator of each fit (ddof = 1 or ddof = 0).
    regime : Replace, FreshData or Accumulate
        Data regime of each generation (docs/theory.md §2.7, §2.8).
    policy : Temperature, Truncation or a Compose of them, optional
        Sampling policy of the fitted models (docs/theory.md §8.2; Replace only).

    Returns
    -------
    numpy.float64 or numpy.ndarray
        :math:`E(\mu_n - \mu_0)^2`, same shape as ``generations`` (a float for a scalar); 0 at
        n = 0.

    Examples
    --------
    >>> round(float(mean_squared_drift(10, 20)), 12)
    2.0
    """
    var0 = check_var0(var0)
    policy = _policy("mean_squared_drift", policy, regime)
    if policy is not None:
        d = _policy_moments(num_samples, generations, estimator, policy)[1]
        return _times_scale(d, var0, f"var0={var0:g}")
    _, d = _regime_moments(num_samples, generations, estimator, regime)
    return _times_scale(d, var0, f"var0={var0:g}")


@refuse_sigma0
def fresh_draw_variance(
    num_samples: ScheduleLike,
    generations: ArrayLike,
    *,
    var0: float = 1.0,
    estimator: str = "unbiased",
    regime: Regime = REPLACE,
) -> np.ndarray:
    r"""Variance of one draw X from model n about :math:`\mu_0` (docs/theory.md §2.4).

    :math:`\operatorname{Var} X = E\sigma_n^2 + E(\mu_n - \mu_0)^2`; with
    :math:`\sigma_0^2 = \mathrm{var0}`, Replace/unbiased: :math:`\mathrm{var0}\,(1 + \sum_{i<n}1/M_i)`;
    Replace/MLE: :math:`\mathrm{var0}` (conservation, docs/theory.md §2.6).

    Parameters
    ----------
    num_samples : int or schedule
        Sample size M (or schedule M_i); >= 2 for ``"unbiased"``, >= 1 for ``"mle"``.
    generations : int or array_like of int
        Generations n >= 0; the result broadcasts over them.
    var0 : float, default 1.0
        Variance :math:`\sigma_0^2` of the original model (> 0).
    estimator : {"unbiased", "mle"}
        Variance estimator of each fit (ddof = 1 or ddof = 0).
    regime : Replace, FreshData or Accumulate
        Data regime of each generation (docs/theory.md §2.7, §2.8).

    Returns
    -------
    numpy.float64 or numpy.ndarray
        :math:`\operatorname{Var} X = E\sigma_n^2 + E(\mu_n - \mu_0)^2`, same shape as
        ``generations`` (a float for a scalar).

    Examples
    --------
    >>> round(float(fresh_draw_variance(10, 20)), 12)
    3.0
    """
    var0 = check_var0(var0)
    v, d = _regime_moments(num_samples, generations, estimator, regime)
    return _times_scale(v + d, var0, f"var0={var0:g}")


@refuse_sigma0
def expected_std(
    num_samples: ScheduleLike,
    generations: ArrayLike,
    *,
    var0: float = 1.0,
    estimator: str = "unbiased",
    regime: Regime = REPLACE,
    policy: Policy | None = None,
) -> np.ndarray:
    r"""Expected fitted standard deviation :math:`E\sigma_n` (docs/theory.md §2.2, §2.6).

    :math:`E\sigma_n = \sqrt{\mathrm{var0}}\,\prod_{i<n} c(k_i)` (:math:`\sigma_0 = \sqrt{\mathrm{var0}}`),
    :math:`c(k) = \sqrt{2/k}\,\Gamma(\tfrac{k+1}{2})/\Gamma(\tfrac k2) \approx 1 - 1/(4k)` (unbiased);
    MLE: :math:`\sqrt{\mathrm{var0}}\,\prod_{i<n} c(k_i)\sqrt{r_i}` (docs/theory.md §2.6). Only
    ``regime=Replace()``. Under ``policy=Temperature(tau)`` (§8.2) the result is multiplied by
    :math:`\tau^{n-1}` (n >= 1); a truncation has no closed form (Monte Carlo).

    Parameters
    ----------
    num_samples : int or schedule
        Sample size M (or schedule M_i); >= 2 for ``"unbiased"``, >= 1 for ``"mle"``.
    generations : int or array_like of int
        Generations n >= 0; the result broadcasts over them.
    var0 : float, default 1.0
        Variance :math:`\sigma_0^2` of the original model (> 0).
    estimator : {"unbiased", "mle"}
        Variance estimator of each fit (ddof = 1 or ddof = 0).
    regime : Replace
        Only ``Replace()``; other regimes raise.
    policy : Temperature, optional
        Sampling policy of the fitted models (docs/theory.md §8.2); a truncation raises.

    Returns
    -------
    numpy.float64 or numpy.ndarray
        :math:`E\sigma_n`, same shape as ``generations`` (a float for a scalar).

    Examples
    --------
    >>> round(float(expected_std(10, 20)), 4)
    0.5744
    """
    var0 = check_var0(var0)
    estimator = _check_estimator(estimator)
    _replace_only("expected_std", regime)
    minimum, why = _min_size(estimator)
    sizes, gens = _prepare(num_samples, generations, minimum=minimum, why=why)
    terms = _log_c(sizes - 1.0)
    if estimator == "mle":
        terms = terms + 0.5 * _log_r(sizes)
    log_factor = _cumulative(terms, gens)
    policy = _policy("expected_std", policy, regime)
    if policy is not None:
        log_factor = log_factor + _temperature_shift(policy, gens, "expected_std")
    # ln sqrt(var0) = ln(var0) / 2, added in log space (no overflow of the scale)
    return _scaled(log_factor, 0.5 * math.log(var0), f"var0={var0:g}")


@refuse_sigma0
def variance_of_variance(
    num_samples: ScheduleLike,
    generations: ArrayLike,
    *,
    var0: float = 1.0,
    estimator: str = "unbiased",
    regime: Regime = REPLACE,
    policy: Policy | None = None,
) -> np.ndarray:
    r""":math:`\operatorname{Var}\sigma_n^2` (docs/theory.md §2.2, §2.6).

    With :math:`\sigma_0^4 = \mathrm{var0}^2`: unbiased,
    :math:`\mathrm{var0}^2[\prod_{i<n}(1 + 2/k_i) - 1]`; MLE (:math:`E S = r`,
    :math:`E S^2 = r^2(1+2/k)`, docs/theory.md §2.6):
    :math:`\mathrm{var0}^2 \prod_i r_i^2\,[\prod_i(1 + 2/k_i) - 1]`. Only ``regime=Replace()``.
    The result scales as :math:`\mathrm{var0}^2` and overflows to inf (underflows to 0) when that
    is outside the float range (:math:`\mathrm{var0} \gtrsim 10^{154}`). Under a sampling
    ``policy`` (Replace, §8.2):
    :math:`E\sigma_n^4 - (E\sigma_n^2)^2` with :math:`E\sigma_n^4 = \mathrm{var0}^2 E S_0^2
    \prod_{i=1}^{n-1} s^4 E W_i^2` and
    :math:`E W^2 = c_c^2 (\tfrac{M-1}{M-\delta})^2 (1 + \kappa/M - \tfrac{M-3}{M(M-1)})`,
    :math:`\kappa = E X^4 / c_c^2` the kurtosis of the sampled law.

    Parameters
    ----------
    num_samples : int or schedule
        Sample size M (or schedule M_i); >= 2 for ``"unbiased"``, >= 1 for ``"mle"``.
    generations : int or array_like of int
        Generations n >= 0; the result broadcasts over them.
    var0 : float, default 1.0
        Variance :math:`\sigma_0^2` of the original model (> 0).
    estimator : {"unbiased", "mle"}
        Variance estimator of each fit (ddof = 1 or ddof = 0).
    regime : Replace
        Only ``Replace()``; other regimes raise.
    policy : Temperature, Truncation or a Compose of them, optional
        Sampling policy of the fitted models (docs/theory.md §8.2).

    Returns
    -------
    numpy.float64 or numpy.ndarray
        :math:`\operatorname{Var}\sigma_n^2`, same shape as ``generations`` (a float for a
        scalar); 0 at n = 0.

    Examples
    --------
    >>> round(float(variance_of_variance(100, 10)), 4)
    0.2214
    """
    var0 = check_var0(var0)
    estimator = _check_estimator(estimator)
    _replace_only("variance_of_variance", regime)
    policy = _policy("variance_of_variance", policy, regime)
    if policy is not None:
        v, _, q = _policy_moments(num_samples, generations, estimator, policy)
        with np.errstate(over="ignore", invalid="ignore"):
            unit = q - v * v
        return _times_scale(unit, var0 * var0, f"var0={var0:g} (the result scales as var0**2)")
    minimum, why = _min_size(estimator)
    sizes, gens = _prepare(num_samples, generations, minimum=minimum, why=why)
    k = sizes - 1.0
    if estimator == "mle" and np.any(k == 0):
        # M = 1: sigma becomes exactly 0 after that fit.
        first = int(np.argmax(k == 0))
        zero = gens > first
    else:
        zero = np.zeros(gens.shape, bool)
    with np.errstate(divide="ignore"):
        growth = np.expm1(_cumulative(np.log1p(2.0 / np.where(k > 0, k, 1.0)), gens))
    log_scale = 2.0 * math.log(var0)  # ln var0^2, added in log space
    if estimator == "mle":
        log_scale_arr = 2.0 * _cumulative(np.where(k > 0, _log_r(sizes), 0.0), gens)
    else:
        log_scale_arr = np.zeros(gens.shape)
    with np.errstate(over="ignore", under="ignore", invalid="ignore"):
        unit = np.where(zero, 0.0, growth * np.exp(log_scale_arr))
        out = np.where(zero, 0.0, growth * np.exp(log_scale_arr + log_scale))
    return _refuse_scale_overflow(unit, out, f"var0={var0:g} (the result scales as var0**2)")


# ---------------------------------------------------------------------------------------------
# Log scale (docs/theory.md §2.3)


def _log_variance_parts(
    num_samples: ScheduleLike, generations: ArrayLike, estimator: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    estimator = _check_estimator(estimator)
    sizes, gens = _prepare(
        num_samples,
        generations,
        minimum=2,
        why="log-scale quantities need k = M - 1 >= 1 (ln sigma^2 = -inf otherwise)",
    )
    k = sizes - 1.0
    kappa1_terms = _psi_minus_log(0.5 * k)
    if estimator == "mle":
        kappa1_terms = kappa1_terms + _log_r(sizes)
    return sizes, gens, kappa1_terms


@refuse_sigma0
def log_variance_cumulants(
    num_samples: ScheduleLike,
    generations: ArrayLike,
    order: int = 4,
    *,
    estimator: str = "unbiased",
    policy: Policy | None = None,
) -> np.ndarray:
    r"""Cumulants :math:`\kappa_1..\kappa_{\rm order}` of :math:`\ln(\sigma_n^2/\sigma_0^2)` (§2.3).

    :math:`\ln(\sigma_n^2/\sigma_0^2) = \sum_{i<n}\ln S_i` with
    :math:`\ln S = \ln G + \ln(2/k)`, :math:`G \sim \mathrm{Gamma}(k/2)`, so

    .. math::

        \kappa_1 = \sum_{i<n}[\psi(k_i/2) - \ln(k_i/2)] \approx -\sum(1/k_i + 1/(3k_i^2)),\qquad
        \kappa_r = \sum_{i<n}\psi^{(r-1)}(k_i/2),\ r \ge 2.

    The MLE adds :math:`\sum_i \ln r_i` to :math:`\kappa_1`. The median of :math:`\sigma_n^2` is
    about :math:`\mathrm{var0}\,e^{\kappa_1}` while its mean stays :math:`\mathrm{var0}`
    (unbiased). Scale-free: the law of :math:`\ln(\sigma_n^2/\mathrm{var0})` does not depend on
    var0, so there is no ``var0`` argument. Under ``policy=Temperature(tau)`` (§8.2)
    :math:`\kappa_1` gains :math:`2(n-1)\ln\tau` (n >= 1); a truncation has no closed form
    (Monte Carlo).

    Parameters
    ----------
    num_samples : int or schedule
        M_i >= 2.
    generations : int or array_like of int
    order : int, default 4
        Number of cumulants (>= 1).
    estimator : {"unbiased", "mle"}

    Returns
    -------
    numpy.ndarray, shape (order,) + generations.shape
        ``out[r-1]`` is :math:`\kappa_r`.

    Examples
    --------
    >>> k1, k2 = log_variance_cumulants(10, 20, order=2)
    >>> round(float(k1), 4), round(float(k2), 3)
    (-2.3041, 4.975)
    """
    order = check_int("order", order, minimum=1, maximum=50)
    sizes, gens, kappa1_terms = _log_variance_parts(num_samples, generations, estimator)
    half = 0.5 * (sizes - 1.0)
    out = np.empty((order, *gens.shape))
    out[0] = _cumulative(kappa1_terms, gens)
    policy = _policy("log_variance_cumulants", policy, REPLACE)
    if policy is not None:
        out[0] += 2.0 * _temperature_shift(policy, gens, "log_variance_cumulants")
    for r in range(2, order + 1):
        out[r - 1] = _cumulative(polygamma(r - 1, half), gens)
    return out


def _unique_halves(sizes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    values, counts = np.unique(sizes, return_counts=True)
    return 0.5 * (values - 1.0), counts.astype(np.float64)


class _CenteredLogGamma:
    r"""Centred log characteristic function of :math:`\sum_j n_j \ln G_j`, :math:`G_j\sim\Gamma(a_j)`.

    :math:`h(a, t) = \ln\Gamma(a+it) - \ln\Gamma(a) - it\psi(a)`, summed with weights n_j. For
    :math:`a \ge 50` and :math:`|t| \le a/8` the Taylor (cumulant) series
    :math:`\sum_{r=2}^{30} (it)^r \psi^{(r-1)}(a)/r!` replaces the difference of large log-gammas
    (which would lose all digits for a ~ 10^9); elsewhere ``scipy.special.loggamma`` is used.
    """

    _TERMS = 30

    def __init__(self, halves: np.ndarray, counts: np.ndarray) -> None:
        self.a = halves
        self.n = counts
        self.psi = digamma(halves)
        self.large = halves >= 50.0
        orders = np.arange(2, self._TERMS + 1)
        a_large = halves[self.large]
        self.coef = (
            polygamma(orders[:, None] - 1, a_large[None, :])
            / np.exp(gammaln(orders + 1.0))[:, None]
            if a_large.size
            else np.zeros((orders.size, 0))
        )
        self.orders = orders

    def __call__(self, t: float) -> complex:
        a, n = self.a, self.n
        h = np.empty(a.shape, dtype=np.complex128)
        taylor = self.large & (abs(t) <= a / 8.0)
        direct = ~taylor
        if np.any(direct):
            ad = a[direct]
            h[direct] = loggamma(ad + 1j * t) - gammaln(ad) - 1j * t * self.psi[direct]
        if np.any(taylor):
            powers = (1j * t) ** self.orders
            h_large = powers @ self.coef
            h[taylor] = h_large[taylor[self.large]]
        return complex(np.sum(n * h))


def _gil_pelaez_cdf(x: float, logcf: _CenteredLogGamma, kappa1: float, kappa2: float) -> float:
    r""":math:`P(L \le x)` by Gil–Pelaez: :math:`\tfrac12 - \tfrac1\pi\int_0^\infty
    \operatorname{Im}[e^{-iuz}\varphi_c(u/s)]/u\,du` with z = (x - kappa1)/s, s = sqrt(kappa2)."""
    if kappa2 <= 0.0:
        return 1.0 if x >= kappa1 else 0.0
    s = math.sqrt(kappa2)
    z = (x - kappa1) / s

    def integrand(u: float) -> float:
        value = np.exp(logcf(u / s) - 1j * u * z)
        return value.imag / u

    upper = 8.0
    while abs(np.exp(logcf(upper / s))) > 1e-17 and upper < 1e5:
        upper *= 2.0
    pieces = max(1, min(400, math.ceil(upper * max(abs(z), 1.0) / (6.0 * math.pi))))
    edges = np.linspace(0.0, upper, pieces + 1)
    total = 0.0
    for lo, hi in itertools.pairwise(edges):
        part, _ = integrate.quad(integrand, lo, hi, limit=200, epsabs=1e-14, epsrel=1e-12)
        total += part
    return float(min(max(0.5 - total / math.pi, 0.0), 1.0))


@refuse_sigma0
def prob_variance_below(
    eps: ArrayLike,
    num_samples: ScheduleLike,
    generations: ArrayLike,
    *,
    var0: float = 1.0,
    estimator: str = "unbiased",
    method: str = "exact",
    log_eps: bool = False,
    policy: Policy | None = None,
) -> np.ndarray:
    r""":math:`P(\sigma_n^2 < \varepsilon)` (docs/theory.md §2.3).

    With :math:`\sigma_0^2 = \mathrm{var0}`, :math:`L = \ln(\sigma_n^2/\mathrm{var0})` and
    :math:`x = \ln\varepsilon - \ln\mathrm{var0}`, :math:`P(\sigma_n^2 < \varepsilon) = P(L < x)`:

    - ``"exact"``: Gil–Pelaez inversion
      :math:`P(L\le x) = \tfrac12 - \tfrac1\pi\int_0^\infty \operatorname{Im}[e^{-itx}\varphi(t)]/t\,dt`
      of :math:`\varphi(t) = \prod_{i<n}\Gamma(k_i/2+it)/\Gamma(k_i/2)\,(2/k_i)^{it}` (MLE:
      :math:`(2/M_i)^{it}`), computed in complex log space (``scipy.special.loggamma``, a cumulant
      series for large k), centred and scaled by :math:`\kappa_1, \sqrt{\kappa_2}`, and integrated
      with ``scipy.integrate.quad``. Absolute accuracy about 1e-10 (it is not meant for
      probabilities far below that).
    - ``"normal"``: :math:`\Phi(z)`, :math:`z = (x - \kappa_1)/\sqrt{\kappa_2}`.
    - ``"edgeworth"``: :math:`\Phi(z) - (\gamma/6)(z^2-1)\phi(z)`,
      :math:`\gamma = \kappa_3/\kappa_2^{3/2}`.

    Generation 0 gives the indicator of :math:`\mathrm{var0} < \varepsilon`. Under
    ``policy=Temperature(tau)`` (Replace, §8.2) :math:`\sigma_n^2` is :math:`\tau^{2(n-1)}`
    times the plain one (n >= 1), so x is lowered by :math:`2(n-1)\ln\tau`; a truncation has
    no closed form (Monte Carlo).

    Parameters
    ----------
    eps : float or array_like
        Threshold on the variance (> 0), or its natural logarithm if ``log_eps``; broadcasts
        with ``generations``.
    num_samples : int or schedule
        M_i >= 2.
    generations : int or array_like of int
    var0 : float, default 1.0
        Variance :math:`\sigma_0^2` of the original model (> 0); ``eps`` is on the same scale.
    estimator : {"unbiased", "mle"}
    method : {"exact", "normal", "edgeworth"}
    log_eps : bool, default False
        ``eps`` is :math:`\ln\varepsilon` (for thresholds outside the float range, e.g. after
        10^6 generations).

    Returns
    -------
    numpy.float64 or numpy.ndarray
        Shape of ``broadcast(eps, generations)`` (a float for scalars).

    Examples
    --------
    >>> round(float(prob_variance_below(0.1, 10, 20)), 4)
    0.4929
    """
    var0 = check_var0(var0)
    method = check_choice("method", method, PROBABILITY_METHODS)
    eps_arr = as_float_array("eps", eps)
    if not isinstance(log_eps, (bool, np.bool_)):
        raise InputTypeError(f"log_eps must be True or False; got {_show(log_eps)}")
    if not log_eps and np.any(eps_arr <= 0):
        raise InputError(f"eps must be > 0 (or pass log_eps=True); got {_show(eps)}")
    sizes, gens, kappa1_terms = _log_variance_parts(num_samples, generations, estimator)
    try:
        eps_b, gens_b = np.broadcast_arrays(eps_arr, gens)
    except ValueError:
        raise InputError(
            f"eps (shape {eps_arr.shape}) and generations (shape {gens.shape}) do not broadcast"
        ) from None
    x = (eps_b if log_eps else np.log(eps_b)) - math.log(var0)
    policy = _policy("prob_variance_below", policy, REPLACE)
    if policy is not None:
        x = x - 2.0 * _temperature_shift(policy, gens_b, "prob_variance_below")
    half = 0.5 * (sizes - 1.0)
    k1 = _cumulative(kappa1_terms, gens_b)
    k2 = _cumulative(polygamma(1, half), gens_b)
    k3 = _cumulative(polygamma(2, half), gens_b)
    out = np.empty(gens_b.shape)
    zero = gens_b == 0
    out[zero] = (x[zero] > 0).astype(float)
    live = ~zero
    if method in ("normal", "edgeworth"):
        sd = np.sqrt(k2[live])
        z = (x[live] - k1[live]) / sd
        prob = ndtr(z)
        if method == "edgeworth":
            gamma = k3[live] / sd**3
            prob = prob - gamma / 6.0 * (z * z - 1.0) * np.exp(-0.5 * z * z) / math.sqrt(
                2 * math.pi
            )
        out[live] = np.clip(prob, 0.0, 1.0)
        return scalar_or_array(out)
    cache: dict[int, _CenteredLogGamma] = {}
    for idx in np.ndindex(gens_b.shape):
        if not live[idx]:
            continue
        g = int(gens_b[idx])
        if g not in cache:
            cache[g] = _CenteredLogGamma(*_unique_halves(sizes[:g]))
        out[idx] = _gil_pelaez_cdf(float(x[idx]), cache[g], float(k1[idx]), float(k2[idx]))
    return scalar_or_array(out)


# ---------------------------------------------------------------------------------------------
# Wasserstein-2 (docs/theory.md §2.5, §2.6)


@refuse_sigma0
def expected_w2_squared(
    num_samples: ScheduleLike,
    generations: ArrayLike,
    *,
    var0: float = 1.0,
    estimator: str = "unbiased",
    policy: Policy | None = None,
) -> np.ndarray:
    r"""Exact :math:`E\,W_2^2(N(\mu_n,\sigma_n^2), N(\mu_0,\sigma_0^2))` (docs/theory.md §2.5, §2.6).

    With :math:`W_2^2 = (\mu_n-\mu_0)^2 + (\sigma_n - \sigma_0)^2` and
    :math:`\sigma_0^2 = \mathrm{var0}`:

    - unbiased: :math:`\mathrm{var0}\,[\sum_{i<n}1/M_i + 2(1 - \prod_{i<n}c(k_i))]` — grows
      without bound iff :math:`\sum 1/M_i = \infty` (linearly in n at constant M);
    - MLE (docs/theory.md §2.6): :math:`2\,\mathrm{var0}\,(1 - \prod_{i<n}c(k_i)\sqrt{r_i})
      \le 2\,\mathrm{var0}`.
    - ``policy=Temperature(tau)`` (Replace, §8.2): :math:`E(\mu_n-\mu_0)^2 + E\sigma_n^2
      - 2\sigma_0 E\sigma_n + \sigma_0^2` with the three moments of
      :func:`mean_squared_drift`, :func:`expected_variance` and :func:`expected_std` under the
      policy (a truncation has no closed form for :math:`E\sigma_n`).

    Parameters
    ----------
    num_samples : int or schedule
        Sample size M (or schedule M_i); >= 2 for ``"unbiased"``, >= 1 for ``"mle"``.
    generations : int or array_like of int
        Generations n >= 0; the result broadcasts over them.
    var0 : float, default 1.0
        Variance :math:`\sigma_0^2` of the original model (> 0).
    estimator : {"unbiased", "mle"}
        Variance estimator of each fit (ddof = 1 or ddof = 0).
    policy : Temperature, optional
        Sampling policy of the fitted models (docs/theory.md §8.2).

    Returns
    -------
    numpy.float64 or numpy.ndarray
        :math:`E\,W_2^2` between model n and model 0 (Replace regime), same shape as
        ``generations`` (a float for a scalar); 0 at n = 0.

    Examples
    --------
    >>> round(float(expected_w2_squared(10, 20)), 3)
    2.851
    """
    var0 = check_var0(var0)
    estimator = _check_estimator(estimator)
    minimum, why = _min_size(estimator)
    sizes, gens = _prepare(num_samples, generations, minimum=minimum, why=why)
    log_c = _log_c(sizes - 1.0)
    policy = _policy("expected_w2_squared", policy, REPLACE)
    if policy is not None:
        shift = _temperature_shift(policy, gens, "expected_w2_squared")
        v, d, _ = _policy_moments(num_samples, generations, estimator, policy)
        terms = log_c + 0.5 * _log_r(sizes) if estimator == "mle" else log_c
        e_sigma = np.exp(_cumulative(terms, gens) + shift)
        return _times_scale(d + v - 2.0 * e_sigma + 1.0, var0, f"var0={var0:g}")
    if estimator == "mle":
        total = -np.expm1(_cumulative(log_c + 0.5 * _log_r(sizes), gens))
        return _times_scale(2.0 * total, var0, f"var0={var0:g}")
    drift = _cumulative(1.0 / sizes, gens)
    return _times_scale(drift - 2.0 * np.expm1(_cumulative(log_c, gens)), var0, f"var0={var0:g}")


@refuse_sigma0
def w2_lower_bound(
    num_samples: ScheduleLike,
    generations: ArrayLike,
    *,
    var0: float = 1.0,
    estimator: str = "unbiased",
) -> np.ndarray:
    r"""Lower bound :math:`E\,W_2^2 \ge E(\mu_n - \mu_0)^2` (docs/theory.md §2.5).

    With :math:`\sigma_0^2 = \mathrm{var0}`, unbiased: :math:`\mathrm{var0}\sum_{i<n} 1/M_i` —
    linear in n at fixed M; it also holds for a non-Gaussian :math:`D_0` of variance var0 since
    :math:`W_2 \ge |\Delta\,\text{mean}|` (the divergence of the paper's Theorem 3.1). MLE:
    :math:`\mathrm{var0}\,(1 - \prod r_i)` (docs/theory.md §2.6). This is
    :func:`mean_squared_drift`.

    Parameters
    ----------
    num_samples : int or schedule
        Sample size M (or schedule M_i); >= 2 for ``"unbiased"``, >= 1 for ``"mle"``.
    generations : int or array_like of int
        Generations n >= 0; the result broadcasts over them.
    var0 : float, default 1.0
        Variance :math:`\sigma_0^2` of the original model (> 0).
    estimator : {"unbiased", "mle"}
        Variance estimator of each fit (ddof = 1 or ddof = 0).

    Returns
    -------
    numpy.float64 or numpy.ndarray
        The lower bound :math:`E(\mu_n - \mu_0)^2` of :math:`E\,W_2^2` (Replace regime), same
        shape as ``generations`` (a float for a scalar).

    Examples
    --------
    >>> round(float(w2_lower_bound(10, 20)), 12)
    2.0
    """
    return mean_squared_drift(num_samples, generations, var0=var0, estimator=estimator)


@refuse_sigma0
def w2_first_order(
    num_samples: ScheduleLike,
    generations: ArrayLike,
    *,
    var0: float = 1.0,
    estimator: str = "unbiased",
) -> np.ndarray:
    r"""First-order expansion :math:`E\,W_2^2 \approx \tfrac32\,\mathrm{var0}\sum_{i<n}1/M_i`
    (docs/theory.md §2.5), with :math:`\sigma_0^2 = \mathrm{var0}`.

    Valid while :math:`\sum 1/M_i \ll 1` (n << M at constant M). Both estimators share it:
    unbiased, :math:`1 - \prod c \approx \sum 1/(4k)`; MLE,
    :math:`-\ln(c\sqrt r) \approx 1/(4k) + 1/(2M) \approx 3/(4M)`. (Keeping k instead of M gives
    :math:`\sum 1/M_i + \sum 1/(2k_i)`, equal to this to first order.)

    Parameters
    ----------
    num_samples : int or schedule
        Sample size M (or schedule M_i); >= 2 for ``"unbiased"``, >= 1 for ``"mle"``.
    generations : int or array_like of int
        Generations n >= 0; the result broadcasts over them.
    var0 : float, default 1.0
        Variance :math:`\sigma_0^2` of the original model (> 0).
    estimator : {"unbiased", "mle"}
        Variance estimator of each fit (ddof = 1 or ddof = 0); the expansion is the same for
        both.

    Returns
    -------
    numpy.float64 or numpy.ndarray
        :math:`\tfrac32\,\mathrm{var0}\sum_{i<n}1/M_i`, same shape as ``generations`` (a float
        for a scalar).

    Examples
    --------
    >>> round(float(w2_first_order(10, 20)), 12)
    3.0
    """
    var0 = check_var0(var0)
    estimator = _check_estimator(estimator)
    minimum, why = _min_size(estimator)
    sizes, gens = _prepare(num_samples, generations, minimum=minimum, why=why)
    return _times_scale(1.5 * _cumulative(1.0 / sizes, gens), var0, f"var0={var0:g}")


# ---------------------------------------------------------------------------------------------
# Fresh data: stationary state (docs/theory.md §2.7)


@refuse_sigma0
def stationary_moments(
    num_samples: ScheduleLike,
    fresh: FreshData | WeightedFresh,
    *,
    var0: float = 1.0,
    estimator: str = "unbiased",
) -> tuple[float, float]:
    r"""Stationary :math:`(V_\infty, D_\infty) = \lim(E\sigma_n^2, E(\mu_n-\mu_0)^2)`
    (docs/theory.md §2.7, §9.1).

    Under WeightedFresh(w, n) and the unbiased fit, :math:`V_\infty = \mathrm{var0}` and
    :math:`D_\infty = \mathrm{var0}\,[(1-w)^2/M + w^2/n] / [1 - (1-w)^2]` (docs/theory.md §9.1;
    the transient values are :func:`expected_variance` and :func:`mean_squared_drift` with this
    regime). Otherwise:

    Solves the 2x2 linear system :math:`x = A x + c` of the FreshData recursion (see
    :func:`expected_variance`) for constant M. For ``variant="split"`` and the unbiased fit, with
    :math:`\sigma_0^2 = \mathrm{var0}`:
    :math:`V = \beta\,\mathrm{var0} + (1-\beta)V + \beta(1-\beta)\tfrac{M}{M-1}D`,
    :math:`D = (1-\beta)^2D + (\beta\,\mathrm{var0} + (1-\beta)V)/M`, :math:`\beta = m/M`; both
    moments are proportional to var0.

    Parameters
    ----------
    num_samples : int or Constant
        Constant sample size M.
    fresh : FreshData or WeightedFresh
        WeightedFresh needs weight > 0. FreshData: with at least one fresh draw per generation
        (beta > 0) and a contracting recursion
        (spectral radius < 1; for very small M with little fresh data the expected moments
        diverge, e.g. M = 2, ``FreshData(0.125, "mix")``, and a ValueError says so).
    var0 : float, default 1.0
        Variance :math:`\sigma_0^2` of the original model (> 0).
    estimator : {"unbiased", "mle"}

    Returns
    -------
    (numpy.float64, numpy.float64)

    Examples
    --------
    >>> v, d = stationary_moments(20, FreshData(0.2, "split"))
    >>> round(float(v), 4), round(float(d), 4)
    (1.129, 0.1532)
    >>> v, d = stationary_moments(20, WeightedFresh(optimal_fresh_weight(20, 20), 20))
    >>> round(float(v), 6), round(float(d), 7)
    (1.0, 0.0309017)
    """
    var0 = check_var0(var0)
    estimator = _check_estimator(estimator)
    if not isinstance(fresh, (FreshData, WeightedFresh)):
        raise InputTypeError(
            "fresh must be a FreshData(fraction, variant) or WeightedFresh(weight, num_real); "
            f"got {_show(fresh)}"
        )
    schedule = as_schedule(num_samples)
    if not isinstance(schedule, Constant):
        raise InputError(
            f"stationary_moments needs a constant sample size (int or Constant); got {schedule!r}"
        )
    m = float(schedule.m)
    minimum, why = _min_size(estimator)
    if m < minimum:
        raise InputError(f"num_samples must be >= {minimum} ({why}); got {int(m)}")
    if isinstance(fresh, WeightedFresh):
        _check_num_real(fresh, estimator)
        if fresh.weight == 0.0:
            raise InputError(
                "WeightedFresh(weight=0.0) has no stationary state: without the fresh estimate "
                "the drift grows without bound (use a weight in (0, 1])"
            )
        v, d = _weighted_stationary(m, fresh, estimator == "mle")
        return _times_scale(v, var0, f"var0={var0:g}"), _times_scale(d, var0, f"var0={var0:g}")
    beta = float(_fresh_betas(np.array([m]), fresh)[0])
    if beta <= 0.0:
        raise InputError(
            f"{fresh!r} with M = {int(m)} has no fresh draws (beta = 0): there is no stationary "
            "state, the model collapses; use a larger fraction"
        )
    if fresh.variant == "split" and beta >= 1.0 and m < 1:
        raise InputError("split fresh data needs at least one synthetic draw")
    step = _fresh_step(m, beta, fresh.variant == "split", estimator == "mle")
    radius = float(np.max(np.abs(np.linalg.eigvals(step[:2, :2]))))
    if radius >= 1.0:
        raise InputError(
            f"{fresh!r} with M = {int(m)} ({estimator}): the recursion for (V_n, D_n) has "
            f"spectral radius {radius:.6g} >= 1, so the expected moments grow without bound and "
            "there is no stationary state; use more samples or a larger fraction"
        )
    lhs = np.eye(2) - step[:2, :2]
    v, d = np.linalg.solve(lhs, step[:2, 2])
    return _times_scale(v, var0, f"var0={var0:g}"), _times_scale(d, var0, f"var0={var0:g}")


@refuse_sigma0
def optimal_fresh_weight(num_samples: int, num_real: int) -> np.float64:
    r"""The weight w* that minimises the stationary drift :math:`D_\infty` under
    WeightedFresh(w, n), unbiased fit (docs/theory.md §9.1).

    :math:`D(w) = [(1-w)^2/M + w^2/n] / [1 - (1-w)^2]` is smallest where
    :math:`w^2/n + w/M - 1/M = 0`:

    .. math:: w^* = \frac{n}{2M}\left(\sqrt{1 + 4M/n} - 1\right)
        = \frac{2}{1 + \sqrt{1 + 4M/n}}

    (the second form, used here, has no cancellation). For M = n it is the golden ratio
    (sqrt(5) - 1)/2 and :math:`D^* = w^*/n`.

    Parameters
    ----------
    num_samples : int
        M >= 2 synthetic draws per generation.
    num_real : int
        n >= 2 fresh draws per generation.

    Returns
    -------
    numpy.float64

    Examples
    --------
    >>> round(float(optimal_fresh_weight(20, 20)), 6), round(float(optimal_fresh_weight(50, 100)), 6)
    (0.618034, 0.732051)
    """
    m = check_int("num_samples", num_samples, minimum=2)
    n = check_int("num_real", num_real, minimum=2)
    return np.float64(2.0 / (1.0 + math.sqrt(1.0 + 4.0 * m / n)))


# ---------------------------------------------------------------------------------------------
# Multivariate (docs/theory.md §3)


def _prepare_cov(
    cov0: ArrayLike,
    num_samples: ScheduleLike,
    generations: ArrayLike,
    estimator: str,
    *,
    definite: bool = True,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    estimator = _check_estimator(estimator)
    cov = check_covariance("cov0", cov0, positive_definite=definite)
    d = cov.shape[0]
    sizes, gens = _prepare(
        num_samples,
        generations,
        minimum=d + 1,
        why=f"fitting a {d}x{d} covariance needs M > d",
    )
    return cov, sizes, gens


def _log_det_terms(sizes: np.ndarray, d: int, estimator: str) -> np.ndarray:
    r""":math:`\sum_{j=1}^d [\psi((k-j+1)/2) + \ln(2/k)]` per generation (+ d ln r for MLE)."""
    k = sizes - 1.0
    total = np.zeros(sizes.shape)
    for j in range(1, d + 1):
        y = 0.5 * (k - j + 1.0)
        total += _psi_minus_log(y) + np.log1p(-(j - 1.0) / k)
    if estimator == "mle":
        total += d * _log_r(sizes)
    return total


def _log_det(cov: np.ndarray) -> float:
    _sign, logdet = np.linalg.slogdet(cov)
    return float(logdet)


def expected_log_det(
    cov0: ArrayLike,
    num_samples: ScheduleLike,
    generations: ArrayLike,
    *,
    estimator: str = "unbiased",
) -> np.ndarray:
    r""":math:`E\ln\det\Sigma_n` (docs/theory.md §3.3).

    .. math::

        \ln\det\Sigma_0 + \sum_{i<n}\sum_{j=1}^{d}\bigl[\psi(\tfrac{k_i-j+1}{2}) + \ln(2/k_i)\bigr]

    (MLE: plus :math:`d\sum_i\ln r_i`). Computed as :math:`\psi(y)-\ln y` (series for large y)
    plus :math:`\ln(1-(j-1)/k)` so that no digits are lost for large M.

    Parameters
    ----------
    cov0 : array_like, shape (d, d)
        Symmetric positive definite initial covariance.
    num_samples : int or schedule
        Sample size M (or schedule M_i) of each fit; M_i >= d + 1.
    generations : int or array_like of int
        Generations n >= 0; the result broadcasts over them.
    estimator : {"unbiased", "mle"}
        Covariance estimator of each fit (ddof = 1 or ddof = 0).

    Returns
    -------
    numpy.float64 or numpy.ndarray
        :math:`E\ln\det\Sigma_n`, same shape as ``generations`` (a float for a scalar).

    Examples
    --------
    >>> cov0 = [[2.0, 0.5, 0.0], [0.5, 1.0, 0.3], [0.0, 0.3, 0.5]]
    >>> round(float(expected_log_det(cov0, 12, 15)), 3)
    -9.486
    """
    cov, sizes, gens = _prepare_cov(cov0, num_samples, generations, estimator)
    terms = _log_det_terms(sizes, cov.shape[0], estimator)
    return scalar_or_array(_log_det(cov) + _cumulative(terms, gens))


def variance_log_det(
    cov0: ArrayLike, num_samples: ScheduleLike, generations: ArrayLike
) -> np.ndarray:
    r""":math:`\operatorname{Var}\ln\det\Sigma_n = \sum_{i<n}\sum_{j=1}^d\psi'((k_i-j+1)/2)` (§3.3).

    The same for both estimators (they differ by a constant factor). ``cov0`` only sets d
    (validated as symmetric positive definite).

    Parameters
    ----------
    cov0 : array_like, shape (d, d)
        Symmetric positive definite initial covariance; only its dimension d enters.
    num_samples : int or schedule
        Sample size M (or schedule M_i) of each fit; M_i >= d + 1.
    generations : int or array_like of int
        Generations n >= 0; the result broadcasts over them.

    Returns
    -------
    numpy.float64 or numpy.ndarray
        :math:`\operatorname{Var}\ln\det\Sigma_n`, same shape as ``generations`` (a float for
        a scalar); 0 at n = 0.
    """
    cov, sizes, gens = _prepare_cov(cov0, num_samples, generations, "unbiased")
    k = sizes - 1.0
    terms = sum(polygamma(1, 0.5 * (k - j + 1.0)) for j in range(1, cov.shape[0] + 1))
    return scalar_or_array(_cumulative(np.asarray(terms, dtype=np.float64), gens))


def expected_det(
    cov0: ArrayLike,
    num_samples: ScheduleLike,
    generations: ArrayLike,
    *,
    estimator: str = "unbiased",
) -> np.ndarray:
    r""":math:`E\det\Sigma_n = \det\Sigma_0\prod_{i<n}\prod_{j=1}^d (k_i-j+1)/k_i` (docs/theory.md §3.3).

    MLE: times :math:`\prod_i r_i^d`. Evaluated as the exponential of a cumulative sum of
    ``log1p`` terms; the answer underflows to 0 only when it is below the float range.

    Parameters
    ----------
    cov0 : array_like, shape (d, d)
        Symmetric positive definite initial covariance :math:`\Sigma_0`.
    num_samples : int or schedule
        Sample size M (or schedule M_i) of each fit; M_i >= d + 1.
    generations : int or array_like of int
        Generations n >= 0; the result broadcasts over them.
    estimator : {"unbiased", "mle"}
        Covariance estimator of each fit (ddof = 1 or ddof = 0).

    Returns
    -------
    numpy.float64 or numpy.ndarray
        :math:`E\det\Sigma_n`, same shape as ``generations`` (a float for a scalar).
    """
    cov, sizes, gens = _prepare_cov(cov0, num_samples, generations, estimator)
    d = cov.shape[0]
    k = sizes - 1.0
    terms = sum(np.log1p(-(j - 1.0) / k) for j in range(1, d + 1))
    terms = np.asarray(terms, dtype=np.float64) + (d * _log_r(sizes) if estimator == "mle" else 0)
    return _scaled(_cumulative(terms, gens), _log_det(cov), "det(cov0)")


def trace_moments(
    cov0: ArrayLike,
    num_samples: ScheduleLike,
    generations: ArrayLike,
    *,
    estimator: str = "unbiased",
) -> tuple[np.ndarray, np.ndarray]:
    r"""(:math:`E\operatorname{tr}\Sigma_n`, :math:`\operatorname{Var}\operatorname{tr}\Sigma_n`)
    (docs/theory.md §3.2, §3.4).

    With :math:`a_n = E(\operatorname{tr}\Sigma_n)^2`, :math:`b_n = E\operatorname{tr}\Sigma_n^2`,
    the Wishart moments give :math:`a_{n+1} = a_n + 2b_n/k`,
    :math:`b_{n+1} = (1+1/k)b_n + a_n/k`, started from :math:`a_0 = (\operatorname{tr}\Sigma_0)^2`,
    :math:`b_0 = \operatorname{tr}\Sigma_0^2` — any PSD :math:`\Sigma_0`, isotropy is not needed.
    The step matrix :math:`I + \tfrac1k\begin{pmatrix}0&2\\1&1\end{pmatrix}` has eigenvectors
    (1, 1) and (2, -1), independent of k, with eigenvalues :math:`1+2/k` and :math:`1-1/k`, so
    for any schedule

    .. math::

        \operatorname{Var}\operatorname{tr}\Sigma_n = \alpha\Bigl[\prod(1+2/k_i) - 1\Bigr]
        + 2\beta\Bigl[\prod(1-1/k_i) - 1\Bigr],\quad
        \alpha = \frac{a_0 + 2b_0}{3},\ \beta = \frac{a_0 - b_0}{3}.

    MLE: the mean is multiplied by :math:`\prod r_i` and the variance by :math:`\prod r_i^2`.

    Parameters
    ----------
    cov0 : array_like, shape (d, d)
        Symmetric positive semi-definite initial covariance :math:`\Sigma_0`.
    num_samples : int or schedule
        Sample size M (or schedule M_i) of each fit; M_i >= d + 1.
    generations : int or array_like of int
        Generations n >= 0; the results broadcast over them.
    estimator : {"unbiased", "mle"}
        Covariance estimator of each fit (ddof = 1 or ddof = 0).

    Returns
    -------
    mean : numpy.float64 or numpy.ndarray
        :math:`E\operatorname{tr}\Sigma_n = \operatorname{tr}\Sigma_0` (MLE: times
        :math:`\prod_{i<n} r_i`), same shape as ``generations`` (a float for a scalar).
    var : numpy.float64 or numpy.ndarray
        :math:`\operatorname{Var}\operatorname{tr}\Sigma_n` (formula above), same shape as
        ``generations``; 0 at n = 0.
    """
    cov, sizes, gens = _prepare_cov(cov0, num_samples, generations, estimator, definite=False)
    k = sizes - 1.0
    with np.errstate(divide="ignore"):
        grow = np.expm1(_cumulative(np.log1p(2.0 / k), gens))
        shrink = np.expm1(_cumulative(np.log1p(-1.0 / k), gens))
    factor = np.ones(gens.shape)
    if estimator == "mle":
        with np.errstate(under="ignore"):
            factor = np.exp(_cumulative(_log_r(sizes), gens))

    def moments(cov: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        tr = float(np.trace(cov))
        tr2 = float(np.sum(cov * cov))
        a0 = tr * tr
        alpha, beta = (a0 + 2.0 * tr2) / 3.0, (a0 - tr2) / 3.0
        var = (alpha * grow + 2.0 * beta * shrink) * factor * factor
        return np.full(gens.shape, tr) * factor, np.maximum(var, 0.0)

    with np.errstate(over="ignore", invalid="ignore"):
        mean, var = moments(cov)
        unit_mean, unit_var = moments(cov / max(float(np.max(np.abs(cov))), 1e-300))
    scale = "cov0 (the mean scales as its trace, the variance as its square)"
    return _refuse_scale_overflow(unit_mean, mean, scale), _refuse_scale_overflow(
        unit_var, var, scale
    )


def lyapunov_exponents(dim: int, num_samples: int, *, estimator: str = "unbiased") -> np.ndarray:
    r"""Lyapunov spectrum :math:`\lim (1/n)\ln\lambda_j(\Sigma_n) = \psi(\tfrac{k-j+1}{2}) - \ln\tfrac k2`
    (docs/theory.md §3.5), j = 1..d, all negative (MLE: plus :math:`\ln r`).

    Parameters
    ----------
    dim : int
        Dimension d >= 1.
    num_samples : int
        Constant sample size M >= d + 1.

    Returns
    -------
    numpy.ndarray, shape (d,)
        Decreasing exponents.

    Examples
    --------
    >>> np.round(lyapunov_exponents(3, 10), 4)
    array([-0.1152, -0.248 , -0.4009])
    """
    d = check_int("dim", dim, minimum=1)
    estimator = _check_estimator(estimator)
    m = check_int("num_samples", num_samples, minimum=d + 1, maximum=MAX_SAMPLE_SIZE)
    k = float(m - 1)
    j = np.arange(1, d + 1, dtype=np.float64)
    values = _psi_minus_log(0.5 * (k - j + 1.0)) + np.log1p(-(j - 1.0) / k)
    if estimator == "mle":
        values = values + math.log1p(-1.0 / m)
    return values


def expected_mean_drift(
    cov0: ArrayLike,
    num_samples: ScheduleLike,
    generations: ArrayLike,
    *,
    estimator: str = "unbiased",
) -> np.ndarray:
    r""":math:`E\lVert\mu_n-\mu_0\rVert^2 = \operatorname{tr}\Sigma_0\sum_{i<n}1/M_i` (§3.2).

    MLE: :math:`\operatorname{tr}\Sigma_0 (1 - \prod_i r_i)` (as in 1-D, §2.6).

    Parameters
    ----------
    cov0 : array_like, shape (d, d)
        Symmetric positive semi-definite initial covariance :math:`\Sigma_0`.
    num_samples : int or schedule
        Sample size M (or schedule M_i) of each fit; M_i >= d + 1.
    generations : int or array_like of int
        Generations n >= 0; the result broadcasts over them.
    estimator : {"unbiased", "mle"}
        Covariance estimator of each fit (ddof = 1 or ddof = 0).

    Returns
    -------
    numpy.float64 or numpy.ndarray
        :math:`E\lVert\mu_n-\mu_0\rVert^2`, same shape as ``generations`` (a float for a
        scalar).
    """
    cov, sizes, gens = _prepare_cov(cov0, num_samples, generations, estimator, definite=False)
    tr = float(np.trace(cov))
    if estimator == "mle":
        with np.errstate(divide="ignore"):
            return _times_scale(-np.expm1(_cumulative(_log_r(sizes), gens)), tr, f"tr(cov0)={tr:g}")
    return _times_scale(_cumulative(1.0 / sizes, gens), tr, f"tr(cov0)={tr:g}")


def w2_squared_bounds(
    cov0: ArrayLike,
    num_samples: ScheduleLike,
    generations: ArrayLike,
    *,
    estimator: str = "unbiased",
) -> tuple[np.ndarray, np.ndarray]:
    r"""Bounds :math:`L_n \le E\,W_2^2(N(\mu_n,\Sigma_n), N(\mu_0,\Sigma_0)) \le U_n` (§3.6).

    The Bures term is >= 0 and at most :math:`\operatorname{tr}\Sigma_n + \operatorname{tr}\Sigma_0`,
    so :math:`L_n = E\lVert\mu_n-\mu_0\rVert^2` and
    :math:`U_n = L_n + E\operatorname{tr}\Sigma_n + \operatorname{tr}\Sigma_0`:
    unbiased, :math:`\operatorname{tr}\Sigma_0\sum 1/M_i \le E W_2^2 \le
    \operatorname{tr}\Sigma_0(\sum 1/M_i + 2)`; MLE, :math:`U_n = 2\operatorname{tr}\Sigma_0`.

    Parameters
    ----------
    cov0 : array_like, shape (d, d)
        Symmetric positive semi-definite initial covariance :math:`\Sigma_0`.
    num_samples : int or schedule
        Sample size M (or schedule M_i) of each fit; M_i >= d + 1.
    generations : int or array_like of int
        Generations n >= 0; the result broadcasts over them.
    estimator : {"unbiased", "mle"}
        Covariance estimator of each fit (ddof = 1 or ddof = 0).

    Returns
    -------
    lower : numpy.float64 or numpy.ndarray
        :math:`L_n = E\lVert\mu_n-\mu_0\rVert^2` (:func:`expected_mean_drift`), same shape
        as ``generations``.
    upper : numpy.float64 or numpy.ndarray
        :math:`U_n = L_n + E\operatorname{tr}\Sigma_n + \operatorname{tr}\Sigma_0`, same
        shape as ``generations``.
    """
    lower = expected_mean_drift(cov0, num_samples, generations, estimator=estimator)
    mean_tr, _ = trace_moments(cov0, num_samples, generations, estimator=estimator)
    tr0 = float(np.trace(check_covariance("cov0", cov0)))
    with np.errstate(over="ignore"):
        upper = _refuse_scale_overflow(lower, lower + mean_tr + tr0, f"tr(cov0)={tr0:g}")
    return lower, upper


@refuse_sigma0
def w2_first_order_isotropic(
    var0: float, dim: int, num_samples: ScheduleLike, generations: ArrayLike
) -> np.ndarray:
    r"""First-order :math:`E\,W_2^2` for :math:`\Sigma_0 = \mathrm{var0}\,I` (docs/theory.md §3.6).

    .. math:: \mathrm{var0}\Bigl[d\sum_{i<n} 1/M_i + \tfrac{d(d+1)}{4}\sum_{i<n} 1/k_i\Bigr]

    (:math:`\mathrm{var0}\,[nd/M + nd(d+1)/(4k)]` at constant M): the mean drift plus a quarter
    of :math:`E\operatorname{tr}(\Sigma_n/\mathrm{var0} - I)^2 \approx \sum_i d(d+1)/k_i`. Valid
    for :math:`\sum_i 1/k_i \ll 1`. With d = 1 it is the 1-D :func:`w2_first_order` to first
    order.

    Parameters
    ----------
    var0 : float
        The variance :math:`\sigma^2` of every coordinate of model 0 (> 0), the same quantity
        as the 1-D functions' ``var0`` (formerly the argument ``sigma2``).
    dim : int
        Dimension d >= 1.
    num_samples : int or schedule
        Sample size M (or schedule M_i) of each fit; M_i >= d + 1.
    generations : int or array_like of int
        Generations n >= 0; the result broadcasts over them.

    Returns
    -------
    numpy.float64 or numpy.ndarray
        :math:`\mathrm{var0}[d\sum_{i<n} 1/M_i + \tfrac{d(d+1)}{4}\sum_{i<n} 1/k_i]`, same
        shape as ``generations`` (a float for a scalar).

    Examples
    --------
    >>> round(float(w2_first_order_isotropic(1.0, 3, 200, 20)), 4)
    0.6015
    """
    var0 = check_var0(var0)
    d = check_int("dim", dim, minimum=1)
    sizes, gens = _prepare(
        num_samples, generations, minimum=d + 1, why=f"fitting a {d}x{d} covariance needs M > d"
    )
    unit = d * _cumulative(1.0 / sizes, gens) + d * (d + 1) / 4.0 * _cumulative(
        1.0 / (sizes - 1.0), gens
    )
    return _times_scale(unit, var0, f"var0={var0:g}")


# ---------------------------------------------------------------------------------------------
# Moments of W2^2 (docs/theory.md §2.4-2.5)


@refuse_sigma0
def w2_squared_moments(
    num_samples: ScheduleLike, num_generations: int, *, var0: float = 1.0
) -> tuple[np.ndarray, np.ndarray]:
    r"""Exact mean and variance of :math:`W_n = W_2^2(N(\mu_n,\sigma_n^2), N(\mu_0,\sigma_0^2))`
    for the unbiased estimator, n = 0..num_generations (docs/theory.md §2.4–2.5).

    :math:`W_n` is :math:`\sigma_0^2 = \mathrm{var0}` times its value for var0 = 1, so the mean
    scales as var0 and the variance as :math:`\mathrm{var0}^2`; below, var0 = 1.

    Used to size honest Monte Carlo bands. With :math:`B_i = \sigma_i^2/\sigma_0^2`,
    :math:`A_n = \sum_{i<n} B_i/M_i` and :math:`g_q(i) = E B_i^q = \prod_{l<i} (2/k_l)^q
    \Gamma(k_l/2+q)/\Gamma(k_l/2)`, given the chi-square path :math:`\mu_n - \mu_0 \sim
    N(0, A_n)`, so :math:`W_n = A_n Z^2 + (\sqrt{B_n} - 1)^2` and

    .. math::

        E W_n^2 = 3\sum_{i,j<n}\frac{g_2(\min(i,j))}{M_iM_j}
        + 2\sum_{i<n}\frac{g_2(i) - 2g_{3/2}(i)\,g_{1/2}(n)/g_{1/2}(i) + 1}{M_i}
        + E(\sqrt{B_n} - 1)^4,

    using :math:`E[B_i^a B_j^b] = g_{a+b}(i)\,g_b(j)/g_b(i)` for :math:`i \le j`. The mean equals
    :func:`collapse_theory.gaussian.expected_w2_squared` (to ~1e-9 relative: this helper sizes
    Monte Carlo bands and is not written for M ~ 10⁹). Cost O(n²).

    Parameters
    ----------
    num_samples : int or schedule
        M_i >= 2.
    num_generations : int
        Largest n.
    var0 : float, default 1.0
        Variance :math:`\sigma_0^2` of the original model (> 0).

    Returns
    -------
    (numpy.ndarray, numpy.ndarray)
        Mean and variance of :math:`W_n`, each of shape (num_generations + 1,).

    Examples
    --------
    >>> mean, var = w2_squared_moments(20, 10)
    >>> round(float(mean[10]), 4), round(float(var[10]), 3)
    (0.7465, 1.227)
    """
    var0 = check_var0(var0)
    num_generations = check_int("num_generations", num_generations, minimum=0)
    check_horizon("num_generations", num_generations)
    sizes = sample_sizes(num_samples, num_generations).astype(np.float64)
    if sizes.size and sizes.min() < 2:
        raise InputError(f"num_samples must be >= 2 for the unbiased estimator; got {sizes.min()}")
    k = sizes - 1.0

    def log_g(q: float) -> np.ndarray:
        terms = q * np.log(2.0 / k) + gammaln(0.5 * k + q) - gammaln(0.5 * k)
        return np.concatenate([[0.0], np.cumsum(terms)])

    g2, g32, g12 = log_g(2.0), log_g(1.5), log_g(0.5)
    w = 1.0 / sizes
    mean = np.empty(num_generations + 1)
    second = np.empty(num_generations + 1)
    for n in range(num_generations + 1):
        wn, big = w[:n], np.exp(g2[:n])
        tail_sums = np.cumsum(wn[::-1])[::-1]  # sum_{j >= i} w_j
        e_a2 = float(np.sum(wn * big * (2.0 * tail_sums - wn)))
        cross = float(np.sum(wn * (big - 2.0 * np.exp(g32[:n] + g12[n] - g12[:n]) + 1.0)))
        quartic = np.exp(g2[n]) - 4.0 * np.exp(g32[n]) + 6.0 - 4.0 * np.exp(g12[n]) + 1.0
        mean[n] = wn.sum() + 2.0 - 2.0 * np.exp(g12[n])
        second[n] = 3.0 * e_a2 + 2.0 * cross + quartic
    scale = f"var0={var0:g}"
    return _times_scale(mean, var0, scale), _times_scale(
        np.maximum(second - mean**2, 0.0), var0 * var0, f"{scale} (the variance scales as var0**2)"
    )


#: Names of the family's tail law (``tails.py``, docs/theory.md §2.9) that are also part of
#: this module's closed forms (e.g. for sweeps of ``"gaussian.theory.<name>"``).
_TAIL_LAW = ("expected_tail_mass",)


def __getattr__(name: str) -> object:
    if name in _TAIL_LAW:
        from collapse_theory.gaussian import tails

        return getattr(tails, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
