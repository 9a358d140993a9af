"""Checks of the Gaussian model (docs/theory.md §2 in one dimension, §3 in d dimensions).

Monte Carlo checks compare a closed form of :mod:`collapse_theory.gaussian` with the library's own
simulator :func:`collapse_theory.gaussian.simulate` (mostly ``method="sufficient"``, a few with
``method="samples"``), so that the theory and the simulator are verified against each other.
Exact checks compare a closed form with an independent computation (scipy special functions,
numerical integration, another closed form it must agree with). Closed forms are looked up on
:mod:`collapse_theory.gaussian` when a check runs, so a patched function is what gets checked.

Heavy tails (docs/theory.md §2.5). Under the unbiased estimator :math:`\\sigma_n^2` is a martingale whose
relative variance :math:`\\prod(1+2/k_i) - 1` grows geometrically, so MC means of
:math:`\\sigma_n^2` (and of quantities containing it) are only used where that factor is small
(n <~ M, or summable schedules); otherwise the checks use log-scale quantities, the standard
deviation, probabilities and bounded quantities (tail masses).

Standard errors: means ``std / sqrt(R)`` with the heavy-tail diagnostic of that error
(:func:`collapse_theory._stats.mean_estimate`: the report flags a mean whose largest 1 % of
replicates carry most of the spread, docs/theory.md §6); sample variances from the fourth
central moment (:func:`collapse_theory._stats.variance_se`); proportions ``sqrt(p(1-p)/R)``.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from typing import Any

import numpy as np
from scipy import integrate
from scipy.special import digamma, ndtr, polygamma
from scipy.stats import chi2

from collapse_theory._stats import mean_estimate, proportion_se, variance_se
from collapse_theory.metrics import w2_gaussian
from collapse_theory.regimes import Accumulate, FreshData
from collapse_theory.schedules import Linear, Power, ScheduleLike
from collapse_theory.verify.registry import EstimateResult, Estimator, add_check

__all__ = ["COV3", "bures_w2_squared"]

FAMILY = "gaussian"

#: The 3x3 covariance of the examples of docs/theory.md §3.2-3.4 (tr = 3.5, det = 0.695).
COV3 = np.array([[2.0, 0.5, 0.0], [0.5, 1.0, 0.3], [0.0, 0.3, 0.5]])
_COV3_LIST = COV3.tolist()
_FULL = 20  # full runs use 20x the quick number of replicates


# --------------------------------------------------------------------------------------------
# estimators with standard errors


def bures_w2_squared(
    mean: np.ndarray, cov: np.ndarray, mean0: np.ndarray, cov0: np.ndarray
) -> np.ndarray:
    """``W_2^2(N(mean_r, cov_r), N(mean0, cov0))`` for a stack of R Gaussians (docs/theory.md §3.6).

    ``|m_r - m_0|^2 + tr(C_r + C_0 - 2 (C_0^{1/2} C_r C_0^{1/2})^{1/2})``, vectorised over the
    leading axis (``mean`` (R, d), ``cov`` (R, d, d)) by symmetric eigendecompositions: the
    eigenvalues of the one-sided product :math:`C_0^{1/2} C_r C_0^{1/2}`.

    Kept beside :func:`collapse_theory.metrics.w2_gaussian` (which broadcasts the same way and
    agrees to rounding, ``tests/test_verify_gaussian.py``) only because the §3.6 checks'
    recorded estimates are computed with it: ``w2_gaussian`` averages the nuclear norms of both
    products :math:`C_1^{1/2}C_2^{1/2}` and :math:`C_2^{1/2}C_1^{1/2}` so that it is exactly
    symmetric in its arguments, a different sequence of floating-point operations, and would
    change those estimates in their last bits. New code should call ``w2_gaussian``.
    """
    values, vectors = np.linalg.eigh(cov0)
    root0 = (vectors * np.sqrt(np.clip(values, 0.0, None))) @ vectors.T
    inner = root0 @ cov @ root0
    inner = 0.5 * (inner + np.swapaxes(inner, -1, -2))
    cross = np.sqrt(np.clip(np.linalg.eigvalsh(inner), 0.0, None)).sum(axis=-1)
    bures = np.trace(cov, axis1=-2, axis2=-1) + np.trace(cov0) - 2.0 * cross
    drift = np.sum((mean - mean0) ** 2, axis=-1)
    return drift + np.maximum(bures, 0.0)


# --------------------------------------------------------------------------------------------
# access to the library (looked up at run time)


def _theory(name: str) -> Callable[..., Any]:
    """``collapse_theory.gaussian.<name>``, or a clear error if it is not implemented."""
    import collapse_theory.gaussian as gaussian

    function = getattr(gaussian, name, None)
    if function is None:
        raise NotImplementedError(f"collapse_theory.gaussian.{name} is not implemented")
    return function


def _value(name: str, *args: Any, **kwargs: Any) -> float:
    return float(np.asarray(_theory(name)(*args, **kwargs)))


def _run_1d(
    ss: np.random.SeedSequence,
    num_samples: ScheduleLike,
    generations: int,
    replicates: int,
    **kwargs: Any,
) -> tuple[np.ndarray, np.ndarray]:
    """(mu_n, sigma_n^2) of R chains started at N(0, 1), last generation only."""
    run = _theory("simulate")(
        0.0,
        1.0,
        num_samples,
        generations,
        num_replicates=replicates,
        seed=ss,
        record="last",
        **kwargs,
    )
    return run["mean"][-1], run["var"][-1]


def _run_nd(
    ss: np.random.SeedSequence,
    cov0: np.ndarray,
    num_samples: ScheduleLike,
    generations: int,
    replicates: int,
    **kwargs: Any,
) -> tuple[np.ndarray, np.ndarray]:
    """(mu_n (R, d), Sigma_n (R, d, d)) of R chains started at N(0, cov0), last generation."""
    run = _theory("simulate")(
        np.zeros(cov0.shape[0]),
        cov0,
        num_samples,
        generations,
        num_replicates=replicates,
        seed=ss,
        record="last",
        **kwargs,
    )
    return run["mean"][-1], run["cov"][-1]


def _extra_generator(ss: np.random.SeedSequence) -> np.random.Generator:
    """A stream independent of the simulator's (which spawns the children of ``ss``)."""
    child = np.random.SeedSequence(
        ss.entropy, spawn_key=(*ss.spawn_key, 2**31 - 1), pool_size=ss.pool_size
    )
    return np.random.default_rng(child)


def _size(quick: bool, replicates: int) -> int:
    return replicates if quick else _FULL * replicates


# --------------------------------------------------------------------------------------------
# registration helper


def _register(*args: Any, quick: int | None = None, **kwargs: Any) -> None:
    add_check(FAMILY, *args, quick=quick, full=_FULL * quick if quick else None, **kwargs)


def _mc_1d(
    statistic: Callable[[np.ndarray, np.ndarray], EstimateResult],
    num_samples: ScheduleLike,
    generations: int,
    replicates: int,
    **kwargs: Any,
) -> Estimator:
    """An estimator: simulate the 1-D chain, then ``statistic(mu_n, sigma_n^2)``."""

    def estimate(ss: np.random.SeedSequence, quick: bool) -> EstimateResult:
        mu, var = _run_1d(ss, num_samples, generations, _size(quick, replicates), **kwargs)
        return statistic(mu, var)

    return estimate


def _w2_1d(mu: np.ndarray, var: np.ndarray) -> EstimateResult:
    """MC mean of ``W_2^2 = mu^2 + (sigma - 1)^2`` against N(0, 1) (docs/theory.md §2.5)."""
    return mean_estimate(w2_gaussian(mu, var, 0.0, 1.0, squared=True))


# Replicates of the quick run (full: 20x). 1-D sufficient statistics run at ~2e7 chain-generations
# per second on 2 cores; FreshData and Accumulate ~1.5e7; 3-D ~1.5e6.
R_1D = 100_000
R_SLOW = 25_000
R_3D = 40_000
R_SAMPLES = 10_000  # explicit draws per generation (method='samples', policies)

# --------------------------------------------------------------------------------------------
# §2.2 moments

_register(
    "std",
    "§2.2",
    "E sigma_n = sqrt(var0) prod c(k_i) (expected_std) vs MC mean of sigma_n",
    {"M": 10, "n": 20},
    lambda: _value("expected_std", 10, 20),
    _mc_1d(lambda mu, var: mean_estimate(np.sqrt(var)), 10, 20, R_1D),
    quick=R_1D,
)

_register(
    "std_samples",
    "§2.2",
    "E sigma_n (expected_std) vs MC with method='samples' (M explicit draws per generation)",
    {"M": 10, "n": 20, "method": "samples"},
    lambda: _value("expected_std", 10, 20),
    _mc_1d(lambda mu, var: mean_estimate(np.sqrt(var)), 10, 20, R_SAMPLES, method="samples"),
    quick=R_SAMPLES,
)

_register(
    "variance_martingale",
    "§2.2",
    "E sigma_n^2 = var0 (expected_variance, unbiased) vs MC mean, n <= M",
    {"M": 100, "n": 10},
    lambda: _value("expected_variance", 100, 10),
    _mc_1d(lambda mu, var: mean_estimate(var), 100, 10, R_1D),
    quick=R_1D,
)

_register(
    "variance_of_variance",
    "§2.2",
    "Var sigma_n^2 = var0^2 [prod(1 + 2/k_i) - 1] vs MC sample variance (4th-moment SE)",
    {"M": 100, "n": 10},
    lambda: _value("variance_of_variance", 100, 10),
    _mc_1d(lambda mu, var: variance_se(var), 100, 10, R_1D),
    quick=R_1D,
)

# --------------------------------------------------------------------------------------------
# §2.3 log scale and almost-sure collapse


def _cumulant(order: int, num_samples: ScheduleLike, generations: int, **kwargs: Any) -> float:
    values = _theory("log_variance_cumulants")(num_samples, generations, order, **kwargs)
    return float(np.asarray(values)[order - 1])


_register(
    "log_variance_mean",
    "§2.3",
    "E ln sigma_n^2 = kappa_1 = sum[psi(k/2) - ln(k/2)] vs MC",
    {"M": 10, "n": 20},
    lambda: _cumulant(1, 10, 20),
    _mc_1d(lambda mu, var: mean_estimate(np.log(var)), 10, 20, R_1D),
    quick=R_1D,
)

_register(
    "log_variance_var",
    "§2.3",
    "Var ln sigma_n^2 = kappa_2 = sum psi'(k/2) vs MC sample variance",
    {"M": 10, "n": 20},
    lambda: _cumulant(2, 10, 20),
    _mc_1d(lambda mu, var: variance_se(np.log(var)), 10, 20, R_1D),
    quick=R_1D,
)

_register(
    "log_variance_mean_mle",
    "§2.3",
    "E ln sigma_n^2 = kappa_1 + n ln r for the MLE (log_variance_cumulants, estimator='mle')",
    {"M": 10, "n": 20, "estimator": "mle"},
    lambda: _cumulant(1, 10, 20, estimator="mle"),
    _mc_1d(lambda mu, var: mean_estimate(np.log(var)), 10, 20, R_1D, estimator="mle"),
    quick=R_1D,
)

for _m, _n, _eps, _r in ((10, 20, 0.1, R_1D), (50, 100, 0.01, R_1D)):
    _register(
        f"prob_below_m{_m}_n{_n}",
        "§2.3",
        f"P(sigma_n^2 < {_eps}) exact (Gil-Pelaez) vs MC proportion",
        {"M": _m, "n": _n, "eps": _eps},
        (lambda m=_m, n=_n, e=_eps: _value("prob_variance_below", e, m, n)),
        _mc_1d((lambda mu, var, e=_eps: proportion_se(var < e)), _m, _n, _r),
        quick=_r,
    )


def _two_generation_probability(eps: float, num_samples: int) -> float:
    """P(S_1 S_2 < eps), S = chi2_k / k, by numerical integration over S_1 (independent)."""
    k = num_samples - 1

    def integrand(s: float) -> float:
        return float(chi2.pdf(s * k, k) * k * chi2.cdf(eps / s * k, k))

    total = 0.0
    edges = [0.0, eps, 0.5, 1.0, 2.0, 5.0, 60.0]
    for lo, hi in itertools.pairwise(edges):
        part, _ = integrate.quad(integrand, lo, hi, epsabs=1e-14, epsrel=1e-12, limit=200)
        total += part
    return total


_register(
    "prob_below_one_generation",
    "§2.3",
    "prob_variance_below(method='exact') at n=1 vs scipy chi2.cdf(k eps, k)",
    {"M": 10, "n": 1, "eps": 0.5},
    lambda: _value("prob_variance_below", 0.5, 10, 1),
    lambda ss, quick: (float(chi2.cdf(0.5 * 9, 9)), 0.0),
    kind="exact",
    tolerance=1e-9,
)

_register(
    "prob_below_two_generations",
    "§2.3",
    "prob_variance_below(method='exact') at n=2 vs quad of chi2 pdf x chi2 cdf",
    {"M": 10, "n": 2, "eps": 0.3},
    lambda: _value("prob_variance_below", 0.3, 10, 2),
    lambda ss, quick: (_two_generation_probability(0.3, 10), 0.0),
    kind="exact",
    tolerance=1e-8,
)


def _normal_edgeworth(eps: float, num_samples: int, generations: int, edgeworth: bool) -> float:
    """Phi(z) [- (gamma/6)(z^2-1)phi(z)], cumulants written out with scipy digamma/polygamma."""
    half = 0.5 * (num_samples - 1)
    k1 = generations * (float(digamma(half)) - math.log(half))
    k2 = generations * float(polygamma(1, half))
    k3 = generations * float(polygamma(2, half))
    z = (math.log(eps) - k1) / math.sqrt(k2)
    value = float(ndtr(z))
    if edgeworth:
        gamma = k3 / k2**1.5
        value -= gamma / 6.0 * (z * z - 1.0) * math.exp(-0.5 * z * z) / math.sqrt(2.0 * math.pi)
    return value


for _method in ("normal", "edgeworth"):
    _register(
        f"prob_below_{_method}",
        "§2.3",
        f"prob_variance_below(method='{_method}') equals its formula from kappa_1..3",
        {"M": 50, "n": 100, "eps": 0.01},
        (lambda meth=_method: _value("prob_variance_below", 0.01, 50, 100, method=meth)),
        (
            lambda ss, quick, meth=_method: (
                _normal_edgeworth(0.01, 50, 100, meth == "edgeworth"),
                0.0,
            )
        ),
        kind="exact",
        tolerance=1e-12,
    )

# --------------------------------------------------------------------------------------------
# §2.4 law of mu_n

_register(
    "mean_drift",
    "§2.4",
    "Var mu_n = E(mu_n - mu_0)^2 = var0 sum 1/M_i (mean_squared_drift) vs MC mean of mu_n^2",
    {"M": 10, "n": 20},
    lambda: _value("mean_squared_drift", 10, 20),
    _mc_1d(lambda mu, var: mean_estimate(mu * mu), 10, 20, R_1D),
    quick=R_1D,
)


def _fresh_draw(ss: np.random.SeedSequence, quick: bool) -> EstimateResult:
    replicates = _size(quick, R_1D)
    mu, var = _run_1d(ss, 10, 20, replicates)
    x = mu + np.sqrt(var) * _extra_generator(ss).standard_normal(replicates)
    return mean_estimate(x * x)


_register(
    "fresh_draw_variance",
    "§2.4",
    "Var X = var0 (1 + sum 1/M_i) for one draw X from model n vs MC mean of X^2",
    {"M": 10, "n": 20},
    lambda: _value("fresh_draw_variance", 10, 20),
    _fresh_draw,
    quick=R_1D,
)

# --------------------------------------------------------------------------------------------
# §2.5 Wasserstein-2 (n <~ M for means; summable or slowly growing schedules)

for _m, _n in ((100, 50), (10, 10)):
    _register(
        f"w2_m{_m}_n{_n}",
        "§2.5",
        "exact E W2^2 = var0 [sum 1/M_i + 2 (1 - prod c(k_i))] vs MC (unbiased)",
        {"M": _m, "n": _n},
        (lambda m=_m, n=_n: _value("expected_w2_squared", m, n)),
        _mc_1d(_w2_1d, _m, _n, R_1D),
        quick=R_1D,
    )

for _label, _schedule, _text in (
    ("linear", Linear(20, 20), "M_i = 20(i+1)"),
    ("square", Power(20, 2.0), "M_i = 20(i+1)^2"),
):
    _register(
        f"w2_schedule_{_label}",
        "§2.5",
        f"exact E W2^2 for the schedule {_text} at n=400 vs MC",
        {"M_i": _text, "n": 400},
        (lambda s=_schedule: _value("expected_w2_squared", s, 400)),
        _mc_1d(_w2_1d, _schedule, 400, R_SLOW),
        quick=R_SLOW,
    )


def _nongaussian_drift(ss: np.random.SeedSequence, quick: bool) -> EstimateResult:
    from scipy.stats import expon

    run = _theory("simulate")(
        None,
        None,
        10,
        10,
        num_replicates=_size(quick, R_SLOW),
        seed=ss,
        record="last",
        data0=expon(),
    )
    return mean_estimate((run["mean"][-1] - 1.0) ** 2)


_register(
    "w2_lower_bound_nongaussian",
    "§2.5",
    "W2^2 >= (Delta mean)^2: w2_lower_bound = E(mu_n - mu_0)^2 for a non-Gaussian D0 (Exp(1))",
    {"D0": "Exp(1)", "M": 10, "n": 10},
    lambda: _value("w2_lower_bound", 10, 10),
    _nongaussian_drift,
    quick=R_SLOW,
)

_register(
    "w2_first_order",
    "§2.5",
    "first order (3/2) var0 sum 1/M_i vs exact E W2^2, n << M; tolerance (sum 1/k_i)^2",
    {"M": 1000, "n": 10},
    lambda: _value("w2_first_order", 1000, 10),
    lambda ss, quick: (_value("expected_w2_squared", 1000, 10), 0.0),
    kind="exact",
    tolerance=(10 / 999) ** 2,
)

# --------------------------------------------------------------------------------------------
# §2.6 MLE (ddof=0)

_MLE = {"estimator": "mle"}
for _m, _n in ((10, 20), (100, 50)):
    _register(
        f"mle_variance_m{_m}_n{_n}",
        "§2.6",
        "E sigma_n^2 = var0 r^n (expected_variance, MLE) vs MC",
        {"M": _m, "n": _n, **_MLE},
        (lambda m=_m, n=_n: _value("expected_variance", m, n, estimator="mle")),
        _mc_1d(lambda mu, var: mean_estimate(var), _m, _n, R_1D, estimator="mle"),
        quick=R_1D,
    )

_register(
    "mle_std",
    "§2.6",
    "E sigma_n = sqrt(var0) (c(k) sqrt(r))^n (expected_std, MLE) vs MC",
    {"M": 10, "n": 20, **_MLE},
    lambda: _value("expected_std", 10, 20, estimator="mle"),
    _mc_1d(lambda mu, var: mean_estimate(np.sqrt(var)), 10, 20, R_1D, estimator="mle"),
    quick=R_1D,
)

_register(
    "mle_mean_drift",
    "§2.6",
    "E(mu_n - mu_0)^2 = var0 (1 - r^n) (mean_squared_drift, MLE) vs MC",
    {"M": 10, "n": 20, **_MLE},
    lambda: _value("mean_squared_drift", 10, 20, estimator="mle"),
    _mc_1d(lambda mu, var: mean_estimate(mu * mu), 10, 20, R_1D, estimator="mle"),
    quick=R_1D,
)

_register(
    "mle_conservation",
    "§2.6",
    "E[(mu_n - mu_0)^2 + sigma_n^2] = var0 (expected_variance + mean_squared_drift, MLE)",
    {"M": 10, "n": 20, **_MLE},
    lambda: (
        _value("expected_variance", 10, 20, estimator="mle")
        + _value("mean_squared_drift", 10, 20, estimator="mle")
    ),
    _mc_1d(lambda mu, var: mean_estimate(mu * mu + var), 10, 20, R_1D, estimator="mle"),
    quick=R_1D,
)

_register(
    "mle_w2",
    "§2.6",
    "E W2^2 = 2 var0 (1 - (c(k) sqrt(r))^n) <= 2 var0 (expected_w2_squared, MLE) vs MC",
    {"M": 10, "n": 20, **_MLE},
    lambda: _value("expected_w2_squared", 10, 20, estimator="mle"),
    _mc_1d(_w2_1d, 10, 20, R_1D, estimator="mle"),
    quick=R_1D,
)

_register(
    "mle_variance_of_variance",
    "§2.6",
    "Var sigma_n^2 = var0^2 r^(2n) [(1 + 2/k)^n - 1] (variance_of_variance, MLE) vs MC",
    {"M": 100, "n": 10, **_MLE},
    lambda: _value("variance_of_variance", 100, 10, estimator="mle"),
    _mc_1d(lambda mu, var: variance_se(var), 100, 10, R_1D, estimator="mle"),
    quick=R_1D,
)

# --------------------------------------------------------------------------------------------
# §2.7 fresh data

_SPLIT = FreshData(0.2, "split")  # m = 4 of M = 20
_MIX = FreshData(0.2, "mix")
#: Generations of the stationary checks: the (V, D) recursion reaches its fixed point
#: geometrically, at n = 100 within 5e-9 (relative) of it for both variants, a millionth of the
#: quick run's standard error.
_STATIONARY_N = 100


def _stationary(fresh: FreshData, which: int) -> Callable[[], float]:
    return lambda: float(_theory("stationary_moments")(20, fresh)[which])


for _which, _label, _stat in (
    (0, "variance", lambda mu, var: mean_estimate(var)),
    (1, "drift", lambda mu, var: mean_estimate(mu * mu)),
):
    _register(
        f"fresh_split_stationary_{_label}",
        "§2.7",
        f"stationary {'V = E sigma^2' if _which == 0 else 'D = E(mu-mu0)^2'} "
        f"(stationary_moments, split: m = 4 true draws) vs MC at n={_STATIONARY_N}",
        {"M": 20, "m": 4, "n": _STATIONARY_N, "variant": "split"},
        _stationary(_SPLIT, _which),
        _mc_1d(_stat, 20, _STATIONARY_N, R_SLOW, regime=_SPLIT),
        quick=R_SLOW,
    )

_register(
    "fresh_mix_stationary_variance",
    "§2.7",
    "stationary V = E sigma^2 (stationary_moments, mix: each point from the mixture) vs MC, "
    f"n={_STATIONARY_N}",
    {"M": 20, "fraction": 0.2, "n": _STATIONARY_N, "variant": "mix"},
    _stationary(_MIX, 0),
    _mc_1d(lambda mu, var: mean_estimate(var), 20, _STATIONARY_N, R_SLOW, regime=_MIX),
    quick=R_SLOW,
)

_register(
    "fresh_mix_drift_n5",
    "§2.7",
    "D_5 = E(mu_5 - mu_0)^2 from the (V, D) recursion (mean_squared_drift, mix) vs MC",
    {"M": 20, "fraction": 0.2, "n": 5, "variant": "mix"},
    lambda: _value("mean_squared_drift", 20, 5, regime=_MIX),
    _mc_1d(lambda mu, var: mean_estimate(mu * mu), 20, 5, R_1D, regime=_MIX),
    quick=R_1D,
)

_register(
    "fresh_split_variance_mle_n5",
    "§2.7",
    "V_5 = E sigma_5^2 from the recursion (expected_variance, split, MLE) vs MC",
    {"M": 20, "m": 4, "n": 5, "variant": "split", **_MLE},
    lambda: _value("expected_variance", 20, 5, regime=_SPLIT, estimator="mle"),
    _mc_1d(lambda mu, var: mean_estimate(var), 20, 5, R_1D, regime=_SPLIT, estimator="mle"),
    quick=R_1D,
)

# --------------------------------------------------------------------------------------------
# §2.8 accumulate

_ACC = Accumulate()
_register(
    "accumulate_variance",
    "§2.8",
    "E sigma_n^2 = var0 prod_{k=2}^n [1 - 1/(k(kM-1))] (expected_variance, accumulate) vs MC",
    {"M": 10, "n": 200},
    lambda: _value("expected_variance", 10, 200, regime=_ACC),
    _mc_1d(lambda mu, var: mean_estimate(var), 10, 200, R_SLOW, regime=_ACC),
    quick=R_SLOW,
)

_register(
    "accumulate_drift",
    "§2.8",
    "E(mu_n - mu_0)^2 = (1/M) sum v_{k-1}/k^2 (mean_squared_drift, accumulate) vs MC",
    {"M": 10, "n": 200},
    lambda: _value("mean_squared_drift", 10, 200, regime=_ACC),
    _mc_1d(lambda mu, var: mean_estimate(mu * mu), 10, 200, R_SLOW, regime=_ACC),
    quick=R_SLOW,
)

# --------------------------------------------------------------------------------------------
# §2.9 tail mass

_TAIL_K = 3.0
_RB_PATHS = 200_000  # paths of the library's Rao-Blackwellised Monte Carlo (theory side)
_RB_SEED = 29  # fixed seed of the theory side (its own MC error enters the standard error)


def _tail_about_mu0(mu: np.ndarray, var: np.ndarray) -> np.ndarray:
    """``P_n(|X - mu_0| > k sigma_0)`` per replicate (docs/theory.md §2.9)."""
    s = np.sqrt(var)
    return ndtr((mu - _TAIL_K) / s) + ndtr((-_TAIL_K - mu) / s)


def _tail_centred(var: np.ndarray) -> np.ndarray:
    """``P_n(|X - mu_n| > k sigma_0) = 2 Phi-bar(k / sigma_n)`` per replicate."""
    return 2.0 * ndtr(-_TAIL_K / np.sqrt(var))


def _tail_mean_direct(mu: np.ndarray, var: np.ndarray) -> EstimateResult:
    """Direct MC mean of the tail mass; the SE also covers the Rao-Blackwellised theory side.

    By the Rao-Blackwell theorem the per-path variance of E[T | S-path] is at most Var T, so
    ``sd(T) sqrt(1/R + 1/num_paths)`` bounds the SE of the difference.
    """
    tail = _tail_about_mu0(mu, var)
    mean, se, notes = mean_estimate(tail)
    return mean, se * math.sqrt(1.0 + tail.size / _RB_PATHS), notes


def _tail_median_direct(mu: np.ndarray, var: np.ndarray, median: float) -> tuple[float, float]:
    """P(T_n < library median): 1/2 up to the binomial SE of both Monte Carlo samples."""
    p, _ = proportion_se(_tail_about_mu0(mu, var) < median)
    return p, math.sqrt(0.25 / mu.size + 0.25 / _RB_PATHS)


for _m, _n in ((10, 20), (100, 50)):
    _register(
        f"tail_mean_m{_m}_n{_n}",
        "§2.9",
        "E P_n(|X-mu0| > 3 sqrt(var0)): Rao-Blackwellised expected_tail_mass vs direct simulation",
        {"k": _TAIL_K, "M": _m, "n": _n, "theory num_paths": _RB_PATHS},
        (
            lambda m=_m, n=_n: _value(
                "expected_tail_mass", _TAIL_K, m, n, num_paths=_RB_PATHS, seed=_RB_SEED
            )
        ),
        _mc_1d(_tail_mean_direct, _m, _n, R_1D),
        quick=R_1D,
    )


def _tail_median_estimate(ss: np.random.SeedSequence, quick: bool) -> EstimateResult:
    # The library's median is itself Monte Carlo: its seed comes from this check's stream, so
    # its error is independent across runs (a fixed seed gave every run the same offset, which
    # the calibration's per-check bias test flagged: mean z -0.46 over 123 seeds).
    median_ss, simulation_ss = ss.spawn(2)
    median = _value(
        "expected_tail_mass",
        _TAIL_K,
        100,
        50,
        statistic="median",
        num_paths=_RB_PATHS,
        seed=median_ss,
    )
    mu, var = _run_1d(simulation_ss, 100, 50, _size(quick, R_1D))
    return _tail_median_direct(mu, var, median)


_register(
    "tail_median",
    "§2.9",
    "P(T_n < median from expected_tail_mass(statistic='median')) = 1/2, tail about mu0",
    {"k": _TAIL_K, "M": 100, "n": 50, "theory num_paths": _RB_PATHS},
    lambda: 0.5,
    _tail_median_estimate,
    quick=R_1D,
)

_register(
    "tail_centred_mean",
    "§2.9",
    "E 2 Phi-bar(3 sqrt(var0)/sigma_n) exact (expected_tail_mass(centered=True)) vs MC",
    {"k": _TAIL_K, "M": 10, "n": 20},
    lambda: _value("expected_tail_mass", _TAIL_K, 10, 20, centered=True),
    _mc_1d(lambda mu, var: mean_estimate(_tail_centred(var)), 10, 20, R_1D),
    quick=R_1D,
)


def _centred_median_probability(num_samples: int, generations: int) -> Estimator:
    def estimate(ss: np.random.SeedSequence, quick: bool) -> EstimateResult:
        median = _value(
            "expected_tail_mass",
            _TAIL_K,
            num_samples,
            generations,
            centered=True,
            statistic="median",
        )
        _, var = _run_1d(ss, num_samples, generations, _size(quick, R_1D))
        return proportion_se(_tail_centred(var) < median)

    return estimate


for _m, _n in ((10, 20), (100, 50)):
    _register(
        f"tail_centred_median_m{_m}_n{_n}",
        "§2.9",
        "P(2 Phi-bar(3 sqrt(var0)/sigma_n) < exact median (expected_tail_mass)) = 1/2 vs MC",
        {"k": _TAIL_K, "M": _m, "n": _n},
        lambda: 0.5,
        _centred_median_probability(_m, _n),
        quick=R_1D,
    )

# --------------------------------------------------------------------------------------------
# §3 multivariate

_EYE3 = np.eye(3)


def _mc_nd(
    statistic: Callable[[np.ndarray, np.ndarray], EstimateResult],
    cov0: np.ndarray,
    num_samples: ScheduleLike,
    generations: int,
    replicates: int,
    **kwargs: Any,
) -> Estimator:
    def estimate(ss: np.random.SeedSequence, quick: bool) -> EstimateResult:
        mu, cov = _run_nd(ss, cov0, num_samples, generations, _size(quick, replicates), **kwargs)
        return statistic(mu, cov)

    return estimate


def _log_det(cov: np.ndarray) -> np.ndarray:
    return np.linalg.slogdet(cov)[1]


_register(
    "mv_mean_drift_samples",
    "§3.2",
    "E|mu_n - mu_0|^2 = tr Sigma0 sum 1/M_i (expected_mean_drift) vs MC, method='samples'",
    {"d": 3, "cov0": _COV3_LIST, "M": 12, "n": 15, "method": "samples"},
    lambda: _value("expected_mean_drift", COV3, 12, 15),
    _mc_nd(
        lambda mu, cov: mean_estimate(np.sum(mu * mu, axis=1)), COV3, 12, 15, R_3D, method="samples"
    ),
    quick=R_3D,
)

_register(
    "mv_mean_drift_mle",
    "§3.2",
    "E|mu_n - mu_0|^2 = tr Sigma0 (1 - r^n) (expected_mean_drift, MLE) vs MC",
    {"d": 3, "cov0": _COV3_LIST, "M": 12, "n": 15, **_MLE},
    lambda: _value("expected_mean_drift", COV3, 12, 15, estimator="mle"),
    _mc_nd(
        lambda mu, cov: mean_estimate(np.sum(mu * mu, axis=1)), COV3, 12, 15, R_3D, estimator="mle"
    ),
    quick=R_3D,
)

_register(
    "mv_log_det_mean",
    "§3.3",
    "E ln det Sigma_n = ln det Sigma0 + sum_i sum_j [psi((k-j+1)/2) + ln(2/k)] vs MC",
    {"d": 3, "cov0": _COV3_LIST, "M": 12, "n": 15},
    lambda: _value("expected_log_det", COV3, 12, 15),
    _mc_nd(lambda mu, cov: mean_estimate(_log_det(cov)), COV3, 12, 15, R_3D),
    quick=R_3D,
)

_register(
    "mv_log_det_var",
    "§3.3",
    "Var ln det Sigma_n = sum_i sum_j psi'((k-j+1)/2) (variance_log_det) vs MC sample variance",
    {"d": 3, "cov0": _COV3_LIST, "M": 12, "n": 15},
    lambda: _value("variance_log_det", COV3, 12, 15),
    _mc_nd(lambda mu, cov: variance_se(_log_det(cov)), COV3, 12, 15, R_3D),
    quick=R_3D,
)

_register(
    "mv_log_det_mean_mle",
    "§3.3",
    "E ln det Sigma_n for the MLE (expected_log_det + d n ln r) vs MC",
    {"d": 3, "cov0": _COV3_LIST, "M": 12, "n": 15, **_MLE},
    lambda: _value("expected_log_det", COV3, 12, 15, estimator="mle"),
    _mc_nd(lambda mu, cov: mean_estimate(_log_det(cov)), COV3, 12, 15, R_3D, estimator="mle"),
    quick=R_3D,
)

_register(
    "mv_det",
    "§3.3",
    "E det Sigma_n = det Sigma0 prod_i prod_j (k-j+1)/k (expected_det) vs MC",
    {"d": 3, "cov0": _COV3_LIST, "M": 200, "n": 20},
    lambda: _value("expected_det", COV3, 200, 20),
    _mc_nd(lambda mu, cov: mean_estimate(np.linalg.det(cov)), COV3, 200, 20, R_3D),
    quick=R_3D,
)


def _trace_moment(which: int, generations: int = 20, **kwargs: Any) -> Callable[[], float]:
    return lambda: float(
        np.asarray(_theory("trace_moments")(COV3, 200, generations, **kwargs)[which])
    )


def _trace(cov: np.ndarray) -> np.ndarray:
    return np.trace(cov, axis1=1, axis2=2)


_register(
    "mv_trace_mean",
    "§3.2",
    "E tr Sigma_n = tr Sigma0 (trace_moments[0]; E Sigma_n = Sigma0) vs MC",
    {"d": 3, "cov0": _COV3_LIST, "M": 200, "n": 20},
    _trace_moment(0),
    _mc_nd(lambda mu, cov: mean_estimate(_trace(cov)), COV3, 200, 20, R_3D),
    quick=R_3D,
)

_register(
    "mv_trace_var",
    "§3.4",
    "Var tr Sigma_n = a_n - (tr Sigma0)^2 from the (a_n, b_n) recursion (trace_moments) vs MC",
    {"d": 3, "cov0": _COV3_LIST, "M": 200, "n": 20},
    _trace_moment(1),
    _mc_nd(lambda mu, cov: variance_se(_trace(cov)), COV3, 200, 20, R_3D),
    quick=R_3D,
)

_register(
    "mv_trace_var_mle",
    "§3.4",
    "Var tr Sigma_n for the MLE (trace_moments, times r^(2n)) vs MC",
    {"d": 3, "cov0": _COV3_LIST, "M": 200, "n": 5, **_MLE},
    _trace_moment(1, 5, estimator="mle"),
    _mc_nd(lambda mu, cov: variance_se(_trace(cov)), COV3, 200, 5, R_3D, estimator="mle"),
    quick=R_3D,
)


def _lyapunov_error(dim: int, num_samples: int, mle: bool) -> float:
    """Max |lyapunov_exponents - [psi((k-j+1)/2) - ln(k/2) (+ ln r)]|, scipy digamma."""
    k = num_samples - 1
    j = np.arange(1, dim + 1)
    formula = digamma((k - j + 1) / 2.0) - math.log(k / 2.0)
    if mle:
        formula = formula + math.log((num_samples - 1) / num_samples)
    values = np.asarray(
        _theory("lyapunov_exponents")(dim, num_samples, estimator="mle" if mle else "unbiased")
    )
    if values.shape != formula.shape:
        return math.inf
    return float(np.max(np.abs(values - formula)))


for _mle in (False, True):
    _register(
        "lyapunov_formula" + ("_mle" if _mle else ""),
        "§3.5",
        "lyapunov_exponents(3, 10) vs psi((k-j+1)/2) - ln(k/2)"
        + (" + ln r" if _mle else "")
        + " from scipy digamma (max abs error)",
        {"d": 3, "M": 10, **(_MLE if _mle else {})},
        lambda: 0.0,
        (lambda ss, quick, mle=_mle: (_lyapunov_error(3, 10, mle), 0.0)),
        kind="exact",
        tolerance=1e-12,
    )

_register(
    "lyapunov_sum",
    "§3.5",
    "n * sum_j lambda_j = E ln det Sigma_n - ln det Sigma0 (finite n exact, cf. §3.3)",
    {"d": 3, "M": 10, "n": 3000},
    lambda: 3000.0 * float(np.sum(_theory("lyapunov_exponents")(3, 10))),
    lambda ss, quick: (_value("expected_log_det", _EYE3, 10, 3000), 0.0),
    kind="exact",
    tolerance=1e-8,
)


# §3.6 Wasserstein / Bures

_BOUND_Z = 5.0  # the bound checks use a one-sided MC confidence limit, mean -/+ 5 SE


def _w2_nd(cov0: np.ndarray) -> Callable[[np.ndarray, np.ndarray], EstimateResult]:
    def statistic(mu: np.ndarray, cov: np.ndarray) -> EstimateResult:
        return mean_estimate(bures_w2_squared(mu, cov, np.zeros(cov0.shape[0]), cov0))

    return statistic


def _bound_estimate(side: str) -> Estimator:
    inner = _mc_nd(_w2_nd(COV3), COV3, 50, 20, R_3D)

    def estimate(ss: np.random.SeedSequence, quick: bool) -> EstimateResult:
        mean, se, notes = inner(ss, quick)  # type: ignore[misc]  # _w2_nd gives the notes
        if side == "upper":
            return mean + _BOUND_Z * se, 0.0, notes
        return -(mean - _BOUND_Z * se), 0.0, notes

    return estimate


def _bound(which: int) -> Callable[[], float]:
    def theory() -> float:
        value = float(np.asarray(_theory("w2_squared_bounds")(COV3, 50, 20)[which]))
        return value if which == 1 else -value

    return theory


_register(
    "mv_w2_upper_bound",
    "§3.6",
    "MC E W2^2 + 5 SE <= tr Sigma0 (sum 1/M_i + 2) (w2_squared_bounds upper)",
    {"d": 3, "cov0": _COV3_LIST, "M": 50, "n": 20},
    _bound(1),
    _bound_estimate("upper"),
    kind="upper-bound",
)

_register(
    "mv_w2_lower_bound",
    "§3.6",
    "lower bound: -(MC E W2^2 - 5 SE) <= -tr Sigma0 sum 1/M_i (w2_squared_bounds lower, negated)",
    {"d": 3, "cov0": _COV3_LIST, "M": 50, "n": 20},
    _bound(0),
    _bound_estimate("lower"),
    kind="upper-bound",
)

_register(
    "mv_w2_first_order",
    "§3.6",
    "first order sigma^2 [nd/M + nd(d+1)/(4k)] (w2_first_order_isotropic) vs MC, Sigma0 = I, n << M",
    {"d": 3, "cov0": "I", "M": 2000, "n": 4},
    lambda: _value("w2_first_order_isotropic", 1.0, 3, 2000, 4),
    _mc_nd(_w2_nd(_EYE3), _EYE3, 2000, 4, R_3D),
    quick=R_3D,
)

_register(
    "mv_w2_first_order_1d",
    "§3.6",
    "w2_first_order_isotropic with d=1 vs the exact 1-D E W2^2; tolerance (sum 1/k_i)^2",
    {"d": 1, "M": 1000, "n": 10},
    lambda: _value("w2_first_order_isotropic", 1.0, 1, 1000, 10),
    lambda ss, quick: (_value("expected_w2_squared", 1000, 10), 0.0),
    kind="exact",
    tolerance=(10 / 999) ** 2,
)

# --------------------------------------------------------------------------------------------
# §8.2 sampling policies


def _policy(name: str, value: float) -> Any:
    from collapse_theory import policies

    return getattr(policies, name)(value)


def _truncation_c(k: float) -> float:
    """c_k = E X^2 of N(0, 1) truncated to [-k, k], by quadrature (independent of the library)."""
    inside = integrate.quad(lambda x: x * x * math.exp(-0.5 * x * x), -k, k)[0]
    return inside / (math.sqrt(2.0 * math.pi) * (2.0 * ndtr(k) - 1.0))


_register(
    "policy_c2",
    "§8.2",
    "variance factor of a +-2 sigma truncation c_2 = .773741, closed form = quadrature",
    {"k": 2.0},
    lambda: float(_policy("Truncation", 2.0).variance_factor()),
    lambda ss, quick: (_truncation_c(2.0), 0.0),
    kind="exact",
    tolerance=1e-10,
)


def _policy_moment(policy: tuple[str, float], estimator: str, statistic: str) -> Estimator:
    def estimate(ss: np.random.SeedSequence, quick: bool) -> EstimateResult:
        mean, var = _run_1d(ss, 10, 6, _size(quick, R_SAMPLES),
                            estimator=estimator, policy=_policy(*policy))  # fmt: skip
        if statistic == "variance":
            return mean_estimate(var)
        if statistic == "drift":
            return mean_estimate(mean**2)
        return variance_se(var)

    return estimate


for _name, _value_, _estimator, _statistic, _function in (
    ("Truncation", 2.0, "unbiased", "variance", "expected_variance"),
    ("Truncation", 2.0, "mle", "variance", "expected_variance"),
    ("Temperature", 0.9, "unbiased", "variance", "expected_variance"),
    ("Truncation", 1.0, "unbiased", "spread", "variance_of_variance"),
    ("Truncation", 1.0, "unbiased", "drift", "mean_squared_drift"),
):
    _tag = f"{_name.lower()}_{_statistic}" + ("_mle" if _estimator == "mle" else "")
    _register(
        f"policy_{_tag}",
        "§8.2",
        f"{_function} under {_name}({_value_}), {_estimator}: exact product of sampled-law moments",
        {"M": 10, "n": 6, "policy": f"{_name}({_value_})", "estimator": _estimator},
        (
            lambda f=_function, n=_name, v=_value_, e=_estimator: _value(
                f, 10, 6, estimator=e, policy=_policy(n, v)
            )
        ),
        _policy_moment((_name, _value_), _estimator, _statistic),
        quick=R_SAMPLES,
    )

# --------------------------------------------------------------------------------------------
# §9.1 weighted fresh data


def _golden_regime() -> Any:
    from collapse_theory.regimes import WeightedFresh

    return WeightedFresh(_value("optimal_fresh_weight", 20, 20), 20)


def _weighted_drift(ss: np.random.SeedSequence, quick: bool) -> EstimateResult:
    mu, _ = _run_1d(ss, 20, 40, _size(quick, R_SLOW), regime=_golden_regime())
    return mean_estimate(mu * mu)


_register(
    "weighted_drift",
    "§9.1",
    "E mu_n^2 at the golden-ratio weight, M = n_real = 20, n = 40 (stationary D* = .0309017)",
    {"M": 20, "n_real": 20, "w": "w* = .618034", "n": 40},
    lambda: _value("mean_squared_drift", 20, 40, regime=_golden_regime()),
    _weighted_drift,
    quick=R_SLOW,
)


def _weighted_variance(ss: np.random.SeedSequence, quick: bool) -> EstimateResult:
    _, var = _run_1d(
        ss, 10, 30, _size(quick, R_SLOW), regime=_weighted_regime_mle(), estimator="mle"
    )
    return mean_estimate(var)


def _weighted_regime_mle() -> Any:
    from collapse_theory.regimes import WeightedFresh

    return WeightedFresh(0.3, 5)


_register(
    "weighted_variance_mle",
    "§9.1",
    "E sigma_n^2 under WeightedFresh(.3, 5), M=10, MLE fits, n=30 (below var0) vs MC",
    {"M": 10, "n_real": 5, "w": 0.3, "n": 30, "estimator": "mle"},
    lambda: _value("expected_variance", 10, 30, regime=_weighted_regime_mle(), estimator="mle"),
    _weighted_variance,
    quick=R_SLOW,
)

# --------------------------------------------------------------------------------------------
# §10 estimators beyond the mean


def _location_variance(location: str, regime: Any) -> Estimator:
    """MC variance of the fitted location at generation 5, known scale, M = 20 (samples)."""

    def estimate(ss: np.random.SeedSequence, quick: bool) -> EstimateResult:
        mu, _ = _run_1d(
            ss, 20, 5, _size(quick, R_LOCATION), method="samples", location=location,
            known_scale=True, regime=regime,
        )  # fmt: skip
        return variance_se(mu)

    return estimate


R_LOCATION = 20_000

_register(
    "location_accumulate_mean",
    "§10",
    "Var theta_5 = (1/M) sum_{k<=5} 1/k^2 for the mean refitted on the pool, known scale "
    "(the location kernel, method='samples')",
    {"M": 20, "n": 5, "location": "mean", "known_scale": True, "regime": "Accumulate"},
    lambda: float(np.sum(1.0 / np.arange(1, 6) ** 2) / 20),
    _location_variance("mean", Accumulate()),
    quick=R_LOCATION,
)
