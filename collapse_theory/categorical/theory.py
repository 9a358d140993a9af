r"""Closed forms for the categorical model, the neutral Wright–Fisher chain (docs/theory.md §1).

Generation :math:`i+1` is the empirical frequency vector of :math:`M_i` draws from generation
:math:`i`: :math:`C_{i+1} \mid p_i \sim \mathrm{Mult}(M_i, p_i)`, :math:`p_{i+1} = C_{i+1}/M_i`.
Products over generations are taken in log space so that they neither underflow wrongly nor
lose precision for n up to :math:`10^6` and beyond. A function of scalar arguments returns a
``numpy.float64``; array arguments give an ndarray (``collapse_theory._validate.scalar_or_array``).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike
from scipy.special import comb, xlog1py
from scipy.stats import binom

from collapse_theory._validate import (
    InputError,
    InputTypeError,
    as_float_array,
    check_allocation,
    check_choice,
    check_generations,
    check_horizon,
    check_int,
    check_probability,
    check_probability_vector,
    check_real,
    scalar_or_array,
)
from collapse_theory.categorical import _markov_numba as _kern
from collapse_theory.categorical import markov as _markov
from collapse_theory.categorical import policy as _policy
from collapse_theory.categorical.policy import PolicyEstimate, PolicyMoments
from collapse_theory.policies import Policy, check_policy
from collapse_theory.regimes import (
    BASIC_REGIMES,
    Accumulate,
    FreshData,
    Regime,
    Replace,
    WeightedFresh,
    check_regime,
)
from collapse_theory.schedules import Constant, ScheduleLike, as_schedule, constant_size

__all__ = [
    "AbsorptionTime",
    "TailLoss",  # noqa: F822 (the tail law, from tails.py by __getattr__)
    "absorption_bound",
    "absorption_time",
    "absorption_time_survival",
    "eigenvalues",
    "expected_heterozygosity",
    "expected_survivors",
    "fixation_probabilities",
    "loss_probability",
    "moments",
    "optimal_fresh_weight",
    "stationary_moments",
    "tail_loss",  # noqa: F822
    "transition_matrix",
    "zipf",
]

#: Largest M for which the dense (M+1) x (M+1) transition matrix is built (~200 MiB).
MAX_DENSE_SAMPLES = 5000
#: Largest number of eigenvalues returned without ``max_index``.
MAX_EIGENVALUES = 10**7
#: Largest M for the exact 2-state absorption time (dense solve of M-1 equations).
MAX_EXACT_ABSORPTION_SAMPLES = 2000
#: Largest number of compositions for the exact K-state absorption time.
MAX_EXACT_ABSORPTION_COMPOSITIONS = 5000

_LOSS_METHODS = ("exact", "galton-watson", "feller")
#: Regimes with closed-form moments (docs/theory.md §1.2-1.8, §9.1).
_MOMENT_REGIMES = (*BASIC_REGIMES, WeightedFresh)


# ---------------------------------------------------------------------------------------------
# helpers


def _max_gen(gens: np.ndarray) -> int:
    return int(gens.max()) if gens.size else 0


def _sizes(num_samples: ScheduleLike, n: int) -> np.ndarray:
    """M_0..M_{n-1}, after checking the per-generation arrays against the memory limit."""
    check_horizon("generations", n)
    return as_schedule(num_samples).sizes(n)


def _log_product(
    num_samples: ScheduleLike, gens: np.ndarray, log_factor: Callable[[np.ndarray], np.ndarray]
) -> np.ndarray:
    """sum_{i<n} log_factor(M_i) for every n in gens (constant schedules in closed form)."""
    schedule = as_schedule(num_samples)
    if isinstance(schedule, Constant):
        with np.errstate(divide="ignore"):
            f = float(log_factor(np.array([float(schedule.m)]))[0])
        with np.errstate(invalid="ignore"):
            out = np.where(gens == 0, 0.0, gens.astype(np.float64) * f)
        return out
    sizes = _sizes(num_samples, _max_gen(gens)).astype(np.float64)
    with np.errstate(divide="ignore"):
        cum = np.concatenate([[0.0], np.cumsum(log_factor(sizes))])
    return cum[gens]


def _log_lambda2(m: np.ndarray) -> np.ndarray:
    return np.log1p(-1.0 / m)


def _sigma0(p0: np.ndarray) -> np.ndarray:
    return np.diag(p0) - np.outer(p0, p0)


# ---------------------------------------------------------------------------------------------
# §1.4 / §1.5: the transition matrix and its spectrum


def transition_matrix(num_samples: ScheduleLike) -> np.ndarray:
    r"""Dense transition matrix of the 2-state (lumped) chain (docs/theory.md §1.4).

    .. math:: P_{jk} = \binom{M}{k} \Big(\frac{j}{M}\Big)^k \Big(1 - \frac{j}{M}\Big)^{M-k},
              \qquad j, k = 0, \dots, M.

    Parameters
    ----------
    num_samples : int or schedules.Constant
        M, 1 <= M <= ``MAX_DENSE_SAMPLES``.

    Returns
    -------
    ndarray, shape (M+1, M+1)
        Row-stochastic matrix.

    Raises
    ------
    TypeError
        If num_samples is not an int (or a constant schedule).
    ValueError
        If M exceeds ``MAX_DENSE_SAMPLES`` (the matrix would need (M+1)^2 * 8 bytes).

    Examples
    --------
    >>> transition_matrix(2)
    array([[1.  , 0.  , 0.  ],
           [0.25, 0.5 , 0.25],
           [0.  , 0.  , 1.  ]])
    """
    m = constant_size(num_samples, "transition_matrix")
    if m > MAX_DENSE_SAMPLES:
        raise InputError(
            f"transition_matrix(num_samples={m}) would need {(m + 1) ** 2 * 8 / 2**30:.2f} GiB "
            f"of memory; at most num_samples={MAX_DENSE_SAMPLES} is built densely: use "
            "markov.lumped_loss_probability / lumped_distribution (banded, no dense matrix)"
        )
    k = np.arange(m + 1)
    return binom.pmf(k[None, :], m, (k / m)[:, None])


def eigenvalues(
    num_samples: ScheduleLike, num_states: int = 2, *, max_index: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    r"""Eigenvalues of the K-state Wright–Fisher chain with their multiplicities (docs/theory.md §1.5).

    .. math:: \lambda_k = \prod_{j<k} \Big(1 - \frac{j}{M}\Big) = \frac{M!}{(M-k)!\,M^k},
              \qquad k = 0, \dots, M,

    with multiplicity :math:`\binom{k+K-2}{K-2}` (Feller 1951). Computed in log space; values far
    below the smallest double are returned as 0.

    Parameters
    ----------
    num_samples : int or schedules.Constant
        M >= 1.
    num_states : int
        K >= 2.
    max_index : int, optional
        Return only k = 0..max_index (needed when M + 1 > ``MAX_EIGENVALUES``).

    Returns
    -------
    values : ndarray, shape (min(M, max_index) + 1,)
        :math:`\lambda_k`, non-increasing.
    multiplicities : ndarray
        int64 when all fit exactly, else float64.

    Raises
    ------
    ValueError, TypeError
        On invalid input, or when the output would exceed ``MAX_EIGENVALUES`` entries.

    Examples
    --------
    >>> values, mult = eigenvalues(4, 3)
    >>> (values * 32).round(12).tolist(), mult.tolist()
    ([32.0, 32.0, 24.0, 12.0, 3.0], [1, 2, 3, 4, 5])
    """
    m = constant_size(num_samples, "eigenvalues")
    num_states = check_int("num_states", num_states, minimum=2)
    last = m
    if max_index is not None:
        last = min(m, check_int("max_index", max_index, minimum=0))
    if last + 1 > MAX_EIGENVALUES:
        raise InputError(
            f"eigenvalues(num_samples={m}) has {m + 1} values (~{(m + 1) * 16 / 2**30:.1f} GiB "
            f"with multiplicities); at most {MAX_EIGENVALUES} are returned: pass max_index "
            "to get only the leading ones"
        )
    j = np.arange(last, dtype=np.float64)
    with np.errstate(divide="ignore"):
        logs = np.concatenate([[0.0], np.cumsum(np.log1p(-j / m))])
    values = np.exp(logs)
    k = np.arange(last + 1)
    mult = comb(k + num_states - 2, num_states - 2, exact=False)
    if np.all(mult < 2.0**53):
        mult = np.rint(mult).astype(np.int64)
    return values, mult


# ---------------------------------------------------------------------------------------------
# §1.3 second moments, §1.7 fresh data, §1.8 accumulate


def expected_heterozygosity(
    p0: ArrayLike, num_samples: ScheduleLike, generations: ArrayLike
) -> np.ndarray:
    r"""Expected heterozygosity :math:`E H_n` (docs/theory.md §1.3).

    .. math:: E H_n = H_0 \prod_{i<n} \Big(1 - \frac{1}{M_i}\Big),
              \qquad H_0 = 1 - \sum_i p_{0,i}^2 .

    Parameters
    ----------
    p0 : array_like, shape (K,)
        Initial distribution.
    num_samples : int or schedule
        M or M_0, M_1, ...
    generations : int or array_like of int
        n >= 0.

    Returns
    -------
    numpy.float64 or ndarray, shape of generations (a float for a scalar)

    Raises
    ------
    ValueError, TypeError
        On invalid input, naming the argument.

    Examples
    --------
    >>> float(expected_heterozygosity([0.5, 0.5], 2, 1))
    0.25
    """
    p0 = check_probability_vector("p0", p0)
    gens = check_generations("generations", generations)
    h0 = max(0.0, 1.0 - float(p0 @ p0))
    return scalar_or_array(h0 * np.exp(_log_product(num_samples, gens, _log_lambda2)))


def _cov_scale(num_samples: ScheduleLike, gens: np.ndarray, regime: Regime) -> np.ndarray:
    """c_n with Cov p_n = c_n * Sigma0 for every regime."""
    if isinstance(regime, Replace):
        return -np.expm1(_log_product(num_samples, gens, _log_lambda2))
    n = _max_gen(gens)
    if isinstance(regime, Accumulate):
        sizes = _sizes(num_samples, n).astype(np.float64)
        totals = np.cumsum(sizes)
        with np.errstate(divide="ignore"):
            logs = np.log1p(-sizes / totals**2)
        cum = np.concatenate([[0.0], np.cumsum(logs)])
        return -np.expm1(cum[gens])
    if isinstance(regime, WeightedFresh):
        return _weighted_cov_scale(_sizes(num_samples, n).astype(np.float64), regime)[gens]
    # FreshData: c_{n+1} = 1/M_n + r_n c_n
    alpha = regime.fraction
    schedule = as_schedule(num_samples)
    if isinstance(schedule, Constant) and regime.variant == "mix":
        m = float(schedule.m)
        r = (1.0 - alpha) ** 2 * (1.0 - 1.0 / m)
        if r == 0.0:
            return np.where(gens == 0, 0.0, 1.0 / m)
        stationary = (1.0 / m) / (1.0 - r)
        return stationary * -np.expm1(gens * math.log(r))
    sizes = _sizes(num_samples, n).astype(np.float64)
    if regime.variant == "mix":
        rates = (1.0 - alpha) ** 2 * (1.0 - 1.0 / sizes)
    else:
        fresh = np.rint(alpha * sizes)
        synthetic = sizes - fresh
        rates = synthetic * (synthetic - 1.0) / sizes**2
    path = _kern.affine_recursion(1.0 / sizes, rates)
    return path[gens]


def _weighted_cov_scale(sizes: np.ndarray, regime: WeightedFresh) -> np.ndarray:
    r"""c_0..c_n under WeightedFresh(w, n) (docs/theory.md §9.1):
    :math:`c_{t+1} = (1-w)^2[(1 - 1/M_t)c_t + 1/M_t] + w^2/n`, :math:`c_0 = 0`."""
    keep = (1.0 - regime.weight) ** 2
    offsets = keep / sizes + regime.weight**2 / regime.num_real
    return _kern.affine_recursion(offsets, keep * (1.0 - 1.0 / sizes))


def moments(
    p0: ArrayLike,
    num_samples: ScheduleLike,
    generations: ArrayLike,
    regime: Regime | None = None,
    *,
    policy: Policy | None = None,
    num_replicates: int = _policy.DEFAULT_REPLICATES,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray] | PolicyMoments:
    r"""Mean and covariance of :math:`p_n` (docs/theory.md §1.2, §1.3, §1.7, §1.8).

    The mean is always :math:`p_0` (martingale). With :math:`\Sigma_0 = \mathrm{diag}\,p_0 -
    p_0 p_0^\top`, the covariance is :math:`c_n \Sigma_0` where

    - Replace: :math:`c_n = 1 - \prod_{i<n}(1 - 1/M_i)`;
    - FreshData "mix": :math:`c_{n+1} = 1/M_n + (1-\alpha)^2 (1 - 1/M_n)\, c_n`;
    - FreshData "split" (:math:`m_i = \mathrm{round}(\alpha M_i)` fresh draws):
      :math:`c_{n+1} = 1/M_n + (M_n - m_n)(M_n - m_n - 1) c_n / M_n^2`;
    - Accumulate (:math:`T_k = M_0 + \dots + M_{k-1}`):
      :math:`c_n = 1 - \prod_{k=1}^{n} (1 - M_{k-1}/T_k^2)`;
    - WeightedFresh(w, n) (docs/theory.md §9.1):
      :math:`c_{t+1} = (1-w)^2[(1 - 1/M_t)c_t + 1/M_t] + w^2/n`;

    all with :math:`c_0 = 0`.

    With a sampling ``policy`` (docs/theory.md §8.1; Replace only) the mean is no longer
    :math:`p_0` (:math:`E[p_{n+1} \mid p_n] = T(p_n)`). The result is then a
    :class:`PolicyMoments` (it unpacks as ``mean, cov``) whose ``method`` says how it was
    computed: exact for two states (the count chain with rows :math:`\mathrm{Bin}(M, T(j/M))`)
    and for small M and K (the composition chain), else Monte Carlo with ``num_replicates``
    chains from ``seed`` (``mean_standard_error`` then gives the error).

    Parameters
    ----------
    p0 : array_like, shape (K,)
        Initial distribution.
    num_samples : int or schedule
        M or M_0, M_1, ...
    generations : int or array_like of int
        n >= 0.
    regime : Replace, FreshData, Accumulate or WeightedFresh
        Default ``Replace()``.
    policy : Policy, optional
        Sampling policy of the fitted models (constant M, Replace).
    num_replicates, seed : int
        Size and seed of the Monte Carlo fallback under a policy.

    Returns
    -------
    mean : ndarray, shape generations.shape + (K,)
    cov : ndarray, shape generations.shape + (K, K)
        (a :class:`PolicyMoments` holding both under a policy)

    Raises
    ------
    ValueError, TypeError
        On invalid input, naming the argument.

    Examples
    --------
    >>> mean, cov = moments([0.5, 0.5], 10, 1)
    >>> float(cov[0, 0])
    0.025
    """
    p0 = check_probability_vector("p0", p0)
    gens = check_generations("generations", generations)
    regime = check_regime(
        Replace() if regime is None else regime, _MOMENT_REGIMES, "categorical.moments"
    )
    as_schedule(num_samples)
    policy = _check_policy_regime(policy, regime)
    if policy is not None:
        return _policy_moments(p0, num_samples, gens, policy, num_replicates, seed)
    scale = _cov_scale(num_samples, gens, regime)
    mean = np.broadcast_to(p0, gens.shape + p0.shape).copy()
    cov = scale[..., None, None] * _sigma0(p0)
    return mean, cov


def stationary_moments(
    p0: ArrayLike, num_samples: ScheduleLike, fresh: FreshData | WeightedFresh
) -> tuple[np.ndarray, np.ndarray]:
    r"""Stationary mean and covariance under fresh data (docs/theory.md §1.7, §9.1).

    Mean :math:`p_0`; covariance :math:`c\,\Sigma_0` with

    - "mix": :math:`c = 1/(\theta + 1)`, :math:`\theta = (M-1)\alpha(2-\alpha)`
      (the first two moments of Dirichlet(:math:`\theta p_0`));
    - "split": the fixed point :math:`c = (1/M) / (1 - (M-m)(M-m-1)/M^2)`,
      :math:`m = \mathrm{round}(\alpha M)`;
    - WeightedFresh(w, n): :math:`c = [(1-w)^2/M + w^2/n] / [1 - (1-w)^2(1 - 1/M)]`
      (docs/theory.md §9.1; the transient :math:`c_t` is :func:`moments` with this regime).

    Parameters
    ----------
    p0 : array_like, shape (K,)
        Initial distribution.
    num_samples : int or schedules.Constant
        Constant M.
    fresh : FreshData or WeightedFresh
        The fresh-data regime (fraction :math:`\alpha`, variant), or the weighted one
        (weight w > 0, num_real n).

    Returns
    -------
    mean : ndarray, shape (K,)
    cov : ndarray, shape (K, K)

    Raises
    ------
    TypeError
        If ``fresh`` is not a FreshData or num_samples not constant.
    ValueError
        If there is no stationary law (fraction 0, or fewer than one fresh draw for "split":
        the chain is absorbed).

    Examples
    --------
    >>> mean, cov = stationary_moments([0.5, 0.5], 10, FreshData(0.5))
    >>> round(float(cov[0, 0]), 6)
    0.032258
    >>> mean, cov = stationary_moments([0.2, 0.8], 10, WeightedFresh(0.4, 40))
    >>> round(float(cov[0, 0]), 8)
    0.00946746
    """
    p0 = check_probability_vector("p0", p0)
    m = constant_size(num_samples, "stationary_moments")
    if isinstance(fresh, WeightedFresh):
        return p0.copy(), _weighted_stationary_scale(m, fresh) * _sigma0(p0)
    if not isinstance(fresh, FreshData):
        raise InputTypeError(
            "fresh must be a FreshData(fraction, variant) or WeightedFresh(weight, num_real) "
            f"instance; got {fresh!r}"
        )
    alpha = fresh.fraction
    if alpha == 0.0:
        raise InputError(
            "fresh.fraction=0.0 has no stationary law: without fresh data the chain is absorbed "
            "(use moments(..., regime=Replace()))"
        )
    if fresh.variant == "mix":
        theta = (m - 1) * alpha * (2.0 - alpha)
        scale = 1.0 / (theta + 1.0)
    else:
        fresh_draws = int(np.rint(alpha * m))
        if fresh_draws < 1:
            raise InputError(
                f"FreshData(fraction={alpha}, variant='split') with num_samples={m} gives "
                f"round({alpha} * {m}) = {fresh_draws} fresh draws: the chain is absorbed and has "
                "no stationary law; use a fraction >= 0.5 / num_samples"
            )
        synthetic = m - fresh_draws
        scale = (1.0 / m) / (1.0 - synthetic * (synthetic - 1.0) / m**2)
    return p0.copy(), scale * _sigma0(p0)


def _weighted_stationary_scale(m: int, regime: WeightedFresh) -> float:
    """c with stationary Cov p = c Sigma0 under WeightedFresh (docs/theory.md §9.1)."""
    w = regime.weight
    if w == 0.0:
        raise InputError(
            "WeightedFresh(weight=0.0) has no stationary law: without the fresh estimate the "
            "chain is absorbed (use a weight in (0, 1])"
        )
    keep = (1.0 - w) ** 2
    # 1 - (1-w)^2 (1 - 1/M) = w (2 - w) + (1-w)^2 / M, without cancellation for small w
    return (keep / m + w**2 / regime.num_real) / (w * (2.0 - w) + keep / m)


def optimal_fresh_weight(num_samples: int, num_real: int) -> np.float64:
    r"""The weight w* that minimises the stationary variance under WeightedFresh(w, n)
    (docs/theory.md §9.1).

    With :math:`a = 1/M`, :math:`b = 1/n`, :math:`q = 1 - 1/M` and :math:`u = 1 - w`, the
    stationary scale :math:`c(u) = (a u^2 + b(1-u)^2)/(1 - q u^2)` has
    :math:`c'(u) = 0 \iff b q u^2 - (a + b + b q) u + b = 0`, whose root in [0, 1] is

    .. math:: u^* = \frac{2b}{(a + b + bq) + \sqrt{(a + b + bq)^2 - 4 b^2 q}},
        \qquad w^* = 1 - u^*

    (the smaller root; the other exceeds 1). The spec asks for a numerical minimiser with a
    stated tolerance; this closed form is exact to rounding (tests/test_weighted.py checks it
    against a bounded numerical minimisation to 1e-8). As M = n grows, w* tends to the golden
    ratio (sqrt(5) - 1)/2.

    Parameters
    ----------
    num_samples : int
        M >= 1 synthetic draws per generation.
    num_real : int
        n >= 1 fresh draws per generation.

    Returns
    -------
    numpy.float64

    Examples
    --------
    >>> round(float(optimal_fresh_weight(10, 40)), 6)
    0.825884
    """
    m = check_int("num_samples", num_samples, minimum=1)
    n = check_int("num_real", num_real, minimum=1)
    a, b, q = 1.0 / m, 1.0 / n, 1.0 - 1.0 / m
    linear = a + b + b * q
    return np.float64(1.0 - 2.0 * b / (linear + math.sqrt(linear * linear - 4.0 * b * b * q)))


# ---------------------------------------------------------------------------------------------
# §1.4 loss of states


def _loss_exact(
    p: np.ndarray, num_samples: ScheduleLike, gens: np.ndarray
) -> tuple[np.ndarray, ...]:
    def one(value: float, ug: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        path = _markov.propagate(value, num_samples, ug)
        return path.lost, path.survived

    return _markov._per_value(p, gens, one)


def _loss_approx(
    p: np.ndarray, num_samples: ScheduleLike, gens: np.ndarray, method: str
) -> np.ndarray:
    pb, gb = np.broadcast_arrays(p, gens)
    n_max = _max_gen(gb)
    schedule = as_schedule(num_samples)
    out = np.empty(pb.shape)
    positive = gb > 0
    if method == "feller":
        harmonic = _harmonic_sums(num_samples, gb)
        with np.errstate(divide="ignore", invalid="ignore"):
            expo = np.where(positive, -2.0 * pb / np.where(positive, harmonic, 1.0), 0.0)
        out = np.exp(expo)
    else:
        if isinstance(schedule, Constant):
            check_horizon("generations", n_max, bytes_per_generation=8)
            u = _kern.gw_survival_constant(max(n_max, 1))
            m0 = float(schedule.m)
            u_n = u[np.maximum(gb - 1, 0)]
        else:
            sizes = _sizes(num_samples, n_max).astype(np.float64)
            ratios = sizes[1:] / sizes[:-1]
            m0 = float(sizes[0]) if sizes.size else 1.0
            unique = np.unique(gb[positive])
            table = {int(g): _kern.gw_survival_schedule(ratios[: g - 1]) for g in unique}
            u_n = np.vectorize(lambda g: table.get(int(g), 1.0), otypes=[float])(gb)
        out = np.exp(-m0 * pb * u_n)
    return np.where(positive, out, np.where(pb == 0.0, 1.0, 0.0))


def _harmonic_sums(num_samples: ScheduleLike, gens: np.ndarray) -> np.ndarray:
    schedule = as_schedule(num_samples)
    if isinstance(schedule, Constant):
        return gens / float(schedule.m)
    sizes = _sizes(num_samples, _max_gen(gens)).astype(np.float64)
    return np.concatenate([[0.0], np.cumsum(1.0 / sizes)])[gens]


def loss_probability(
    p: ArrayLike,
    num_samples: ScheduleLike,
    generations: ArrayLike,
    method: str = "exact",
    *,
    policy: Policy | None = None,
) -> np.ndarray:
    r"""Probability that a state (or lumped set of states) of initial probability p is lost by
    generation n, :math:`P(p_{n,A} = 0)` (docs/theory.md §1.4).

    - ``"exact"``: the lumped 2-state chain, :math:`[b(p)^\top P_1 \cdots P_{n-1}]_0` with
      :math:`b(p) = \mathrm{Bin}(M_0, p)`; one generation gives :math:`(1-p)^{M_0}`. Computed by
      :func:`markov.lumped_loss_probability` (banded, error <= ~1e-12; use that function to get
      the bound).
    - ``"galton-watson"``: :math:`\exp(-M p (1 - q_{n-1}))`, :math:`q_0 = 0`,
      :math:`q_j = e^{q_{j-1} - 1}` (with a schedule: Poisson(:math:`M_i/M_{i-1}`) offspring).
    - ``"feller"``: :math:`\exp(-2Mp/n)`, i.e. :math:`\exp(-2p / \sum_{i<n} 1/M_i)`.

    With a sampling ``policy`` (docs/theory.md §8.1) the lumped chain is exact only for two
    states, (p, 1 - p): the count moves with rows :math:`\mathrm{Bin}(M, T(j/M))` after
    :math:`C_1 \sim \mathrm{Bin}(M, p)` (dataset 0 from the truth). It is propagated exactly
    by the banded algorithm (:func:`policy.two_state_law`; constant M, ``method="exact"``).

    Parameters
    ----------
    p : array_like
        Initial probabilities in [0, 1]; broadcast with generations.
    num_samples : int or schedule
        M or M_0, M_1, ...
    generations : int or array_like of int
        n >= 0.
    method : {"exact", "galton-watson", "feller"}
        See above.
    policy : Policy, optional
        Sampling policy of the fitted models; p is then one of two states.

    Returns
    -------
    numpy.float64 or ndarray, shape broadcast(p, generations) (a float for scalars)

    Raises
    ------
    ValueError, TypeError
        On invalid input, or (exact) when the propagation would be too expensive: then use
        ``method="galton-watson"`` or ``"feller"``.

    Examples
    --------
    >>> round(float(loss_probability(0.1, 10, 1)), 6)  # (1 - 0.1) ** 10
    0.348678
    """
    p = check_probability("p", p)
    gens = check_generations("generations", generations)
    as_schedule(num_samples)
    method = check_choice("method", method, _LOSS_METHODS)
    policy = _check_policy_regime(policy, Replace())
    if policy is not None:
        if method != "exact":
            raise InputError(
                f"loss_probability(method={method!r}) has no form under a policy; use "
                "method='exact' (two states, any policy)"
            )

        def one(value: float, ug: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            law = _policy.two_state_law(value, num_samples, ug, policy)
            return law.lost, law.error_bound

        return scalar_or_array(_markov._per_value(p, gens, one)[0])
    if method == "exact":
        return _markov.lumped_loss_probability(p, num_samples, gens)[0]
    return scalar_or_array(_loss_approx(p, num_samples, gens, method))


def _survival(
    p0: np.ndarray, num_samples: ScheduleLike, gens: np.ndarray, method: str
) -> np.ndarray:
    """(len(p0),) + gens.shape array of P(state i survives to n)."""
    p = p0.reshape((-1,) + (1,) * gens.ndim)
    if method == "exact":
        return _loss_exact(p, num_samples, gens)[1]
    return 1.0 - _loss_approx(p, num_samples, gens, method)


def expected_survivors(
    p0: ArrayLike,
    num_samples: ScheduleLike,
    generations: ArrayLike,
    method: str = "exact",
    *,
    policy: Policy | None = None,
    num_replicates: int = _policy.DEFAULT_REPLICATES,
    seed: int = 0,
) -> np.ndarray | PolicyEstimate:
    r"""Expected number of states still present at generation n (docs/theory.md §1.4).

    .. math:: E N_n = \sum_i \big(1 - P(p_{n,i} = 0)\big)

    (exact by linearity of expectation; each term from :func:`loss_probability`).

    With a sampling ``policy`` (docs/theory.md §8.1) the terms are no longer lumped chains; the
    result is a :class:`PolicyEstimate` whose ``method`` says how it was computed: exact for two
    states and for small M and K (composition chain), else Monte Carlo (``num_replicates``
    chains from ``seed``).

    Parameters
    ----------
    p0 : array_like, shape (K,)
        Initial distribution.
    num_samples : int or schedule
        M or M_0, M_1, ...
    generations : int or array_like of int
        n >= 0.
    method : {"exact", "galton-watson", "feller"}
        How each loss probability is computed.
    policy : Policy, optional
        Sampling policy of the fitted models (constant M).
    num_replicates, seed : int
        Size and seed of the Monte Carlo fallback under a policy.

    Returns
    -------
    numpy.float64 or ndarray, shape of generations (a float for a scalar)
        (a :class:`PolicyEstimate` under a policy)

    Raises
    ------
    ValueError, TypeError
        On invalid input, naming the argument.

    Examples
    --------
    >>> float(expected_survivors([0.5, 0.5], 1, 1))
    1.0
    """
    p0 = check_probability_vector("p0", p0)
    gens = check_generations("generations", generations)
    as_schedule(num_samples)
    method = check_choice("method", method, _LOSS_METHODS)
    policy = _check_policy_regime(policy, Replace())
    if policy is not None:
        return _policy_survivors(p0, num_samples, gens, policy, num_replicates, seed)
    return scalar_or_array(_survival(p0, num_samples, gens, method).sum(axis=0))


# ---------------------------------------------------------------------------------------------
# §1.9 tail loss


# ---------------------------------------------------------------------------------------------
# §1.1, §1.2, §1.6 absorption


def fixation_probabilities(p0: ArrayLike) -> np.ndarray:
    r"""Probability that each state is the last survivor: :math:`p_{0,i}` (docs/theory.md §1.2).

    By the martingale :math:`E p_n = p_0` and absorption with probability 1.

    Parameters
    ----------
    p0 : array_like, shape (K,)
        Initial distribution.

    Returns
    -------
    ndarray, shape (K,)

    Raises
    ------
    ValueError, TypeError
        If p0 is not a probability vector.

    Examples
    --------
    >>> fixation_probabilities([0.25, 0.75]).tolist()
    [0.25, 0.75]
    """
    return check_probability_vector("p0", p0).copy()


#: Series terms of the diffusion survival function: exp(-i(i+1) t / 2M) < e^-40 beyond them.
_KIMURA_EXPONENT_CUTOFF = 40.0


def _legendre_derivatives(z: float, degree: int) -> np.ndarray:
    """:math:`P_i'(z)` for i = 0..degree by the stable three-term recurrences (|z| <= 1)."""
    p_prev, p_cur = 1.0, z  # P_0, P_1
    derivatives = np.zeros(degree + 1)
    if degree >= 1:
        derivatives[1] = 1.0
    for i in range(1, degree):
        p_next = ((2 * i + 1) * z * p_cur - i * p_prev) / (i + 1)
        derivatives[i + 1] = derivatives[i - 1] + (2 * i + 1) * p_cur  # P'_{i+1}
        p_prev, p_cur = p_cur, p_next
    return derivatives


def absorption_time_survival(
    p: float, num_samples: ScheduleLike, generations: ArrayLike, method: str = "exact"
) -> np.ndarray:
    r"""Law of the absorption time of two states: :math:`P(T > n)`, T the first generation with
    one state left, starting from frequencies (p, 1 - p) (docs/theory.md §1.6).

    - ``"exact"``: :math:`P(T > n) = 1 - P(p_n = 0) - P(p_n = 1)`, both from the exact lumped
      chain (:func:`loss_probability`; the two events are disjoint).
    - ``"diffusion"``: Kimura's eigenfunction expansion of the neutral diffusion with generator
      :math:`\frac{x(1-x)}{2M}\partial_x^2` (time in generations), with :math:`z = 1 - 2p`:

      .. math::

          P(T > t) \approx \sum_{i\ \mathrm{odd}} \frac{2i+1}{i(i+1)}\, 4p(1-p)\, P_i'(z)\,
          e^{-i(i+1)t/(2M)},

      :math:`P_i` the Legendre polynomials. Its integral over t is Kimura's mean
      :math:`-2M[p\ln p + (1-p)\ln(1-p)]` (:func:`absorption_time`); the series converges for
      t > 0 (at t = 0 it oscillates about 1 and is clipped to [0, 1]).

    Parameters
    ----------
    p : float
        Initial frequency of the first state, in (0, 1).
    num_samples : int or schedules.Constant
        Constant M.
    generations : int or array_like of int (float for "diffusion")
        n >= 0.
    method : {"exact", "diffusion"}

    Returns
    -------
    numpy.float64 or ndarray, shape of generations (a float for a scalar)

    Examples
    --------
    >>> exact = absorption_time_survival(0.5, 200, [100, 400])
    >>> diffusion = absorption_time_survival(0.5, 200, [100, 400], method="diffusion")
    >>> [round(float(v), 3) for v in exact], [round(float(v), 3) for v in diffusion]
    ([0.859, 0.2], [0.867, 0.203])
    """
    p = check_real("p", p, minimum=0.0, maximum=1.0, strict_minimum=True)
    if p == 1.0:
        raise InputError("p must be in (0, 1): with p = 1 one state is absent from the start")
    m = constant_size(num_samples, "absorption_time_survival")
    method = check_choice("method", method, ("exact", "diffusion"))
    if method == "exact":
        lost = loss_probability(p, m, generations) + loss_probability(1.0 - p, m, generations)
        return scalar_or_array(np.clip(1.0 - lost, 0.0, 1.0))
    t = as_float_array("generations", generations)
    if np.any(t < 0):
        raise InputError(f"generations must be >= 0; got {generations!r}")
    t_min = float(np.min(t)) if t.size else 1.0
    # enough terms that the first omitted one is below e^-40 at the smallest positive time
    degree = int(math.sqrt(2.0 * m * _KIMURA_EXPONENT_CUTOFF / max(t_min, 1e-3))) + 2
    degree = min(degree | 1, 20_001)  # odd; at t -> 0 the series is clipped anyway
    i = np.arange(1, degree + 1, 2, dtype=np.float64)
    check_allocation(
        f"generations ({t.size} times) x {i.size} series terms of the diffusion",
        3.0 * 8 * t.size * i.size,
        advice="ask for fewer times at once",
    )
    derivatives = _legendre_derivatives(1.0 - 2.0 * p, degree)[1::2]
    coefficients = (2 * i + 1) / (i * (i + 1)) * 4.0 * p * (1.0 - p) * derivatives
    decay = np.exp(-np.multiply.outer(t, i * (i + 1)) / (2.0 * m))
    return scalar_or_array(np.clip(decay @ coefficients, 0.0, 1.0))


def absorption_bound(
    p0: ArrayLike, num_samples: ScheduleLike, generations: ArrayLike
) -> np.ndarray:
    r"""Upper bound on :math:`P(T_{abs} > n)` (docs/theory.md §1.1).

    .. math:: P(T_{abs} > n) \le \frac{M^2 H_0 \lambda_2^n}{2(M-1)}, \qquad
              \lambda_2 = 1 - 1/M

    (Markov's inequality on :math:`H_n`; off the absorbing set :math:`H \ge 2(M-1)/M^2`). With a
    schedule, :math:`E H_n / \min H` with :math:`M = M_{n-1}`. Clipped to [0, 1]; at n = 0 it is
    1 unless p0 is already a point mass. For M = 1 every chain is absorbed after one generation.

    Parameters
    ----------
    p0 : array_like, shape (K,)
        Initial distribution.
    num_samples : int or schedule
        M or M_0, M_1, ...
    generations : int or array_like of int
        n >= 0.

    Returns
    -------
    numpy.float64 or ndarray, shape of generations (a float for a scalar)

    Raises
    ------
    ValueError, TypeError
        On invalid input, naming the argument.

    Examples
    --------
    >>> round(float(absorption_bound([0.5, 0.3, 0.15, 0.05], 20, 100)), 4)
    0.0396
    """
    p0 = check_probability_vector("p0", p0)
    gens = check_generations("generations", generations)
    eh = expected_heterozygosity(p0, num_samples, gens)
    schedule = as_schedule(num_samples)
    if isinstance(schedule, Constant):
        last = np.full(gens.shape, float(schedule.m))
    else:
        sizes = _sizes(num_samples, _max_gen(gens)).astype(np.float64)
        last = np.concatenate([[2.0], sizes])[gens]
    with np.errstate(divide="ignore", invalid="ignore"):
        bound = np.where(last > 1, eh * last**2 / (2.0 * np.maximum(last - 1.0, 1.0)), 0.0)
    absorbed0 = float(np.count_nonzero(p0) <= 1)
    bound = np.where(gens == 0, 1.0 - absorbed0, bound)
    return scalar_or_array(np.clip(bound, 0.0, 1.0))


@dataclass(frozen=True)
class AbsorptionTime:
    r"""Mean time until one state is left (docs/theory.md §1.6).

    ``mean`` is computed by ``method`` ("exact", "diffusion" or, under a sampling policy,
    "monte carlo"); ``diffusion`` always holds the Kimura/Littler approximation for comparison
    (NaN under a policy); ``num_transient_states`` is the size of the exact chain (None
    otherwise); ``standard_error`` is that of a Monte Carlo mean (0 otherwise).

    Attributes
    ----------
    mean : float
        Mean number of generations until one state is left, :math:`E\,T`.
    method : str
        How ``mean`` was computed: ``"exact"`` (fundamental matrix), ``"diffusion"`` or
        ``"monte carlo"`` (under a sampling policy).
    diffusion : float
        The Kimura/Littler diffusion approximation, for comparison (NaN under a policy).
    num_samples : int
        Sample size M of every generation.
    num_states : int
        Number of states K present in p0.
    num_transient_states : int or None
        Size of the transient chain solved exactly; None for the other methods.
    standard_error : float, default 0.0
        Standard error of a Monte Carlo ``mean`` (docs/theory.md §6); 0 otherwise.
    """

    mean: float
    method: str
    diffusion: float
    num_samples: int
    num_states: int
    num_transient_states: int | None
    standard_error: float = 0.0


def absorption_time(
    p0: ArrayLike,
    num_samples: ScheduleLike,
    method: str = "auto",
    *,
    policy: Policy | None = None,
    num_replicates: int = 4000,
    seed: int = 0,
) -> AbsorptionTime:
    r"""Mean absorption time (until one state is left) from p0 (docs/theory.md §1.6).

    - ``"exact"``: fundamental matrix :math:`t = (I - Q)^{-1} \mathbf 1` on the transient states
      (2 states present: counts 1..M-1; K > 2: compositions of M with at least two non-zero
      parts), after a first step from p0 to :math:`\mathrm{Mult}(M, p_0)`:
      :math:`T = 1 + \sum_c \mathrm{Mult}(c; M, p_0)\, t_c`.
    - ``"diffusion"``: Kimura/Littler :math:`T \approx -2M \sum_i (1-p_i)\ln(1-p_i)` (for two
      states :math:`-2M[p\ln p + (1-p)\ln(1-p)]`).
    - ``"auto"``: exact when feasible (M <= ``MAX_EXACT_ABSORPTION_SAMPLES`` for two states, at
      most ``MAX_EXACT_ABSORPTION_COMPOSITIONS`` compositions otherwise), else diffusion.

    States with :math:`p_{0,i} = 0` play no role and are dropped.

    With a sampling ``policy`` (docs/theory.md §8.1) the diffusion is that of the neutral chain
    (``diffusion`` is then NaN): ``"exact"`` uses the two-state count chain (rows
    :math:`\mathrm{Bin}(M, T(j/M))`) or the composition chain, within the limits above;
    ``"monte-carlo"`` runs ``num_replicates`` chains from ``seed`` until every one is absorbed
    (the horizon doubles from 4M up to :data:`MAX_MONTE_CARLO_HORIZON`, else an error) and
    reports the mean with its ``standard_error``; ``"auto"`` is exact when feasible, else Monte
    Carlo.

    Parameters
    ----------
    p0 : array_like, shape (K,)
        Initial distribution.
    num_samples : int or schedules.Constant
        Constant M.
    method : {"auto", "exact", "diffusion", "monte-carlo"}
        ``"monte-carlo"`` only under a policy.
    policy : Policy, optional
        Sampling policy of the fitted models.
    num_replicates, seed : int
        Size and seed of the Monte Carlo estimate under a policy.

    Returns
    -------
    AbsorptionTime

    Raises
    ------
    ValueError
        On invalid input, or ``method="exact"`` when the exact chain is too large.

    Examples
    --------
    >>> round(absorption_time([0.5, 0.3, 0.15, 0.05], 20).mean, 3)
    29.757
    """
    p0 = check_probability_vector("p0", p0)
    m = constant_size(num_samples, "absorption_time")
    method = check_choice("method", method, ("auto", "exact", "diffusion", "monte-carlo"))
    if method == "monte-carlo" and check_policy(policy, "categorical") is None:
        raise InputError(
            "absorption_time(method='monte-carlo') is for a sampling policy; without one use "
            "'exact', 'diffusion' or 'auto'"
        )
    present = p0[p0 > 0]
    present = present / present.sum()
    k = present.size
    if k == 1:
        return AbsorptionTime(0.0, "exact" if method != "diffusion" else method, 0.0, m, k, 0)
    diffusion = float(-2.0 * m * np.sum(xlog1py(1.0 - present, -present)))  # 0 ln 0 = 0
    if k == 2:
        size = m - 1
        feasible = m <= MAX_EXACT_ABSORPTION_SAMPLES
        limit = f"num_samples <= {MAX_EXACT_ABSORPTION_SAMPLES}"
    else:
        size = _markov.num_compositions(k, m)
        feasible = size <= MAX_EXACT_ABSORPTION_COMPOSITIONS
        limit = f"at most {MAX_EXACT_ABSORPTION_COMPOSITIONS} compositions"
    policy = _check_policy_regime(policy, Replace())
    if policy is not None:
        return _policy_absorption_time(
            present, m, method, feasible, limit, policy, num_replicates, seed
        )
    if method == "exact" and not feasible:
        raise InputError(
            f"absorption_time(method='exact') with {k} states and num_samples={m} needs a chain "
            f"of {size} states ({limit}): use method='diffusion' or 'auto'"
        )
    if method == "diffusion" or (method == "auto" and not feasible):
        return AbsorptionTime(diffusion, "diffusion", diffusion, m, k, None)
    if k == 2:
        mean = _markov.absorption_time_two_state(float(present[0]), m)
        transient = m - 1
    else:
        mean, transient = _markov.absorption_time_compositions(present, m)
    return AbsorptionTime(mean, "exact", diffusion, m, k, transient)


# ---------------------------------------------------------------------------------------------
# §8.1 sampling policies


def _check_policy_regime(policy: object, regime: Regime) -> Policy | None:
    """The policy (None for no policy or an identity one); policies need Replace."""
    policy = check_policy(policy, "categorical")
    if policy is None or policy.is_identity:
        return None
    if not isinstance(regime, Replace):
        raise InputError(
            f"the closed forms under policy={policy!r} are for regime=Replace(); got {regime!r}: "
            "use simulate(..., regime=..., policy=...)"
        )
    return policy


def _policy_moments(
    p0: np.ndarray,
    num_samples: ScheduleLike,
    gens: np.ndarray,
    policy: Policy,
    num_replicates: int,
    seed: int,
) -> PolicyMoments:
    """Mean and covariance of p_n under a policy: two-state chain, compositions or Monte Carlo."""
    m = constant_size(num_samples, "moments under a policy")
    record = np.unique(gens)
    k = p0.size
    if k == 2:
        law = _policy.two_state_law(float(p0[0]), m, record, policy)
        mean = np.stack([law.mean, 1.0 - law.mean], axis=-1)
        var = law.second_moment - law.mean**2
        cov = var[:, None, None] * np.array([[1.0, -1.0], [-1.0, 1.0]])
        se = np.zeros_like(mean)
        method, replicates = _policy.EXACT_TWO_STATE, None
    elif _policy.composition_feasible(k, m):
        comps, laws = _policy.composition_laws(p0, m, record, policy)
        fractions = comps / m
        mean = np.empty((record.size, k))
        cov = np.empty((record.size, k, k))
        for i, (n, law) in enumerate(zip(record, laws, strict=True)):
            if n == 0:
                mean[i], cov[i] = p0, 0.0
                continue
            mean[i] = law @ fractions
            cov[i] = (fractions * law[:, None]).T @ fractions - np.outer(mean[i], mean[i])
        se = np.zeros_like(mean)
        method, replicates = _policy.EXACT_COMPOSITIONS, None
    else:
        paths = _policy.monte_carlo_paths(p0, m, record, policy, num_replicates, seed)
        mean, se = _policy.monte_carlo_estimate(paths)
        centred = paths - mean[:, None, :]
        cov = np.einsum("grk,grl->gkl", centred, centred) / (paths.shape[1] - 1)
        method, replicates = _policy.MONTE_CARLO, num_replicates
    where = np.searchsorted(record, gens)
    return PolicyMoments(mean[where], cov[where], method, se[where], replicates)


def _policy_survivors(
    p0: np.ndarray,
    num_samples: ScheduleLike,
    gens: np.ndarray,
    policy: Policy,
    num_replicates: int,
    seed: int,
) -> PolicyEstimate:
    """E N_n under a policy: two-state chain, compositions or Monte Carlo (docs/theory.md §8.1)."""
    m = constant_size(num_samples, "expected_survivors under a policy")
    record = np.unique(gens)
    present = p0[p0 > 0]
    k = present.size
    if k <= 1:
        value = np.full(record.size, float(k))
        se, method, replicates = np.zeros(record.size), _policy.EXACT_TWO_STATE, None
    elif k == 2:
        law = _policy.two_state_law(float(present[0]), m, record, policy)
        value = 2.0 - law.lost - law.fixed
        se, method, replicates = np.zeros(record.size), _policy.EXACT_TWO_STATE, None
    elif _policy.composition_feasible(k, m):
        comps, laws = _policy.composition_laws(present, m, record, policy)
        alive = np.count_nonzero(comps, axis=1)
        value = np.array([law @ alive if n > 0 else k for n, law in zip(record, laws, strict=True)])
        se, method, replicates = np.zeros(record.size), _policy.EXACT_COMPOSITIONS, None
    else:
        paths = _policy.monte_carlo_paths(present, m, record, policy, num_replicates, seed)
        value, se = _policy.monte_carlo_estimate(np.count_nonzero(paths > 0, axis=-1))
        method, replicates = _policy.MONTE_CARLO, num_replicates
    return PolicyEstimate(
        _policy.as_result(value, gens), _policy.as_result(se, gens), method, replicates
    )


#: Longest horizon, in multiples of M, of the Monte Carlo absorption time under a policy.
MAX_MONTE_CARLO_HORIZON = 256


def _policy_absorption_time(
    present: np.ndarray,
    m: int,
    method: str,
    feasible: bool,
    limit: str,
    policy: Policy,
    num_replicates: int,
    seed: int,
) -> AbsorptionTime:
    """Mean absorption time under a policy: exact (two states or compositions) or Monte Carlo."""
    k = present.size
    if method == "diffusion":
        raise InputError(
            f"absorption_time(method='diffusion') has no form under policy={policy!r}: the "
            "diffusion is that of the neutral chain; use 'exact', 'monte-carlo' or 'auto'"
        )
    if method == "exact" and not feasible:
        raise InputError(
            f"absorption_time(method='exact') under policy={policy!r} with {k} states and "
            f"num_samples={m} needs a chain beyond the limit ({limit}): use method="
            "'monte-carlo' or 'auto'"
        )
    if method == "monte-carlo" or not feasible:
        mean, se = _policy.monte_carlo_absorption(
            present, m, policy, num_replicates, seed, MAX_MONTE_CARLO_HORIZON * m
        )
        return AbsorptionTime(mean, _policy.MONTE_CARLO, math.nan, m, k, None, se)
    if k == 2:
        mean = _policy.two_state_absorption_time(float(present[0]), m, policy)
        return AbsorptionTime(mean, "exact", math.nan, m, k, m - 1)
    mean, transient = _policy.composition_absorption_time(present, m, policy)
    return AbsorptionTime(mean, "exact", math.nan, m, k, transient)


def zipf(num_states: int, exponent: float = 1.1) -> np.ndarray:
    r"""The Zipf distribution :math:`p_i \propto i^{-a}`, i = 1..K, the field's usual vocabulary.

    Parameters
    ----------
    num_states : int
        K >= 1.
    exponent : float, default 1.1
        a >= 0 (finite).

    Returns
    -------
    numpy.ndarray, shape (K,)

    Examples
    --------
    >>> zipf(3, 1.0).round(4).tolist()
    [0.5455, 0.2727, 0.1818]
    """
    num_states = check_int("num_states", num_states, minimum=1)
    exponent = check_real("exponent", exponent, minimum=0.0)
    weights = np.arange(1, num_states + 1, dtype=np.float64) ** -exponent
    return weights / weights.sum()


#: Names of the family's tail law (``tails.py``, docs/theory.md §1.9) that are also part of
#: this module's closed forms (e.g. for sweeps of ``"categorical.theory.<name>"``).
_TAIL_LAW = ("TailLoss", "tail_loss")


def __getattr__(name: str) -> object:
    if name in _TAIL_LAW:
        from collapse_theory.categorical import tails

        return getattr(tails, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
