r"""The Gaussian-mixture family's tail law (1-D mixtures; docs/theory.md §4, §2.9).

A tail is a region where the original mixture puts little mass (:class:`MixtureTail`): beyond k
standard deviations of every component, or the lowest-density region of mass q. Recursive EM has
no closed form, so :func:`mixture_monte_carlo` simulates the chains (any regime).
:func:`benchmark_settings` and :func:`benchmark_curves` are the family's rows of the tail-loss
table.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike
from scipy import optimize
from scipy.special import ndtr

from collapse_theory._validate import InputError, InputTypeError, _show
from collapse_theory.gmm.mixture import Mixture, check_mixture
from collapse_theory.gmm.paper import mixture_variance
from collapse_theory.gmm.simulate import simulate as gmm_simulate
from collapse_theory.regimes import Regime
from collapse_theory.rng import SeedLike
from collapse_theory.schedules import ScheduleLike
from collapse_theory.tails.curves import (
    TailCurve,
    curve_from_samples,
    drift_from_logs,
    simulate_recorded,
    width_or_quantile,
)
from collapse_theory.tails.table import REGIMES, CurveRequest, Setting

__all__ = ["MixtureTail", "benchmark_curves", "benchmark_settings", "mixture_monte_carlo"]

#: Longest horizon under Accumulate (refits on the growing pool cost O(n^2 M)).
ACCUMULATE_HORIZON = 200


def _intervals_where(mask_fn, lo: float, hi: float, points: int = 4001):
    """Maximal intervals of [lo, hi] where the smooth function ``mask_fn(x) < 0``, by a grid
    scan with each sign change refined by Brent's method."""
    grid = np.linspace(lo, hi, points)
    values = mask_fn(grid)
    edges = [lo]
    for i in np.nonzero(np.sign(values[:-1]) != np.sign(values[1:]))[0]:
        edges.append(optimize.brentq(mask_fn, grid[i], grid[i + 1], xtol=1e-13))
    edges.append(hi)
    out = []
    for a, b in itertools.pairwise(edges):
        if mask_fn(0.5 * (a + b)) < 0:
            out.append((a, b))
    return out


def _mixture_interval_mass(weights, means, sds, intervals) -> np.ndarray:
    """Mass of a union of disjoint intervals under 1-D mixtures; ±inf endpoints allowed.

    weights, means, sds: shape (..., K). Returns shape (...).
    """
    total = 0.0
    for a, b in intervals:
        with np.errstate(divide="ignore", invalid="ignore"):
            za = np.where(
                sds > 0, (a - means) / np.where(sds > 0, sds, 1.0), np.sign(a - means) * np.inf
            )
            zb = np.where(
                sds > 0, (b - means) / np.where(sds > 0, sds, 1.0), np.sign(b - means) * np.inf
            )
        # Upper-tail form for right intervals keeps precision deep in the tail.
        piece = np.where(za > 0, ndtr(-za) - ndtr(-zb), ndtr(zb) - ndtr(za))
        total = total + np.sum(weights * piece, axis=-1)
    return np.asarray(total)


@dataclass(frozen=True)
class MixtureTail:
    r"""Tail of a one-dimensional Gaussian mixture :math:`f_0` (docs/theory.md §4).

    Give exactly one of

    - ``k`` > 0: :math:`A = \{x : |x - m_j| > k s_j \text{ for every component } j\}` (beyond
      k standard deviations of every component with positive weight);
    - ``quantile`` q in (0, 1): :math:`A = \{x : f_0(x) < c_q\}` with :math:`c_q` chosen so that
      :math:`P_0(A) = q`, the region where the original density is lowest.

    A is a finite union of intervals (:meth:`intervals`); the tail mass of any 1-D mixture is a
    sum of normal CDF differences (exact, no sampling).

    Parameters
    ----------
    k : float, optional
        Width of the tail in standard deviations of every component, > 0.
    quantile : float, optional
        Original mass of the tail, in (0, 1): the region of lowest original density.

    Examples
    --------
    >>> import collapse_theory as ct
    >>> mix0 = ct.gmm.Mixture([0.5, 0.5], [[-2.0], [2.0]], [[[1.0]], [[1.0]]])
    >>> round(MixtureTail(quantile=0.1).original_mass(mix0), 6)
    0.1
    """

    k: float | None = None
    quantile: float | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, *width_or_quantile("MixtureTail", self.k, self.quantile))

    @staticmethod
    def _check(mixture0: object) -> Mixture:
        mixture0 = check_mixture("mixture0", mixture0, positive_definite=True)
        if mixture0.dim != 1:
            raise InputError(
                f"MixtureTail needs a one-dimensional mixture0; got dimension {mixture0.dim}"
            )
        return mixture0

    def intervals(self, mixture0: Mixture) -> list[tuple[float, float]]:
        """The tail set as disjoint intervals (the outer ones unbounded)."""
        mix = self._check(mixture0)
        live = mix.weights > 0
        w, m = mix.weights[live], mix.means[live, 0]
        s = np.sqrt(mix.covs[live, 0, 0])
        if self.k is not None:
            cover = sorted(
                (mj - self.k * sj, mj + self.k * sj) for mj, sj in zip(m, s, strict=True)
            )
            merged = [list(cover[0])]
            for a, b in cover[1:]:
                if a <= merged[-1][1]:
                    merged[-1][1] = max(merged[-1][1], b)
                else:
                    merged.append([a, b])
            edges = [-np.inf] + [x for pair in merged for x in pair] + [np.inf]
            return [(edges[i], edges[i + 1]) for i in range(0, len(edges), 2)]
        lo = float(np.min(m - 12.0 * s))
        hi = float(np.max(m + 12.0 * s))

        def log_density(x):
            x = np.asarray(x, dtype=float)[..., None]
            z = (x - m) / s
            return np.log(np.sum(w * np.exp(-0.5 * z * z) / (s * math.sqrt(2 * math.pi)), -1))

        def tail_for(log_c: float):
            inner = _intervals_where(lambda x: log_c - log_density(x), lo, hi)
            # The complement of {f0 >= c} inside [lo, hi], plus the two unbounded ends.
            edges = [-np.inf] + [x for pair in inner for x in pair] + [np.inf]
            return [(edges[i], edges[i + 1]) for i in range(0, len(edges), 2)]

        def excess(log_c: float) -> float:
            return float(_mixture_interval_mass(w, m, s, tail_for(log_c))) - self.quantile

        peak = float(np.max(log_density(np.linspace(lo, hi, 4001))))
        log_c = optimize.brentq(excess, peak - 70.0, peak - 1e-9, xtol=1e-12)
        return tail_for(log_c)

    def mass(
        self, mixture0: Mixture, weights: ArrayLike, means: ArrayLike, variances: ArrayLike
    ) -> np.ndarray:
        """Tail mass of 1-D mixtures with parameters of shape (..., K) (variances, not sds)."""
        w = np.asarray(weights, dtype=float)
        m = np.asarray(means, dtype=float)
        v = np.asarray(variances, dtype=float)
        if np.any(v < 0):
            raise InputError(f"variances must be >= 0; got minimum {_show(float(v.min()))}")
        return _mixture_interval_mass(w, m, np.sqrt(v), self.intervals(mixture0))

    def original_mass(self, mixture0: Mixture) -> float:
        """:math:`T_0 = P_0(A)`."""
        mix = self._check(mixture0)
        return float(self.mass(mix, mix.weights, mix.means[:, 0], mix.covs[:, 0, 0]))


def mixture_monte_carlo(
    mixture0: Mixture,
    tail: MixtureTail,
    num_samples: ScheduleLike,
    generations: ArrayLike,
    *,
    regime: Regime | None = None,
    eps: float = 0.01,
    num_replicates: int = 100,
    seed: SeedLike = None,
    progress: bool = False,
) -> TailCurve:
    r"""Tail mass of 1-D Gaussian mixtures refitted by EM (warm start; docs/theory.md §4), measured
    exactly on each fitted mixture (normal CDFs over the tail intervals).

    The scale drift is the mean per-generation change of the log mixture variance over the
    second half of the horizon.

    Parameters
    ----------
    mixture0 : Mixture
        The original 1-D mixture (model 0).
    tail : MixtureTail
        The tail set A, defined on ``mixture0``.
    num_samples : int or schedule
        M, points per generation.
    generations : array_like of int
        The generations to record (0 included or not).
    regime : Replace, FreshData or Accumulate, optional
        The data regime (default Replace).
    eps : float
        The level of ``prob_below``: P(T_n < eps T_0).
    num_replicates : int
        Independent chains.
    seed : None, int, SeedSequence or Generator
        Root seed.
    progress : bool
        Show a progress bar on stderr.

    Returns
    -------
    TailCurve
        Per recorded generation: median, quantiles, mean with its standard error, P(T_n < eps
        T_0), and the scale drift.

    Examples
    --------
    >>> import collapse_theory as ct
    >>> mix0 = ct.gmm.Mixture([0.5, 0.5], [[-2.0], [2.0]], [[[1.0]], [[1.0]]])
    >>> curve = mixture_monte_carlo(mix0, MixtureTail(quantile=0.1), 50, [0, 2], seed=0,
    ...                             num_replicates=8)
    >>> round(float(curve.median[0]), 6)
    0.1
    """
    if not isinstance(tail, MixtureTail):
        raise InputTypeError(f"tail must be a MixtureTail; got {type(tail).__name__}")
    t0 = tail.original_mass(mixture0)  # also validates mixture0 (1-D) before simulating
    gens, eps, run = simulate_recorded(
        gmm_simulate,
        (mixture0,),
        num_samples,
        generations,
        eps=eps,
        num_replicates=num_replicates,
        regime=regime,
        seed=seed,
        progress=progress,
    )
    weights, means, covs = run["weights"], run["means"], run["covs"]
    masses = tail.mass(mixture0, weights, means[..., 0], covs[..., 0, 0])
    drift = drift_from_logs(gens, np.log(mixture_variance(weights, means, covs)[..., 0]))
    return curve_from_samples(gens, masses, t0, eps, scale_drift=drift)


# ---------------------------------------------------------------------------------------------
# rows of the tail-loss table

#: Label and the tail described in the table's notes.
BENCHMARK_NOTE = (
    "mixture: the lowest-density 10% of 0.5 N(-2,1) + 0.5 N(2,1) (drift: ln variance; "
    f"horizon at most {ACCUMULATE_HORIZON} under accumulate)"
)


def benchmark_mixture() -> Mixture:
    """The table's mixture: 0.5 N(-2, 1) + 0.5 N(2, 1)."""
    return Mixture([0.5, 0.5], [[-2.0], [2.0]], [[[1.0]], [[1.0]]])


def benchmark_settings(sizes: tuple[int, ...], quick: bool) -> list[Setting]:
    """0.5 N(-2,1) + 0.5 N(2,1) by EM (warm start), every M and regime; 100 replicates (64 at
    M = 1000), at most 200 when ``quick``; horizon 2M, at most 200 under Accumulate.

    Parameters
    ----------
    sizes : tuple of int
        The sample sizes M of the table.
    quick : bool
        The quick table (``collapse-theory tail-loss --quick``).

    Returns
    -------
    list of collapse_theory.tails.table.Setting
        One per M and regime.
    """
    out = []
    for m in sizes:
        for regime in REGIMES:
            horizon = 2 * m
            if regime == "accumulate":
                horizon = min(horizon, ACCUMULATE_HORIZON)
            r = 64 if m == 1000 else 100
            if quick:
                r = min(r, 200)
            out.append(
                Setting("mixture", "0.5N(-2,1)+0.5N(2,1)", "mle", m, regime, horizon, r, "gmm")
            )
    return out


def benchmark_curves(request: CurveRequest) -> list[TailCurve]:
    """The Monte Carlo curve of the setting (recursive EM has no exact law).

    Parameters
    ----------
    request : collapse_theory.tails.table.CurveRequest
        The setting, its recorded generations, the tail level, ``eps`` and the seeds.

    Returns
    -------
    list of TailCurve
        One curve, from :func:`mixture_monte_carlo`.
    """
    setting, generations, eps = request.setting, request.generations, request.eps
    return [
        mixture_monte_carlo(
            benchmark_mixture(),
            MixtureTail(quantile=request.tail_quantile),
            setting.num_samples,
            generations,
            regime=request.regime,
            eps=eps,
            num_replicates=setting.replicates,
            seed=request.mc_seed,
        )
    ]
