r"""The Bernoulli case named: a Bernoulli(p0) refitted on M draws a generation is the two-state
categorical chain (docs/theory.md §1, §5.3), and these are thin wrappers over
:mod:`collapse_theory.categorical` for its outcome 1 (probability :math:`p_k`).

- :func:`zero_probability`, :func:`nonzero_probability`, :func:`collapse_probability`: the
  exact law of absorption (the lumped chain of docs/theory.md §1.4);
- :func:`moments`: :math:`E p_k = p_0` and :math:`\mathrm{Var}\,p_k` under every regime (§1.3,
  §1.7, §1.8);
- :func:`accumulate_ratio` and its limit :func:`accumulate_limit`
  :math:`R_M = M[1 - \sin(\pi/\sqrt M)/(\pi/\sqrt M)]` (§1.8, §5.3);
- two published bounds, drawn beside the exact law in the figure ``bernoulli_bounds``:
  :func:`suresh_lower_bound` (survival of the outcome, Suresh et al. 2024) and
  :func:`martingale_upper_bound` (the chain not yet collapsed, the Markov-inequality bound of
  §1.1 with the geometric rate :math:`(1-1/M)^k` of Seddik et al. 2024).

``collapse_theory.categorical`` is imported on first use, so that the Poisson family imports
without it.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike

from collapse_theory._validate import (
    check_generations,
    check_int,
    check_probability,
    check_real,
    scalar_or_array,
)
from collapse_theory.regimes import Accumulate, Regime

__all__ = [
    "accumulate_limit",
    "accumulate_ratio",
    "collapse_probability",
    "martingale_upper_bound",
    "moments",
    "nonzero_probability",
    "suresh_lower_bound",
    "zero_probability",
]


def zero_probability(
    p0: ArrayLike, num_samples: int, generations: ArrayLike
) -> np.float64 | np.ndarray:
    r""":math:`P(p_k = 0)`, exact: the outcome 1 is lost by generation k (docs/theory.md §1.4).

    :func:`collapse_theory.categorical.loss_probability` of the state of probability
    :math:`p_0`: :math:`[b(p_0)^\top P^{k-1}]_0` on the (M+1)-state binomial chain.

    Parameters
    ----------
    p0 : array_like
        Initial probability :math:`p_0` of the outcome 1, in [0, 1]; broadcast with
        ``generations``.
    num_samples : int
        Draws M >= 1 per generation.
    generations : int or array_like of int
        Generations k >= 0.

    Returns
    -------
    numpy.float64 or numpy.ndarray
        :math:`P(p_k = 0)`, shape broadcast(p0, generations) (a float for scalars); one
        generation gives :math:`(1 - p_0)^M`.

    Examples
    --------
    >>> round(float(zero_probability(0.1, 10, 1)), 6)  # (1 - 0.1) ** 10
    0.348678
    """
    from collapse_theory import categorical

    return categorical.loss_probability(p0, num_samples, generations)


def nonzero_probability(
    p0: ArrayLike, num_samples: int, generations: ArrayLike
) -> np.float64 | np.ndarray:
    r""":math:`P(p_k > 0) = 1 - P(p_k = 0)`, exact (docs/theory.md §1.4, §5.3): the Bernoulli
    counterpart of :func:`collapse_theory.poisson.nonzero_probability`.

    Parameters
    ----------
    p0 : array_like
        Initial probability :math:`p_0` of the outcome 1, in [0, 1]; broadcast with
        ``generations``.
    num_samples : int
        Draws M >= 1 per generation.
    generations : int or array_like of int
        Generations k >= 0.

    Returns
    -------
    numpy.float64 or numpy.ndarray
        :math:`P(p_k > 0)`, shape broadcast(p0, generations) (a float for scalars).
    """
    return scalar_or_array(1.0 - np.asarray(zero_probability(p0, num_samples, generations)))


def collapse_probability(
    p0: ArrayLike, num_samples: int, generations: ArrayLike
) -> np.float64 | np.ndarray:
    r""":math:`P(p_k \in \{0, 1\}) = P(p_k = 0) + P(1 - p_k = 0)`, exact: the chain has collapsed
    to a point mass by generation k (docs/theory.md §1.1, §1.4). The two events are disjoint
    (both need a Bernoulli with two outcomes of zero probability).

    Parameters
    ----------
    p0 : array_like
        Initial probability :math:`p_0` of the outcome 1, in [0, 1]; broadcast with
        ``generations``.
    num_samples : int
        Draws M >= 1 per generation.
    generations : int or array_like of int
        Generations k >= 0.

    Returns
    -------
    numpy.float64 or numpy.ndarray
        :math:`P(p_k \in \{0, 1\})`, shape broadcast(p0, generations) (a float for scalars).

    Examples
    --------
    >>> round(float(collapse_probability(0.5, 2, 1)), 6)  # both draws alike
    0.5
    """
    p = check_probability("p0", p0)
    lost = np.asarray(zero_probability(p, num_samples, generations))
    fixed = np.asarray(zero_probability(1.0 - p, num_samples, generations))
    return scalar_or_array(np.minimum(lost + fixed, 1.0))


def moments(
    p0: float, num_samples: int, generations: ArrayLike, regime: Regime | None = None
) -> tuple[np.float64 | np.ndarray, np.float64 | np.ndarray]:
    r"""Mean and variance of :math:`p_k` (docs/theory.md §1.2, §1.3, §1.7, §1.8):
    :math:`E p_k = p_0` and :math:`\mathrm{Var}\,p_k = c_k\,p_0(1-p_0)`, the (0, 0) entries of
    :func:`collapse_theory.categorical.moments` for :math:`(p_0, 1 - p_0)`.

    Parameters
    ----------
    p0 : float
        Initial probability :math:`p_0` of the outcome 1, in [0, 1].
    num_samples : int or schedule
        Draws M (or schedule M_i) per generation, as in
        :func:`collapse_theory.categorical.moments`.
    generations : int or array_like of int
        Generations k >= 0.
    regime : Replace, FreshData, Accumulate or WeightedFresh, optional
        Data regime (None: Replace; docs/theory.md §1.7, §1.8, §9.1).

    Returns
    -------
    mean, variance : numpy.float64 or ndarray, shape of ``generations``

    Examples
    --------
    >>> mean, var = moments(0.5, 10, 1)
    >>> float(mean), float(var)
    (0.5, 0.025)
    """
    from collapse_theory import categorical

    p = check_real("p0", p0, minimum=0.0, maximum=1.0)
    mean, cov = categorical.moments([p, 1.0 - p], num_samples, generations, regime)
    return scalar_or_array(mean[..., 0]), scalar_or_array(cov[..., 0, 0])


def accumulate_ratio(num_samples: int, generations: ArrayLike) -> np.float64 | np.ndarray:
    r""":math:`M\,\mathrm{Var}\,p_k / (p_0(1-p_0)) = M[1 - \prod_{j=1}^{k}(1 - 1/(M j^2))]`
    under Accumulate (docs/theory.md §1.8), which tends to :func:`accumulate_limit`.

    Parameters
    ----------
    num_samples : int
        Draws M >= 1 added per generation.
    generations : int or array_like of int
        Generations k >= 0.

    Returns
    -------
    numpy.float64 or numpy.ndarray
        :math:`M[1 - \prod_{j=1}^{k}(1 - 1/(M j^2))]`, shape of ``generations`` (a float for a
        scalar); 0 at k = 0, 1 at k = 1.

    Examples
    --------
    >>> round(float(accumulate_ratio(50, 1)), 6)  # one batch: the binomial variance
    1.0
    """
    m = check_int("num_samples", num_samples, minimum=1)
    _, variance = moments(0.5, m, generations, Accumulate())
    return scalar_or_array(m * np.asarray(variance) / 0.25)


def accumulate_limit(num_samples: int) -> float:
    r""":math:`R_M = \lim_{k\to\infty} M\,\mathrm{Var}\,p_k/(p_0(1-p_0))
    = M[1 - \sin(\pi/\sqrt M)/(\pi/\sqrt M)]` under Accumulate (docs/theory.md §1.8, §5.3):
    the infinite product :math:`\prod_{j\ge1}(1 - x^2/j^2) = \sin(\pi x)/(\pi x)` at
    :math:`x = 1/\sqrt M`. :math:`R_M \to \pi^2/6` as M grows.

    Parameters
    ----------
    num_samples : int
        Draws M >= 1 added per generation.

    Returns
    -------
    float
        :math:`R_M = M[1 - \sin(\pi/\sqrt M)/(\pi/\sqrt M)]`.

    Examples
    --------
    >>> round(accumulate_limit(50), 6)
    1.628775
    """
    m = check_int("num_samples", num_samples, minimum=1)
    x = math.pi / math.sqrt(m)
    return m * (1.0 - math.sin(x) / x)


def suresh_lower_bound(
    p0: ArrayLike, num_samples: int, generations: ArrayLike
) -> np.float64 | np.ndarray:
    r"""Lower bound on the survival of the outcome, :math:`P(p_k > 0) \ge 1 - \exp(-M p_0/k)`
    (Suresh et al. 2024; docs/theory.md §5.3); at k = 0, :math:`1\{p_0 > 0\}`.

    The exact law is :func:`nonzero_probability`; the bound has the right order
    (:math:`\approx 2Mp_0/k` once :math:`Mp_0 \ll k`, its Galton–Watson limit, against
    :math:`Mp_0/k`).

    Parameters
    ----------
    p0 : array_like
        Initial probability :math:`p_0` of the outcome 1, in [0, 1]; broadcast with
        ``generations``.
    num_samples : int
        Draws M >= 1 per generation.
    generations : int or array_like of int
        Generations k >= 0.

    Returns
    -------
    numpy.float64 or numpy.ndarray
        :math:`1 - \exp(-M p_0/k)` (:math:`1\{p_0 > 0\}` at k = 0), shape
        broadcast(p0, generations) (a float for scalars).
    """
    p = check_probability("p0", p0)
    m = check_int("num_samples", num_samples, minimum=1)
    gens = check_generations("generations", generations)
    p, k = np.broadcast_arrays(p, gens)
    with np.errstate(divide="ignore"):
        bound = np.where(k == 0, p > 0.0, -np.expm1(-m * p / np.maximum(k, 1)))
    return scalar_or_array(bound)


def martingale_upper_bound(
    p0: ArrayLike, num_samples: int, generations: ArrayLike
) -> np.float64 | np.ndarray:
    r"""Upper bound on the chain not having collapsed,
    :math:`P(p_k \notin \{0, 1\}) \le \min(1, M^2 p_0(1-p_0)(1-1/M)^k / (M-1))`
    (docs/theory.md §1.1: Markov's inequality on :math:`p_k(1-p_k)`, whose mean is
    :math:`p_0(1-p_0)(1-1/M)^k` and whose least value off {0, 1} is :math:`(M-1)/M^2`; the
    geometric rate of Seddik et al. 2024). M = 1 collapses at the first fit (bound 0).

    Parameters
    ----------
    p0 : array_like
        Initial probability :math:`p_0` of the outcome 1, in [0, 1]; broadcast with
        ``generations``.
    num_samples : int
        Draws M >= 1 per generation.
    generations : int or array_like of int
        Generations k >= 0.

    Returns
    -------
    numpy.float64 or numpy.ndarray
        :math:`\min(1, M^2 p_0(1-p_0)(1-1/M)^k / (M-1))` (:math:`1\{0 < p_0 < 1\}` at k = 0),
        shape broadcast(p0, generations) (a float for scalars).
    """
    p = check_probability("p0", p0)
    m = check_int("num_samples", num_samples, minimum=1)
    gens = check_generations("generations", generations)
    p, k = np.broadcast_arrays(p, gens)
    interior = (p > 0.0) & (p < 1.0)
    if m == 1:
        bound = np.where(k == 0, interior, 0.0).astype(np.float64)
    else:
        bound = m * m * p * (1.0 - p) * (1.0 - 1.0 / m) ** k / (m - 1.0)
        bound = np.where(k == 0, interior.astype(np.float64), np.minimum(bound, 1.0))
    return scalar_or_array(bound)
