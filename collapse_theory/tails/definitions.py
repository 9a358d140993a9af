r"""Tail sets of the original distribution, one vocabulary across model families.

A tail is a fixed set A of the original model's outcomes, chosen where model 0 puts little mass;
the *tail mass* of model n is :math:`T_n = P_n(A)` and :math:`T_0` the original tail mass.

- :class:`CategoricalTail`: ``threshold=tau`` gives :math:`A = \{i : 0 < p_{0,i} < \tau\}`;
  ``lightest_mass=q`` gives the largest set of lightest states (ties kept together) whose total
  original mass is at most q (theory.md §1.9).
- :class:`GaussianTail`: ``k`` gives :math:`A = \{x : |x - \mu_0| > k\sigma_0\}`; ``quantile=q``
  gives the region where the original density is lowest, with mass q, which for a Gaussian is
  the same two-sided set with :math:`k = \bar\Phi^{-1}(q/2)` (theory.md §2.9).
- :class:`MixtureTail` (1-D mixtures): ``k`` gives the points beyond :math:`k` standard
  deviations of *every* component, :math:`A = \{x : |x - m_j| > k s_j\ \forall j\}`;
  ``quantile=q`` gives :math:`A = \{x : f_0(x) < c_q\}`, the lowest-density region of the
  original mixture with mass q.

Every constructor validates its argument and names it in the error.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import optimize
from scipy.special import ndtr, ndtri

from collapse_theory._validate import _show, check_probability_vector, check_real
from collapse_theory.gmm.mixture import Mixture, check_mixture

__all__ = ["CategoricalTail", "GaussianTail", "MixtureTail", "Tail"]


def _one_of(kind: str, **given: Any) -> tuple[str, Any]:
    """The single argument of ``given`` that is not None (exactly one must be)."""
    chosen = [(name, value) for name, value in given.items() if value is not None]
    if len(chosen) != 1:
        names = " or ".join(given)
        raise ValueError(f"{kind} needs exactly one of {names}; got {len(chosen)} of them")
    return chosen[0]


def _check_fraction(name: str, value: Any) -> float:
    value = check_real(name, value)
    if not 0.0 < value < 1.0:
        raise ValueError(f"{name} must lie strictly between 0 and 1; got {value}")
    return value


# ---------------------------------------------------------------------------------------------
# Categorical (theory.md §1.9)


@dataclass(frozen=True)
class CategoricalTail:
    r"""The tail of a categorical :math:`p_0`: its rare states (theory.md §1.9).

    Give exactly one of

    - ``threshold`` :math:`\tau`: :math:`A = \{i : 0 < p_{0,i} < \tau\}`. States with
      :math:`p_{0,i} = 0` are never in the tail (they can never appear).
    - ``lightest_mass`` q in (0, 1): the largest set :math:`\{i : 0 < p_{0,i} < \tau\}` whose
      total original mass is at most q (states of equal probability are all in or all out).

    :meth:`states` refuses an empty tail (threshold at or below the smallest positive
    :math:`p_{0,i}`, or q below the lightest state's mass) and a tail holding every state
    (threshold above the largest :math:`p_{0,i}`): neither has a tail to lose.

    Examples
    --------
    >>> CategoricalTail(threshold=0.1).states([0.8, 0.15, 0.05]).tolist()
    [2]
    >>> CategoricalTail(lightest_mass=0.3).states([0.7, 0.2, 0.05, 0.05]).tolist()
    [1, 2, 3]
    """

    threshold: float | None = None
    lightest_mass: float | None = None

    def __post_init__(self) -> None:
        name, value = _one_of(
            "CategoricalTail", threshold=self.threshold, lightest_mass=self.lightest_mass
        )
        if name == "threshold":
            value = check_real("threshold", value, minimum=0.0, maximum=1.0, strict_minimum=True)
        else:
            value = _check_fraction("lightest_mass", value)
        object.__setattr__(self, name, value)

    def states(self, p0: Any) -> np.ndarray:
        """Indices of the tail states of ``p0`` (sorted)."""
        p0 = check_probability_vector("p0", p0)
        positive = np.unique(p0[p0 > 0])
        if self.threshold is not None:
            tau = self.threshold
            if tau <= positive[0]:
                raise ValueError(
                    f"threshold={tau!r} leaves the tail empty: the smallest positive p0 is "
                    f"{float(positive[0])!r}; allowed: smallest p0 < threshold <= largest p0"
                )
            if tau > positive[-1]:
                raise ValueError(
                    f"threshold={tau!r} puts every state in the tail (largest p0 is "
                    f"{float(positive[-1])!r}); allowed: smallest p0 < threshold <= largest p0"
                )
        else:
            q = self.lightest_mass
            # Mass of {p0 <= v} for each distinct positive value v, lightest first.
            cumulative = np.array([p0[(p0 > 0) & (p0 <= v)].sum() for v in positive])
            fits = np.nonzero(cumulative <= q * (1.0 + 1e-12))[0]
            if fits.size == 0:
                raise ValueError(
                    f"lightest_mass={q!r} is below the mass of the lightest state(s), "
                    f"{float(cumulative[0])!r} (equal probabilities count together): the tail would "
                    f"be empty; allowed: q in [{cumulative[0]:.3g}, 1)"
                )
            if fits[-1] == positive.size - 1:
                raise ValueError(
                    f"lightest_mass={q!r} puts every state in the tail; allowed: q below "
                    f"{cumulative[-2] if positive.size > 1 else 0.0:.3g}"
                )
            tau = float(np.nextafter(positive[fits[-1]], np.inf))
        return np.nonzero((p0 > 0) & (p0 < tau))[0]

    def mass(self, p0: Any) -> float:
        """Original tail mass :math:`T_0 = \\sum_{i\\in A} p_{0,i}`."""
        p0 = check_probability_vector("p0", p0)
        return float(p0[self.states(p0)].sum())


# ---------------------------------------------------------------------------------------------
# Gaussian (theory.md §2.9)


@dataclass(frozen=True)
class GaussianTail:
    r"""The two-sided tail :math:`A = \{x : |x - \mu_0| > k\sigma_0\}` of :math:`N(\mu_0,\sigma_0^2)`.

    Give exactly one of ``k`` > 0 or ``quantile`` q in (0, 1) (the lowest-density region with
    original mass q: :math:`k = \bar\Phi^{-1}(q/2)`). The tail mass of :math:`N(\mu,\sigma^2)` is
    (theory.md §2.9, with :math:`\delta = (\mu-\mu_0)/\sigma_0`, :math:`s = \sigma/\sigma_0`)

    .. math:: T = \bar\Phi\big((k-\delta)/s\big) + \Phi\big((-k-\delta)/s\big).

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
        name, value = _one_of("GaussianTail", k=self.k, quantile=self.quantile)
        if name == "k":
            value = check_real("k", value, minimum=0.0, strict_minimum=True)
        else:
            value = _check_fraction("quantile", value)
        object.__setattr__(self, name, value)

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

    def mass(self, mean: Any, var: Any, *, mean0: float = 0.0, var0: float = 1.0) -> np.ndarray:
        """Tail mass of N(mean, var) (arrays broadcast); original model N(mean0, var0)."""
        from collapse_theory.metrics import tail_mass_gaussian

        return np.asarray(
            tail_mass_gaussian(mean, var, self.width, center=mean0, scale=math.sqrt(var0))
        )


# ---------------------------------------------------------------------------------------------
# Gaussian mixtures in one dimension (theory.md §4)


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
    r"""Tail of a one-dimensional Gaussian mixture :math:`f_0` (theory.md §4).

    Give exactly one of

    - ``k`` > 0: :math:`A = \{x : |x - m_j| > k s_j \text{ for every component } j\}` (beyond
      k standard deviations of every component with positive weight);
    - ``quantile`` q in (0, 1): :math:`A = \{x : f_0(x) < c_q\}` with :math:`c_q` chosen so that
      :math:`P_0(A) = q`, the region where the original density is lowest.

    A is a finite union of intervals (:meth:`intervals`); the tail mass of any 1-D mixture is a
    sum of normal CDF differences (exact, no sampling).

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
        name, value = _one_of("MixtureTail", k=self.k, quantile=self.quantile)
        if name == "k":
            value = check_real("k", value, minimum=0.0, strict_minimum=True)
        else:
            value = _check_fraction("quantile", value)
        object.__setattr__(self, name, value)

    @staticmethod
    def _check(mixture0: Any) -> Mixture:
        mixture0 = check_mixture("mixture0", mixture0, positive_definite=True)
        if mixture0.dim != 1:
            raise ValueError(
                f"MixtureTail needs a one-dimensional mixture0; got dimension {mixture0.dim}"
            )
        return mixture0

    def intervals(self, mixture0: Any) -> list[tuple[float, float]]:
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

    def mass(self, mixture0: Any, weights: Any, means: Any, variances: Any) -> np.ndarray:
        """Tail mass of 1-D mixtures with parameters of shape (..., K) (variances, not sds)."""
        w = np.asarray(weights, dtype=float)
        m = np.asarray(means, dtype=float)
        v = np.asarray(variances, dtype=float)
        if np.any(v < 0):
            raise ValueError(f"variances must be >= 0; got minimum {_show(float(v.min()))}")
        return _mixture_interval_mass(w, m, np.sqrt(v), self.intervals(mixture0))

    def original_mass(self, mixture0: Any) -> float:
        """:math:`T_0 = P_0(A)`."""
        mix = self._check(mixture0)
        return float(self.mass(mix, mix.weights, mix.means[:, 0], mix.covs[:, 0, 0]))


Tail = CategoricalTail | GaussianTail | MixtureTail
