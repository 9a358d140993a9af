r"""Standard errors and z-scores: the one implementation the checks, tails and tests share.

Every estimator returns ``(estimate, standard_error)``. Tolerances in the verify suite and the
tests are z-scores against a stated false-alarm rate (docs/theory.md §6), never a hand-picked
absolute tolerance.
"""

from __future__ import annotations

import math
from statistics import NormalDist
from typing import overload

import numpy as np
from numpy.typing import ArrayLike

__all__ = [
    "TOP_FRACTION",
    "TOP_SHARE_LIMIT",
    "covariance_se",
    "mean_difference_z",
    "mean_estimate",
    "mean_se",
    "mean_z",
    "pooled_proportion_z",
    "proportion_se",
    "proportion_z",
    "se_trusted",
    "top_share",
    "two_sample_z",
    "two_sided_p_value",
    "variance_se",
    "variance_z",
    "z_threshold",
]


@overload
def mean_se(x: ArrayLike, axis: None = None) -> tuple[float, float]: ...
@overload
def mean_se(x: ArrayLike, axis: int) -> tuple[np.ndarray, np.ndarray]: ...
def mean_se(
    x: ArrayLike, axis: int | None = None
) -> tuple[float, float] | tuple[np.ndarray, np.ndarray]:
    r"""Sample mean and its standard error :math:`s/\sqrt{R}`: of all of ``x`` (floats), or
    along ``axis`` (arrays; R = ``x.shape[axis]``, e.g. the replicates of (generations, R)).

    Examples
    --------
    >>> mean_se([1.0, 2.0, 3.0])
    (2.0, 0.5773502691896258)
    >>> mean_se([[1.0, 2.0, 3.0]], axis=1)[1].round(4).tolist()
    [0.5774]
    """
    x = np.asarray(x, dtype=np.float64)
    if axis is None:
        return float(x.mean()), float(x.std(ddof=1) / math.sqrt(x.size))
    return x.mean(axis=axis), x.std(axis=axis, ddof=1) / math.sqrt(x.shape[axis])


#: The "largest replicates" of :func:`top_share`: this fraction of them (at least one).
TOP_FRACTION = 0.01
#: A standard error is flagged as untrustworthy when the largest 1 % of replicates carry more
#: than this share of the squared deviations (docs/theory.md §6).
TOP_SHARE_LIMIT = 0.6


def top_share(x: ArrayLike, axis: int | None = None) -> float | np.ndarray:
    r"""Share of the squared deviations :math:`\sum_i (x_i-\bar x)^2` carried by the largest
    :math:`k = \max(1, \lceil R/100 \rceil)` of them: the heavy-tail diagnostic of a Monte
    Carlo mean's standard error (docs/theory.md §6).

    The naive SE :math:`s/\sqrt R` is only as good as the sample variance :math:`s^2`. When a
    handful of replicates carry most of :math:`s^2`, the draws that would dominate it have mostly
    not been seen yet and the SE is typically far too small. Reference values at R = 10⁴: normal
    0.08, exponential 0.23, Student t₃ 0.28, lognormal(0, 1) 0.51, lognormal(0, 1.5) 0.93;
    the Gaussian family's :math:`\sigma^2_{100}` with M = 10 gives 0.997. NaN for fewer than two
    finite values or zero spread.

    Examples
    --------
    >>> round(top_share([1.0, 2.0, 3.0, 100.0]), 3)
    0.75
    """
    x = np.asarray(x, dtype=np.float64)
    if axis is None:
        x = x.reshape(-1)
        axis = 0
    x = np.moveaxis(x, axis, -1)
    k = max(1, math.ceil(TOP_FRACTION * x.shape[-1]))
    squares = (x - x.mean(axis=-1, keepdims=True)) ** 2
    total = squares.sum(axis=-1)
    largest = np.sort(squares, axis=-1)[..., -k:].sum(axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.where(
            (total > 0) & np.isfinite(total) & (x.shape[-1] > 1), largest / total, np.nan
        )
    return float(share) if share.ndim == 0 else share


def se_trusted(share: float | np.ndarray) -> bool | np.ndarray:
    """Whether a standard error with this :func:`top_share` can be trusted: the largest 1 % of
    replicates carry at most :data:`TOP_SHARE_LIMIT` of the spread (NaN, i.e. no spread: yes)."""
    share = np.asarray(share, dtype=np.float64)
    trusted = ~(share > TOP_SHARE_LIMIT)
    return bool(trusted) if trusted.ndim == 0 else trusted


def mean_estimate(x: ArrayLike) -> tuple[float, float, dict[str, float]]:
    """A Monte Carlo mean with its standard error and the heavy-tail diagnostic of that error:
    ``(mean, SE, {"top_share": top_share(x)})``, the mean and SE exactly those of
    :func:`mean_se` (docs/theory.md §6).

    The three-tuple is what a verify check's estimator may return
    (:mod:`collapse_theory.verify.registry`): the report shows the share and flags the row when
    :func:`se_trusted` says the SE cannot be trusted.

    Examples
    --------
    >>> mean, se, notes = mean_estimate([1.0, 2.0, 3.0, 100.0])
    >>> mean, round(notes["top_share"], 3)
    (26.5, 0.75)
    """
    x = np.asarray(x, dtype=np.float64)
    mean, se = mean_se(x)
    return mean, se, {"top_share": float(top_share(x))}


def variance_se(x: ArrayLike) -> tuple[float, float]:
    r"""Unbiased sample variance and its standard error from the fourth central moment,
    :math:`\mathrm{Var}\,s^2 = (m_4 - s^4 (R-3)/(R-1))/R`."""
    x = np.asarray(x, dtype=np.float64)
    r = x.size
    centred = x - x.mean()
    s2 = float(centred @ centred / (r - 1))
    m4 = float(np.mean(centred**4))
    return s2, math.sqrt(max(m4 - s2 * s2 * (r - 3) / (r - 1), 0.0) / r)


def covariance_se(x: ArrayLike, y: ArrayLike) -> tuple[float, float]:
    """Unbiased sample covariance and the standard error of the mean of centred products."""
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    products = (x - x.mean()) * (y - y.mean())
    r = x.size
    return float(products.sum() / (r - 1)), float(products.std(ddof=1) / math.sqrt(r))


def proportion_se(flags: ArrayLike) -> tuple[float, float]:
    r"""Proportion of true flags and its binomial standard error :math:`\sqrt{p(1-p)/R}`."""
    flags = np.asarray(flags, dtype=bool)
    p = float(flags.mean())
    return p, math.sqrt(max(p * (1.0 - p), 0.0) / flags.size)


def two_sample_z(a: float, se_a: float, b: float, se_b: float) -> float:
    r""":math:`(a-b)/\sqrt{se_a^2+se_b^2}` for two independent estimates; NaN when either
    standard error is not finite (an open interval gives no z-score, never a silent pass)."""
    scale = math.hypot(se_a, se_b)
    if not math.isfinite(scale):
        return math.nan
    if scale == 0.0:
        return 0.0 if a == b else math.inf
    return (a - b) / scale


def mean_z(samples: ArrayLike, truth: float) -> float:
    """z of a sample mean against a known value: ``(mean - truth) / SE(mean)``."""
    estimate, stderr = mean_se(samples)
    return two_sample_z(estimate, stderr, truth, 0.0)


def variance_z(samples: ArrayLike, truth: float) -> float:
    """z of the unbiased sample variance against a known variance (SE from :func:`variance_se`)."""
    estimate, stderr = variance_se(samples)
    return two_sample_z(estimate, stderr, truth, 0.0)


def mean_difference_z(a: ArrayLike, b: ArrayLike) -> float:
    """z for equal means of two independent samples (each standard error from its sample)."""
    return two_sample_z(*mean_se(a), *mean_se(b))


def proportion_z(hits: ArrayLike, truth: float) -> float:
    r"""z of a frequency against a known probability p, with the binomial standard error of p,
    :math:`\sqrt{p(1-p)/R}` (exact under the null, also for rare events)."""
    hits = np.asarray(hits, dtype=np.float64)
    return two_sample_z(
        float(hits.mean()), math.sqrt(truth * (1.0 - truth) / hits.size), truth, 0.0
    )


def pooled_proportion_z(a: ArrayLike, b: ArrayLike) -> float:
    """Pooled two-proportion z for two boolean samples (valid for rare events too); 0 when both
    samples are all False or all True."""
    a = np.asarray(a, dtype=bool)
    b = np.asarray(b, dtype=bool)
    pooled = (a.sum() + b.sum()) / (a.size + b.size)
    se = math.sqrt(pooled * (1 - pooled) * (1 / a.size + 1 / b.size))
    return 0.0 if se == 0 else float((a.mean() - b.mean()) / se)


def z_threshold(false_alarm_rate: float, num_tests: int = 1) -> float:
    r"""Two-sided threshold :math:`z^*` with :math:`P(|Z| > z^*) = \alpha/m` for each of
    ``num_tests`` = m tests at family-wise rate :math:`\alpha` (Bonferroni); inf for no test.

    Examples
    --------
    >>> round(z_threshold(0.05), 3)
    1.96
    """
    if num_tests <= 0:
        return math.inf
    return NormalDist().inv_cdf(1.0 - false_alarm_rate / (2.0 * num_tests))


def two_sided_p_value(z: float) -> float:
    """``P(|N(0,1)| >= |z|)``, accurate far in the tail."""
    if not math.isfinite(z):
        return 0.0 if math.isinf(z) else math.nan
    return math.erfc(abs(z) / math.sqrt(2.0))
