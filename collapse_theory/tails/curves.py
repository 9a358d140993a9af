r"""Per-generation summaries of the tail mass :math:`T_n` (one object for every method).

A :class:`TailCurve` holds, at each recorded generation n: the expected tail mass
:math:`E T_n`, its median and quantiles, :math:`P(T_n < \varepsilon T_0)`, the expected number
of surviving tail states (families whose tail is a set of states) and the drift of the model's log scale. It is
produced by a family's tail law (``<family>/tails.py``): exactly, by Rao–Blackwellised Monte
Carlo, or by plain Monte Carlo over simulated chains; ``method`` says which. The checks every
tail law shares (recorded generations, the level eps, tail definitions) live here too.
Sampled curves keep a ``resample`` function (the median curve of a bootstrap resample of the
replicates or paths) that :func:`collapse_theory.tails.rates` uses for confidence intervals;
exact curves keep their median at every generation up to the horizon, from which the rates are
read whatever generations were recorded.

Every Monte Carlo mean reported with a standard error (``mean``, ``surviving``,
``scale_drift``) comes with its heavy-tail diagnostic :func:`collapse_theory._stats.top_share`,
the share of the squared deviations carried by the largest 1 % of replicates (or paths): above
0.6 the standard error is not to be trusted (:func:`collapse_theory._stats.se_trusted`,
docs/theory.md §6).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TypeVar

import numpy as np
from numpy.typing import ArrayLike

from collapse_theory._stats import mean_se, top_share
from collapse_theory._validate import InputError, check_int, check_real

if TYPE_CHECKING:
    from collapse_theory.results import SimulationResult
    from collapse_theory.schedules import ScheduleLike

__all__ = [
    "QUANTILE_LEVELS",
    "TailCurve",
    "check_eps",
    "check_fraction",
    "check_record",
    "curve_from_samples",
    "drift_from_logs",
    "half_window",
    "horizon",
    "one_of",
    "simulate_recorded",
    "width_or_quantile",
]

#: Quantile levels reported besides the median.
QUANTILE_LEVELS = (0.1, 0.9)

T = TypeVar("T")


@dataclass(frozen=True)
class TailCurve:
    """Tail-mass statistics per recorded generation (arrays of shape ``(len(generations),)``).

    Attributes
    ----------
    generations : ndarray of int
    initial_mass : float
        :math:`T_0`.
    method : str
        ``"exact"``, ``"rao-blackwell"`` or ``"monte-carlo"``.
    mean, mean_se : ndarray
        :math:`E T_n` and its standard error (0 where exact).
    mean_top_share : ndarray or None
        Heavy-tail diagnostic of ``mean_se`` per generation: ``_stats.top_share`` over the
        replicates or paths (NaN where every draw is equal; None where exact). Above 0.6 the
        standard error is not to be trusted (docs/theory.md §6).
    median : ndarray
    quantiles : ndarray, shape (len(QUANTILE_LEVELS), G)
    eps : float
        Relative level of :attr:`prob_below`.
    prob_below, prob_below_se : ndarray
        :math:`P(T_n < \\varepsilon T_0)` and its standard error.
    surviving, surviving_se : ndarray or None
        Expected number of tail states still present (families whose tail is a set of states).
    surviving_top_share : ndarray or None
        Heavy-tail diagnostic of ``surviving_se`` (as ``mean_top_share``).
    scale_drift, scale_drift_se : float
        Per-generation drift of the model's log scale over the second half of the horizon
        (Gaussian: :math:`d\\,E\\ln\\sigma_n^2/dn`; mixture: the same for the mixture variance;
        categorical: :math:`d\\ln E[T_n(1-T_n)]/dn`), docs/theory.md §1.3, §2.3.
    scale_drift_top_share : float
        Heavy-tail diagnostic of ``scale_drift_se`` (as ``mean_top_share``).
    num_draws : int
        Replicates (Monte Carlo) or chi-square paths (Rao–Blackwell); 0 when exact.
    samples : ndarray or None
        Monte Carlo only: the tail masses themselves, shape (G, R).
    prob_lost, error_bound : ndarray or None
        Exact laws with an atom at 0 only: :math:`P(T_n = 0)` (the whole tail lost) and a
        rigorous bound on the truncation error of every computed probability.
    median_every_generation : ndarray or None
        Exact laws only: the median at every generation 0, 1, ..., horizon, whatever was
        recorded; :func:`collapse_theory.tails.tail_rates` reads the rates from it, so they do
        not depend on the recorded generations (None where storing every generation's law
        would exceed the library's memory budget).
    """

    generations: np.ndarray
    initial_mass: float
    method: str
    mean: np.ndarray
    mean_se: np.ndarray
    median: np.ndarray
    quantiles: np.ndarray
    eps: float
    prob_below: np.ndarray
    prob_below_se: np.ndarray
    surviving: np.ndarray | None = None
    surviving_se: np.ndarray | None = None
    scale_drift: float = float("nan")
    scale_drift_se: float = float("nan")
    num_draws: int = 0
    samples: np.ndarray | None = field(default=None, compare=False, repr=False)
    resample: Callable[[np.random.Generator], np.ndarray] | None = field(
        default=None, compare=False, repr=False
    )
    prob_lost: np.ndarray | None = None
    error_bound: np.ndarray | None = None
    mean_top_share: np.ndarray | None = None
    surviving_top_share: np.ndarray | None = None
    scale_drift_top_share: float = float("nan")
    median_every_generation: np.ndarray | None = field(default=None, compare=False, repr=False)

    def relative_median(self) -> np.ndarray:
        """:math:`\\mathrm{median}(T_n) / T_0`."""
        return self.median / self.initial_mass


def curve_from_samples(
    generations: np.ndarray,
    masses: np.ndarray,
    initial_mass: float,
    eps: float,
    *,
    surviving: np.ndarray | None = None,
    scale_drift: tuple[float, ...] = (float("nan"), float("nan")),
) -> TailCurve:
    """Monte Carlo :class:`TailCurve` from tail masses of shape ``(G, R)`` (replicates last).

    Standard errors: :math:`\\mathrm{sd}/\\sqrt R` for means, :math:`\\sqrt{p(1-p)/R}` for
    probabilities; each mean's heavy-tail diagnostic is ``_stats.top_share`` over the replicates.
    ``scale_drift`` is ``(drift, se)`` or ``(drift, se, top_share)`` (:func:`drift_from_logs`).
    """
    masses = np.asarray(masses, dtype=np.float64)
    num = masses.shape[1]
    below = masses < eps * initial_mass
    prob = below.mean(axis=1)
    surv = surv_se = surv_share = None
    if surviving is not None:
        surv, surv_se = mean_se(surviving, axis=1)
        surv_share = top_share(surviving, axis=1)

    def resample(rng: np.random.Generator) -> np.ndarray:
        return np.median(masses[:, rng.integers(0, num, num)], axis=1)

    mean, se = mean_se(masses, axis=1)
    drift, drift_se = scale_drift[:2]
    drift_share = scale_drift[2] if len(scale_drift) > 2 else float("nan")
    return TailCurve(
        generations=np.asarray(generations),
        initial_mass=float(initial_mass),
        method="monte-carlo",
        mean=mean,
        mean_se=se,
        median=np.median(masses, axis=1),
        quantiles=np.quantile(masses, QUANTILE_LEVELS, axis=1),
        eps=float(eps),
        prob_below=prob,
        prob_below_se=np.sqrt(prob * (1.0 - prob) / num),
        surviving=surv,
        surviving_se=surv_se,
        scale_drift=float(drift),
        scale_drift_se=float(drift_se),
        num_draws=int(num),
        samples=masses,
        resample=resample,
        mean_top_share=top_share(masses, axis=1),
        surviving_top_share=surv_share,
        scale_drift_top_share=float(drift_share),
    )


def drift_from_logs(generations: np.ndarray, log_scale: np.ndarray) -> tuple[float, float, float]:
    """Mean per-generation change of per-replicate log scales (shape (G, R)) from the middle
    recorded generation to the last: ``(drift, standard error, top_share)`` (the last is the
    heavy-tail diagnostic of the standard error, ``_stats.top_share`` of the slopes)."""
    first, last = half_window(generations)
    steps = float(generations[last] - generations[first])
    slopes = (log_scale[last] - log_scale[first]) / steps
    drift, se = mean_se(slopes)
    return drift, se, top_share(slopes)


def half_window(generations: np.ndarray) -> tuple[int, int]:
    """Indices of the recorded generation closest to half the horizon, and of the last one."""
    last = len(generations) - 1
    first = int(np.argmin(np.abs(generations - generations[last] / 2.0)))
    if first == last:
        first = max(last - 1, 0)
    return first, last


def one_of(kind: str, **given: T | None) -> tuple[str, T]:
    """The single argument of ``given`` that is not None (exactly one must be)."""
    chosen = [(name, value) for name, value in given.items() if value is not None]
    if len(chosen) != 1:
        names = " or ".join(given)
        raise InputError(f"{kind} needs exactly one of {names}; got {len(chosen)} of them")
    return chosen[0]


def check_fraction(name: str, value: object) -> float:
    value = check_real(name, value)
    if not 0.0 < value < 1.0:
        raise InputError(f"{name} must lie strictly between 0 and 1; got {value}")
    return value


def check_record(generations: ArrayLike) -> np.ndarray:
    from collapse_theory._validate import check_generations

    gens = check_generations("generations", generations)
    if gens.ndim != 1 or gens.size < 2:
        raise InputError(
            f"generations must be a 1-D list of at least 2 generations; got shape {gens.shape}"
        )
    gens = np.unique(gens)
    if gens[0] != 0:
        raise InputError("generations must include generation 0 (the original tail mass)")
    return gens


def check_eps(eps: object) -> float:
    eps = check_real("eps", eps, minimum=0.0, strict_minimum=True)
    if eps >= 1.0:
        raise InputError(f"eps must lie strictly between 0 and 1 (a fraction of T0); got {eps}")
    return eps


def horizon(gens: np.ndarray) -> int:
    return int(gens[-1])


def width_or_quantile(kind: str, k: float | None, quantile: float | None) -> tuple[str, float]:
    """A tail given by exactly one of a width ``k`` (> 0, in standard deviations) or a mass
    ``quantile`` in (0, 1): ``("k", k)`` or ``("quantile", q)``, checked."""
    name, value = one_of(kind, k=k, quantile=quantile)
    if name == "k":
        return name, check_real("k", value, minimum=0.0, strict_minimum=True)
    return name, check_fraction("quantile", value)


def simulate_recorded(
    simulate: Callable[..., SimulationResult],
    model0: tuple[object, ...],
    num_samples: ScheduleLike,
    generations: ArrayLike,
    *,
    eps: float,
    num_replicates: int,
    **options: object,
) -> tuple[np.ndarray, float, SimulationResult]:
    """The start every Monte Carlo tail law shares: check the recorded ``generations``, ``eps``
    and ``num_replicates``, then run the family's ``simulate(*model0, num_samples, horizon,
    ...)`` recording exactly those generations (``options``: regime, seed, progress, ...).

    Returns ``(generations, eps, run)``.
    """
    gens = check_record(generations)
    eps = check_eps(eps)
    num_replicates = check_int("num_replicates", num_replicates, minimum=2)
    run = simulate(
        *model0,
        num_samples,
        horizon(gens),
        num_replicates=num_replicates,
        record=gens,
        **options,
    )
    return gens, eps, run
