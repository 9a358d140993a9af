r"""The categorical family's tail law (docs/theory.md §1.4, §1.9).

A tail is a set A of rare states of :math:`p_0` (:class:`CategoricalTail`); its mass
:math:`T_n = p_{n,A}` is itself a 2-state Wright–Fisher chain, :math:`M T_{n+1} \mid T_n \sim
\mathrm{Bin}(M, T_n)`, so its whole law at every generation comes from the banded lumped chain
(:mod:`collapse_theory.categorical.markov`): :func:`categorical_exact` is exact under Replace,
:func:`categorical_monte_carlo` simulates any regime. :func:`benchmark_settings` and
:func:`benchmark_curves` are the family's rows of the cross-family tail-loss table
(:mod:`collapse_theory.tails.table`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from collapse_theory._stats import mean_se, top_share
from collapse_theory._validate import (
    InputError,
    InputTypeError,
    check_generations,
    check_probability_vector,
    check_real,
)
from collapse_theory.categorical import markov
from collapse_theory.categorical.simulate import simulate as categorical_simulate
from collapse_theory.categorical.theory import _survival, zipf
from collapse_theory.policies import Policy, Temperature, TopK, TopP
from collapse_theory.regimes import Regime
from collapse_theory.rng import SeedLike
from collapse_theory.schedules import ScheduleLike, as_schedule, sample_sizes
from collapse_theory.tails.curves import (
    QUANTILE_LEVELS,
    TailCurve,
    check_eps,
    check_fraction,
    check_record,
    curve_from_samples,
    half_window,
    one_of,
    simulate_recorded,
)
from collapse_theory.tails.table import REGIMES, CurveRequest, Setting

__all__ = [
    "CategoricalTail",
    "TailLoss",
    "benchmark_curves",
    "benchmark_settings",
    "categorical_exact",
    "categorical_monte_carlo",
    "tail_loss",
]


@dataclass(frozen=True)
class CategoricalTail:
    r"""The tail of a categorical :math:`p_0`: its rare states (docs/theory.md §1.9).

    Give exactly one of

    - ``threshold`` :math:`\tau`: :math:`A = \{i : 0 < p_{0,i} < \tau\}`. States with
      :math:`p_{0,i} = 0` are never in the tail (they can never appear).
    - ``lightest_mass`` q in (0, 1): the largest set :math:`\{i : 0 < p_{0,i} < \tau\}` whose
      total original mass is at most q (states of equal probability are all in or all out);
    - ``indices``: the states themselves (a language model's rarest word types, say).

    :meth:`states` refuses an empty tail (threshold at or below the smallest positive
    :math:`p_{0,i}`, or q below the lightest state's mass) and a tail holding every state
    (threshold above the largest :math:`p_{0,i}`): neither has a tail to lose.

    Parameters
    ----------
    threshold : float, optional
        Probability :math:`\tau` in (0, 1] below which a state is in the tail.
    lightest_mass : float, optional
        Largest original tail mass q in (0, 1), instead of ``threshold``.
    indices : tuple of int, optional
        The tail's states, instead of either (sorted and deduplicated; not every state).

    Examples
    --------
    >>> CategoricalTail(threshold=0.1).states([0.8, 0.15, 0.05]).tolist()
    [2]
    >>> CategoricalTail(lightest_mass=0.3).states([0.7, 0.2, 0.05, 0.05]).tolist()
    [1, 2, 3]
    """

    threshold: float | None = None
    lightest_mass: float | None = None
    indices: tuple[int, ...] | None = None

    def __post_init__(self) -> None:
        name, value = one_of(
            "CategoricalTail",
            threshold=self.threshold,
            lightest_mass=self.lightest_mass,
            indices=self.indices,
        )
        if name == "threshold":
            value = check_real("threshold", value, minimum=0.0, maximum=1.0, strict_minimum=True)
        elif name == "lightest_mass":
            value = check_fraction("lightest_mass", value)
        else:
            chosen = np.unique(np.asarray(value))
            if chosen.dtype.kind not in "iu" or chosen.size == 0 or chosen[0] < 0:
                raise InputError(f"indices must be state indices >= 0; got {value!r}")
            value = tuple(int(i) for i in chosen)
        object.__setattr__(self, name, value)

    def states(self, p0: ArrayLike) -> np.ndarray:
        """Indices of the tail states of ``p0`` (sorted)."""
        p0 = check_probability_vector("p0", p0)
        if self.indices is not None:
            if self.indices[-1] >= p0.size or len(self.indices) == p0.size:
                raise InputError(
                    f"indices={self.indices!r}: allowed are some, not all, of the states "
                    f"0..{p0.size - 1} of p0"
                )
            return np.array(self.indices)
        positive = np.unique(p0[p0 > 0])
        if self.threshold is not None:
            tau = self.threshold
            if tau <= positive[0]:
                raise InputError(
                    f"threshold={tau!r} leaves the tail empty: the smallest positive p0 is "
                    f"{float(positive[0])!r}; allowed: smallest p0 < threshold <= largest p0"
                )
            if tau > positive[-1]:
                raise InputError(
                    f"threshold={tau!r} puts every state in the tail (largest p0 is "
                    f"{float(positive[-1])!r}); allowed: smallest p0 < threshold <= largest p0"
                )
        else:
            q = self.lightest_mass
            # Mass of {p0 <= v} for each distinct positive value v, lightest first.
            cumulative = np.array([p0[(p0 > 0) & (p0 <= v)].sum() for v in positive])
            fits = np.nonzero(cumulative <= q * (1.0 + 1e-12))[0]
            if fits.size == 0:
                raise InputError(
                    f"lightest_mass={q!r} is below the mass of the lightest state(s), "
                    f"{float(cumulative[0])!r} (equal probabilities count together): the tail would "
                    f"be empty; allowed: q in [{cumulative[0]:.3g}, 1)"
                )
            if fits[-1] == positive.size - 1:
                raise InputError(
                    f"lightest_mass={q!r} puts every state in the tail; allowed: q below "
                    f"{cumulative[-2] if positive.size > 1 else 0.0:.3g}"
                )
            tau = float(np.nextafter(positive[fits[-1]], np.inf))
        return np.nonzero((p0 > 0) & (p0 < tau))[0]

    def mass(self, p0: ArrayLike) -> float:
        """Original tail mass :math:`T_0 = \\sum_{i\\in A} p_{0,i}`."""
        p0 = check_probability_vector("p0", p0)
        return float(p0[self.states(p0)].sum())


def _law_quantile(fractions: np.ndarray, cdf: np.ndarray, level: float) -> float:
    """Smallest support point with CDF >= level (a tiny slack absorbs rounding)."""
    return float(fractions[np.searchsorted(cdf, level - 1e-12)])


def categorical_exact(
    p0: ArrayLike,
    tail: CategoricalTail,
    num_samples: ScheduleLike,
    generations: ArrayLike,
    *,
    eps: float = 0.01,
) -> TailCurve:
    r"""Exact tail-mass law of the categorical model under Replace (docs/theory.md §1.4, §1.9).

    :math:`E T_n = T_0` (martingale); median, quantiles and :math:`P(T_n < \varepsilon T_0)`
    from the law of the lumped chain; surviving tail states
    :math:`\sum_{i\in A}(1 - P(p_{n,i} = 0))`; the scale drift
    :math:`\ln E[T_n(1-T_n)]` per generation is :math:`\ln(1-1/M)` exactly (§1.3), here read off
    the computed laws (NaN when the lumped chain is absorbed by mid-horizon). Truncation error of every probability below about 1e-12.

    Parameters
    ----------
    p0 : array_like, shape (K,)
    tail : CategoricalTail
    num_samples : int or schedule
        M >= 1, or a sample-size schedule.
    generations : array_like of int
        Recorded generations, including 0.
    eps : float
        Relative level in (0, 1).

    Returns
    -------
    TailCurve
        ``method="exact"``; standard errors are 0. Its ``median_every_generation`` holds the
        median at every generation up to the horizon (from the same pass of the lumped chain;
        None beyond :data:`EVERY_GENERATION_VALUES` stored values), so that
        :func:`collapse_theory.tails.tail_rates` does not depend on ``generations``.

    Examples
    --------
    >>> curve = categorical_exact([0.9, 0.05, 0.05], CategoricalTail(threshold=0.1), 20, [0, 1])
    >>> round(float(curve.prob_below[1]), 6)  # both rare states lost at once: 0.9**20
    0.121577
    """
    if not isinstance(tail, CategoricalTail):
        raise InputTypeError(f"tail must be a CategoricalTail; got {type(tail).__name__}")
    states = tail.states(p0)
    probabilities = np.asarray(p0, dtype=float) / np.sum(p0)
    gens = check_record(generations)
    sample_sizes(num_samples, int(gens[-1]))  # validates the schedule (M_i >= 1)
    return _lumped_tail_law(
        probabilities, states, num_samples, gens, check_eps(eps), every_generation=True
    )


#: Most float64 values stored to give an exact curve its median at every generation (256 MiB).
EVERY_GENERATION_VALUES = 2**25


def _lumped_tail_law(
    p0: np.ndarray,
    states: np.ndarray,
    num_samples: ScheduleLike,
    gens: np.ndarray,
    eps: float,
    *,
    every_generation: bool = False,
) -> TailCurve:
    """The law of :math:`T_n = p_{n,A}`, A = ``states``, at the sorted generations ``gens``
    (which start at 0): the one computation behind :func:`categorical_exact` and
    :func:`tail_loss`. With ``every_generation``, the same pass of the lumped chain also gives
    the median at every generation up to the horizon (when its laws fit in
    :data:`EVERY_GENERATION_VALUES` values), for rates that do not depend on ``gens``."""
    t0 = min(float(p0[states].sum()), 1.0)  # a mass: a sum of all states can round above 1
    horizon = int(gens[-1])
    largest = int(sample_sizes(num_samples, horizon).max(initial=1))
    dense = every_generation and (horizon + 1) * (largest + 1) <= EVERY_GENERATION_VALUES
    record = np.arange(horizon + 1) if dense else gens
    path = markov.propagate(t0, num_samples, record, distributions=True)
    stats = _law_statistics(path.distributions, t0, eps)
    pick = gens if dense else np.arange(gens.size)  # positions of gens in record
    mean, het, median, prob = (a[pick] for a in stats[:4])
    quantiles = stats[4][:, pick]
    first, last = half_window(gens)
    with np.errstate(divide="ignore", invalid="ignore"):  # NaN once every chain is absorbed
        drift = float(np.log(het[last] / het[first]) / (gens[last] - gens[first]))
    zeros = np.zeros(gens.size)
    return TailCurve(
        generations=gens,
        initial_mass=t0,
        method="exact",
        mean=mean,
        mean_se=zeros,
        median=median,
        quantiles=quantiles,
        eps=eps,
        prob_below=prob,
        prob_below_se=zeros,
        surviving=_survival(p0[states], num_samples, gens, "exact").sum(axis=0),
        surviving_se=zeros,
        scale_drift=drift,
        scale_drift_se=0.0,
        prob_lost=path.lost[pick],
        error_bound=path.bound[pick],
        median_every_generation=stats[2] if dense else None,
    )


def _law_statistics(
    distributions: list, t0: float, eps: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Mean, E[T(1-T)], median, P(T < eps T0) (each shape (G,)) and the quantiles at
    QUANTILE_LEVELS (shape (L, G)) of the lumped fraction T from the laws of
    ``markov.propagate``."""
    g = len(distributions)
    mean, het, median, prob = (np.empty(g) for _ in range(4))
    quantiles = np.empty((len(QUANTILE_LEVELS), g))
    for j, (size, v, v_lo, lost, full) in enumerate(distributions):
        if size is None:
            fractions, probs = np.array([t0]), np.array([1.0])
        else:
            inner = (v_lo + np.arange(v.size)) / size
            fractions = np.concatenate([[0.0], inner, [1.0]])
            probs = np.concatenate([[lost], v, [full]])
        cdf = np.cumsum(probs)
        mean[j] = float(fractions @ probs)
        het[j] = float((fractions * (1.0 - fractions)) @ probs)
        median[j] = _law_quantile(fractions, cdf, 0.5)
        quantiles[:, j] = [_law_quantile(fractions, cdf, q) for q in QUANTILE_LEVELS]
        prob[j] = float(probs[fractions < eps * t0].sum())
    return mean, het, median, prob, quantiles


def categorical_monte_carlo(
    p0: ArrayLike,
    tail: CategoricalTail,
    num_samples: ScheduleLike,
    generations: ArrayLike,
    *,
    regime: Regime | None = None,
    eps: float = 0.01,
    num_replicates: int = 1000,
    seed: SeedLike = None,
    progress: bool = False,
    policy: Policy | None = None,
) -> TailCurve:
    r"""Tail mass :math:`T_n = \sum_{i\in A} p_{n,i}` of simulated categorical chains
    (docs/theory.md §1.9) and the number of tail states still present; with a sampling
    ``policy``, of chains whose fitted models generate through it (§8.1).

    The scale drift is :math:`d\ln E[T_n(1-T_n)]/dn` over the second half of the horizon, with a
    delta-method standard error and that error's heavy-tail diagnostic (``_stats.top_share``
    of the influence values). Under Replace the drift is :math:`\ln(1-1/M)` (§1.3); it is NaN
    once every replicate is absorbed by mid-horizon.

    Parameters
    ----------
    p0 : array_like, shape (K,)
        The original distribution (model 0).
    tail : CategoricalTail
        The tail set A of ``p0``.
    num_samples : int or schedule
        Sample size M >= 1 (or schedule M_i) of each generation.
    generations : array_like of int
        Recorded generations, at least 2 and including 0.
    regime : Replace (default), FreshData, Accumulate or WeightedFresh, optional
        Data regime of each generation (as in :func:`collapse_theory.categorical.simulate`).
    eps : float, default 0.01
        Relative level in (0, 1) of :math:`P(T_n < \varepsilon T_0)`.
    num_replicates : int, default 1000
        Independent chains R >= 2.
    seed : SeedLike, optional
        Seed of the simulation (None: fresh entropy).
    progress : bool, default False
        Show a progress bar while simulating.
    policy : Temperature, TopK, TopP, MinP or a Compose of them, optional
        Sampling policy of the fitted models' synthetic draws (docs/theory.md §8.1).

    Returns
    -------
    TailCurve
        ``method="monte-carlo"``: mean, median, quantiles and
        :math:`P(T_n < \varepsilon T_0)` with their standard errors, the expected number of
        tail states still present (``surviving``), the scale drift and the samples, per
        recorded generation.

    Examples
    --------
    >>> curve = categorical_monte_carlo(
    ...     [0.9, 0.05, 0.05], CategoricalTail(threshold=0.1), 20, [0, 1, 5], num_replicates=200,
    ...     seed=0)
    >>> float(curve.median[0]), curve.num_draws
    (0.1, 200)
    """
    if not isinstance(tail, CategoricalTail):
        raise InputTypeError(f"tail must be a CategoricalTail; got {type(tail).__name__}")
    states = tail.states(p0)
    gens, eps, run = simulate_recorded(
        categorical_simulate,
        (p0,),
        num_samples,
        generations,
        eps=eps,
        num_replicates=num_replicates,
        regime=regime,
        seed=seed,
        progress=progress,
        policy=policy,
    )
    p_tail = run["p"][:, :, states]
    masses = p_tail.sum(axis=-1)
    t0 = float(masses[0, 0])
    het = masses * (1.0 - masses)
    first, last = half_window(gens)
    m1, m2 = het[first].mean(), het[last].mean()
    steps = float(gens[last] - gens[first])
    # Delta method for ln(mean h_last) - ln(mean h_first) from paired replicates.
    with np.errstate(divide="ignore", invalid="ignore"):  # NaN once every chain is absorbed
        influence = het[last] / m2 - het[first] / m1
        drift = (
            float(np.log(m2 / m1) / steps),
            mean_se(influence)[1] / steps,
            top_share(influence),
        )
    return curve_from_samples(
        gens, masses, t0, eps, surviving=(p_tail > 0).sum(axis=-1), scale_drift=drift
    )


# ---------------------------------------------------------------------------------------------
# rows of the tail-loss table

#: Label and the tail described in the table's notes.
BENCHMARK_NOTE = "categorical: the lightest 10% of p0 (drift: ln E[T(1-T)])"


#: Policy rows of the table (docs/theory.md §8): label -> policy, Zipf(1.1) K = 100, replace.
#: Temperature 1.0 is the plain row; lumping the tail is not exact under a policy, so these rows
#: are Monte Carlo only.
POLICY_ROWS: dict[str, Policy] = {
    "temperature 0.7": Temperature(0.7),
    "temperature 1.3": Temperature(1.3),
    "top-p 0.9": TopP(0.9),
    "top-k 50": TopK(50),
}
_POLICY_SEPARATOR = ", "


def _model_and_policy(model: str) -> tuple[str, Policy | None]:
    """Split a table label "Zipf(1.1) K=100, top-p 0.9" into the model and its policy."""
    base, _, label = model.partition(_POLICY_SEPARATOR)
    return base, POLICY_ROWS[label] if label else None


def benchmark_settings(sizes: tuple[int, ...], quick: bool) -> list[Setting]:
    """Zipf(1.1) with K = 100 (and K = 1000 unless ``quick``), the MLE, every M and regime;
    1000 replicates (400 / 200 at M = 1000 under replace / otherwise, where every state stays
    alive and a step costs O(K)), at most 200 when ``quick``; horizon 2M. Policy rows
    (:data:`POLICY_ROWS`, docs/theory.md §8): Zipf(1.1) K = 100 under replace, same sizes.

    Parameters
    ----------
    sizes : tuple of int
        The sample sizes M of the grid.
    quick : bool
        Fewer replicates and only K = 100 (a quick table for a smoke test).

    Returns
    -------
    list of Setting
        One :class:`~collapse_theory.tails.table.Setting` per (model, M, regime) of the grid,
        then one per (policy row, M).
    """
    models = ["Zipf(1.1) K=100"] + ([] if quick else ["Zipf(1.1) K=1000"])
    out = []
    for model in models:
        for m in sizes:
            for regime in REGIMES:
                r = 1000
                if m == 1000:
                    r = 400 if regime == "replace" else 200
                if quick:
                    r = min(r, 200)
                out.append(Setting("categorical", model, "mle", m, regime, 2 * m, r, "categorical"))
    for label in POLICY_ROWS:
        model = f"Zipf(1.1) K=100{_POLICY_SEPARATOR}{label}"
        for m in sizes:
            r = min(1000 if m < 1000 else 400, 200 if quick else 1000)
            out.append(Setting("categorical", model, "mle", m, "replace", 2 * m, r, "categorical"))
    return out


def benchmark_curves(request: CurveRequest) -> list[TailCurve]:
    """Monte Carlo curve of the setting, then the exact law under Replace (without a policy).

    Parameters
    ----------
    request : CurveRequest
        The table's cell (``request.setting``), its recorded generations (including 0), tail
        level ``tail_quantile``, ``eps`` and the seeds ``mc_seed`` / ``exact_seed``.

    Returns
    -------
    list of TailCurve
        :func:`categorical_monte_carlo` (seed ``mc_seed``), followed under Replace without a
        policy by the exact law :func:`categorical_exact`.
    """
    setting, generations, eps = request.setting, request.generations, request.eps
    model, policy = _model_and_policy(setting.model)
    k = int(model.split("K=")[1])
    p0, tail = zipf(k), CategoricalTail(lightest_mass=request.tail_quantile)
    m = setting.num_samples
    curves = [
        categorical_monte_carlo(
            p0,
            tail,
            m,
            generations,
            regime=request.regime,
            eps=eps,
            num_replicates=setting.replicates,
            seed=request.mc_seed,
            policy=policy,
        )
    ]
    if setting.regime == "replace" and policy is None:
        curves.append(categorical_exact(p0, tail, m, generations, eps=eps))
    return curves


@dataclass(frozen=True)
class TailLoss:
    r"""Loss of the tail A = {i : p0_i < threshold} over generations (docs/theory.md §1.9).

    Arrays have the shape of the requested generations.

    Attributes
    ----------
    generations : numpy.ndarray of int
        The requested generations n.
    threshold : float
        The tail threshold :math:`\tau`.
    tail_states : numpy.ndarray of int
        Indices of the tail states, sorted.
    initial_mass : float
        :math:`p_A = \sum_{i \in A} p_{0,i}`.
    prob_all_lost : numpy.ndarray
        :math:`P(p_{n,A} = 0)`, exact from the lumped chain (docs/theory.md §1.4).
    expected_surviving : numpy.ndarray
        Expected number of tail states still present, :math:`\sum_{i\in A} (1 - P(p_{n,i} = 0))`.
    expected_mass : numpy.ndarray
        :math:`E\,p_{n,A} = p_A` (martingale, docs/theory.md §1.2).
    median_mass : numpy.ndarray
        Exact median of the lumped fraction :math:`p_{n,A}`.
    error_bound : numpy.ndarray
        Bound on the truncation error of the computed probabilities.
    """

    generations: np.ndarray
    threshold: float
    tail_states: np.ndarray
    initial_mass: float
    prob_all_lost: np.ndarray
    expected_surviving: np.ndarray
    expected_mass: np.ndarray
    median_mass: np.ndarray
    error_bound: np.ndarray


def tail_loss(
    p0: ArrayLike, num_samples: ScheduleLike, generations: ArrayLike, threshold: float
) -> TailLoss:
    r"""How the tail :math:`A = \{i : p_{0,i} < \tau\}` is lost (docs/theory.md §1.9): the
    family's tail law (:func:`categorical_exact`) at any generations, in the words of §1.9.

    - ``prob_all_lost``: :math:`P(p_{n,A} = 0)`, exact from the lumped chain started at
      :math:`p_A = \sum_{i \in A} p_{0,i}` (§1.4);
    - ``expected_surviving``: :math:`\sum_{i\in A} (1 - P(p_{n,i} = 0))`;
    - ``expected_mass``: :math:`E\, p_{n,A} = p_A` for every n (martingale);
    - ``median_mass``: the exact median (smallest f with :math:`P(p_{n,A} \le f) \ge 1/2`) of
      the lumped fraction, from the lumped chain's distribution.

    Parameters
    ----------
    p0 : array_like, shape (K,)
        Initial distribution.
    num_samples : int or schedule
        M or M_0, M_1, ...
    generations : int or array_like of int
        n >= 0.
    threshold : float
        :math:`\tau \in (0, 1]`.

    Returns
    -------
    TailLoss

    Raises
    ------
    InputError
        If threshold is outside (0, 1] or no state lies below it; InputTypeError (a
        TypeError) on wrong types.

    Examples
    --------
    >>> tl = tail_loss([0.9, 0.05, 0.05], 20, [1, 5], 0.1)
    >>> tl.tail_states.tolist(), round(tl.initial_mass, 3)
    ([1, 2], 0.1)
    """
    p0 = check_probability_vector("p0", p0)
    gens = check_generations("generations", generations)
    as_schedule(num_samples)
    threshold = check_real("threshold", threshold, minimum=0.0, maximum=1.0, strict_minimum=True)
    tail = np.nonzero(p0 < threshold)[0]
    if tail.size == 0:
        raise InputError(
            f"threshold={threshold} leaves the tail empty: no state has p0 < {threshold} "
            f"(smallest p0 is {p0.min()!r}); raise the threshold"
        )
    mass = float(min(1.0, p0[tail].sum()))
    # The family's tail law at the requested generations (plus 0, where it starts).
    record, inverse = np.unique(np.concatenate([[0], gens.ravel()]), return_inverse=True)
    curve = _lumped_tail_law(p0, tail, num_samples, record, 0.5)
    pick = inverse[1:]
    return TailLoss(
        generations=gens,
        threshold=threshold,
        tail_states=tail,
        initial_mass=mass,
        prob_all_lost=curve.prob_lost[pick].reshape(gens.shape),
        expected_surviving=curve.surviving[pick].reshape(gens.shape),
        expected_mass=np.full(gens.shape, mass),
        median_mass=curve.median[pick].reshape(gens.shape),
        error_bound=curve.error_bound[pick].reshape(gens.shape),
    )
