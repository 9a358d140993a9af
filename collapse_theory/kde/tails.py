r"""The KDE family's tail law: the mass of the original tail under model n (docs/theory.md §5.1).

The tail is the two-sided set :math:`A = \{x : |x| > k\sigma_0\}` of model 0 = N(0, σ₀²) (the
original lowest-density region of mass q: :math:`k = \bar\Phi^{-1}(q/2)`). With a fixed bandwidth
h, the law of one draw from model n is exactly a mixture :math:`\sum_j w_{n,j}N(0,\sigma_0^2 +
jh^2)` (a draw is an ancestor from model 0 plus j kernel steps), so

.. math:: E\,T_n = \sum_j w_{n,j}\; 2\bar\Phi\big(k\sigma_0/\sqrt{\sigma_0^2 + jh^2}\big)

(:func:`kde_expected_tail_mass`): the expected tail mass *grows*, the KDE fattening the tails,
while its median may fall. :func:`kde_monte_carlo` gives the whole curve by simulation;
:func:`benchmark_settings` / :func:`benchmark_curves` add the family's rows to the tail-loss
table.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import ArrayLike
from scipy.special import ndtr, ndtri

from collapse_theory._validate import (
    InputError,
    check_generations,
    check_horizon,
    check_int,
    check_real,
    scalar_or_array,
)
from collapse_theory.kde.options import (
    AccumulateSubsample,
    Bandwidth,
    Regime,
    check_bandwidth,
    check_family_regime,
)
from collapse_theory.kde.simulate import simulate
from collapse_theory.regimes import Accumulate, FreshData, Replace
from collapse_theory.tails.curves import TailCurve, check_eps, check_record, curve_from_samples
from collapse_theory.tails.table import REGIMES, CurveRequest, Setting

__all__ = [
    "benchmark_curves",
    "benchmark_settings",
    "kde_ancestry_weights",
    "kde_expected_tail_mass",
    "kde_monte_carlo",
    "kde_tail_width",
]

#: The benchmark's model, as the table labels it.
MODEL = "N(0,1), h=1/sqrt(M)"
#: The kde row's line under the tail-loss table (not in ``__all__``: every family has one).
BENCHMARK_NOTE = (
    "kde: Gaussian KDE of N(0,1) with the fixed bandwidth h = 1/sqrt(M) (the inflation "
    "threshold M h^2 = sigma0^2, docs/theory.md §5.1); tail |x| > k of mass 10%"
)


def kde_tail_width(quantile: float) -> float:
    r"""k such that :math:`P(|Z| > k) = q` for a standard normal Z.

    Parameters
    ----------
    quantile : float
        The two-sided tail mass q, strictly between 0 and 1.

    Returns
    -------
    float
        :math:`k = \bar\Phi^{-1}(q/2) = -\Phi^{-1}(q/2)` (docs/theory.md §5.1).

    Examples
    --------
    >>> round(kde_tail_width(0.05), 4)
    1.96
    """
    q = check_real("quantile", quantile, minimum=0.0, maximum=1.0)
    if q in (0.0, 1.0):
        raise InputError(f"quantile must lie strictly between 0 and 1; got {q}")
    return float(-ndtri(0.5 * q))


def kde_ancestry_weights(num_samples: int, num_generations: int, regime: Regime | None = None):
    r""":math:`w_{n,j}`, n = 0..num_generations, j = 0..n: the probability that a draw from
    model n is its model-0 ancestor plus j kernel steps (docs/theory.md §5.1).

    Replace: :math:`w_{n,n} = 1`; FreshData (fraction β, or round(βM)/M for "split"):
    :math:`w_{n+1} = \beta\,\mathrm{shift}(w_0) + (1-\beta)\,\mathrm{shift}(w_n)`; Accumulate and
    AccumulateSubsample (a uniform point of a uniform subsample is a uniform point of the pool):
    :math:`w_{n+1} = \mathrm{shift}\big(\tfrac{1}{n+1}\sum_{k\le n} w_k\big)`.

    Parameters
    ----------
    num_samples : int
        M >= 1, the size of every dataset (it enters through round(βM)/M under "split").
    num_generations : int
        Last generation n >= 0.
    regime : Replace (default), FreshData, Accumulate or AccumulateSubsample
        Data regime of each generation.

    Returns
    -------
    numpy.ndarray, shape (num_generations + 1, num_generations + 1)
        Row n holds :math:`w_{n,j}` for j = 0..num_generations (zero for j > n); each row sums
        to 1.
    """
    m = check_int("num_samples", num_samples, minimum=1)
    count = check_int("num_generations", num_generations, minimum=0)
    regime = check_family_regime(Replace() if regime is None else regime)
    check_horizon("num_generations", count, bytes_per_generation=8 * (count + 1))
    weights = np.zeros((count + 1, count + 1))
    weights[0, 0] = 1.0
    beta = 0.0
    if isinstance(regime, FreshData):
        beta = regime.fraction
        if regime.variant == "split":
            beta = float(np.rint(regime.fraction * m) / m)
    running = weights[0].copy()
    for n in range(count):
        if isinstance(regime, (Accumulate, AccumulateSubsample)):
            parent = running / (n + 1)
        else:
            parent = beta * weights[0] + (1.0 - beta) * weights[n]
        weights[n + 1, 1:] = parent[:-1]
        running += weights[n + 1]
    return weights


def kde_expected_tail_mass(
    num_samples: int,
    generations: ArrayLike,
    *,
    bandwidth: float,
    var0: float = 1.0,
    quantile: float = 0.1,
    regime: Regime | None = None,
) -> np.float64 | np.ndarray:
    r""":math:`E\,T_n`, the expected mass of the original tail :math:`\{|x| > k\sigma_0\}`
    (original mass ``quantile``) under model n, exact for a fixed bandwidth h and model 0 =
    N(0, σ₀²) (docs/theory.md §5.1):
    :math:`\sum_j w_{n,j}\,2\bar\Phi(k\sigma_0/\sqrt{\sigma_0^2 + jh^2})`.

    Parameters
    ----------
    num_samples : int
        M >= 1, the size of every dataset.
    generations : int or array_like of int
        Generations n >= 0.
    bandwidth : float
        The fixed bandwidth h > 0 (a rule or :class:`Proportional` has no closed form: use
        :func:`kde_monte_carlo`).
    var0 : float, default 1.0
        Variance :math:`\sigma_0^2` of model 0 (> 0).
    quantile : float, default 0.1
        Mass q of the original tail, strictly between 0 and 1 (:func:`kde_tail_width`).
    regime : Replace (default), FreshData, Accumulate or AccumulateSubsample
        Data regime of each generation (:func:`kde_ancestry_weights`).

    Returns
    -------
    numpy.float64 or numpy.ndarray
        :math:`E\,T_n`, shape of ``generations`` (a float for a scalar); ``quantile`` at n = 0.

    Examples
    --------
    >>> round(float(kde_expected_tail_mass(50, 0, bandwidth=0.3)), 12)
    0.1
    >>> round(float(kde_expected_tail_mass(50, 10, bandwidth=0.3)), 4)  # the tails fatten
    0.2328
    """
    h = check_bandwidth(bandwidth)
    if not isinstance(h, float):
        raise InputError(
            f"expected_tail_mass is exact for a fixed bandwidth h > 0 only; got {bandwidth!r} "
            "(use kde_monte_carlo)"
        )
    v0 = check_real("var0", var0, minimum=0.0, strict_minimum=True)
    k = kde_tail_width(quantile)
    gens = check_generations("generations", generations)
    top = int(gens.max()) if gens.size else 0
    weights = kde_ancestry_weights(num_samples, top, regime)
    steps = np.arange(top + 1)
    masses = 2.0 * ndtr(-k * np.sqrt(v0 / (v0 + steps * h * h)))
    return scalar_or_array((weights @ masses)[gens])


def kde_monte_carlo(
    num_samples: int,
    generations: Any,
    *,
    bandwidth: Bandwidth,
    var0: float = 1.0,
    quantile: float = 0.1,
    regime: Regime | None = None,
    eps: float = 0.01,
    num_replicates: int = 1000,
    seed: Any = None,
) -> TailCurve:
    """Monte Carlo :class:`~collapse_theory.tails.TailCurve` of the tail mass of model n over
    ``generations`` (which must include 0), model 0 = N(0, var0).

    The tail is :math:`\\{|x| > k\\sqrt{\\mathrm{var0}}\\}`, k = :func:`kde_tail_width` (quantile)
    (docs/theory.md §5.1); its mass under each simulated model n is one sample of :math:`T_n`.

    Parameters
    ----------
    num_samples : int
        M, the size of every dataset (>= 1; >= 2 for a bandwidth fitted on the data).
    generations : array_like of int
        Recorded generations, at least 2 and including 0.
    bandwidth : float h > 0, Proportional(c), "scott" or "silverman"
        Kernel bandwidth of every fit.
    var0 : float, default 1.0
        Variance of model 0 (> 0).
    quantile : float, default 0.1
        Mass of the original tail, strictly between 0 and 1.
    regime : Replace (default), FreshData, Accumulate or AccumulateSubsample
        Data regime of each generation.
    eps : float, default 0.01
        Relative level of :attr:`TailCurve.prob_below`, :math:`P(T_n < \\varepsilon T_0)`;
        strictly between 0 and 1.
    num_replicates : int, default 1000
        Independent chains R >= 2.
    seed : SeedLike, optional
        Seed of the simulation (None: fresh entropy).

    Returns
    -------
    TailCurve
        Mean, median, quantiles and :math:`P(T_n < \\varepsilon T_0)` with their standard
        errors, per recorded generation (``method="monte-carlo"``).
    """
    gens = check_record(generations)
    eps = check_eps(eps)
    v0 = check_real("var0", var0, minimum=0.0, strict_minimum=True)
    width = kde_tail_width(quantile) * np.sqrt(v0)
    num_replicates = check_int("num_replicates", num_replicates, minimum=2)
    run = simulate(
        v0,
        num_samples,
        int(gens[-1]),
        bandwidth=bandwidth,
        regime=regime,
        num_replicates=num_replicates,
        record=gens,
        seed=seed,
        tail_threshold=width,
    )
    return curve_from_samples(gens, run["tail"], float(quantile), eps)


def benchmark_settings(sizes: tuple[int, ...], quick: bool) -> list[Setting]:
    """N(0, 1), h = 1/sqrt(M) (fixed), every M and regime of the grid; 400 replicates (100 when
    ``quick``); horizon 2M capped at 200, and at 100 under accumulate (the tail mass of model n
    sums over the pool's n M points: the row costs O(R M horizon^2)).

    Parameters
    ----------
    sizes : tuple of int
        The sample sizes M of the grid.
    quick : bool
        Fewer replicates (a quick table for a smoke test).

    Returns
    -------
    list of Setting
        One :class:`~collapse_theory.tails.table.Setting` per (M, regime) of the grid.
    """
    replicates = 100 if quick else 400

    def horizon(m: int, regime: str) -> int:
        return min(2 * m, 100 if regime == "accumulate" else 200)

    return [
        Setting("kde", MODEL, "fixed h", m, regime, horizon(m, regime), replicates, "kde")
        for m in sizes
        for regime in REGIMES
    ]


def benchmark_curves(request: CurveRequest) -> list[TailCurve]:
    """The Monte Carlo curve (the exact E T_n is :func:`kde_expected_tail_mass`; a table row needs
    the median too, which has no closed form).

    Parameters
    ----------
    request : CurveRequest
        The table's cell (``request.setting``), its recorded generations (including 0), tail
        level ``tail_quantile``, ``eps`` and the seeds ``mc_seed`` / ``exact_seed``.

    Returns
    -------
    list of TailCurve
        One curve: :func:`kde_monte_carlo` with h = 1/sqrt(M) and the request's seed.
    """
    setting = request.setting
    return [
        kde_monte_carlo(
            setting.num_samples,
            request.generations,
            bandwidth=1.0 / np.sqrt(setting.num_samples),
            quantile=request.tail_quantile,
            regime=request.regime,
            eps=request.eps,
            num_replicates=setting.replicates,
            seed=request.mc_seed,
        )
    ]
