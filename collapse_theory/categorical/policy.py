r"""Exact laws of the categorical model under a sampling policy (docs/theory.md §8.1).

With a policy :math:`T` the fitted model :math:`\hat p_n = C_n / M` generates from
:math:`T(\hat p_n)`: :math:`C_{n+1} \mid C_n \sim \mathrm{Mult}(M, T(C_n/M))`, while dataset 0
comes from the truth as is, :math:`C_1 \sim \mathrm{Mult}(M, p_0)`. The chain is no longer a
martingale, but it is still a Markov chain on the counts:

- two states: the count of the first state moves on 0..M with rows
  :math:`\mathrm{Bin}(M, T(j/M))`, propagated exactly with the banded algorithm of the neutral
  chain (:mod:`.markov`; kept entries exact, dropped mass summed into an error bound);
- K states: the composition chain, exact for small M and K (:data:`markov.MAX_COMPOSITIONS`).
  Lumping is not exact (the policy mixes states), so larger cases are Monte Carlo, and the
  results say which (:class:`PolicyEstimate`).

The M → ∞ limit is the deterministic :func:`skeleton`, model n = :math:`T^{n-1}(p_0)`.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from collapse_theory._stats import mean_se
from collapse_theory._validate import (
    InputError,
    check_allocation,
    check_generations,
    check_horizon,
    check_int,
    check_probability_vector,
    scalar_or_array,
)
from collapse_theory.categorical import _markov_numba as _kern
from collapse_theory.categorical import markov as _markov
from collapse_theory.policies import Policy, check_policy
from collapse_theory.schedules import ScheduleLike, constant_size

__all__ = [
    "EXACT_COMPOSITIONS",
    "EXACT_TWO_STATE",
    "MONTE_CARLO",
    "PolicyEstimate",
    "PolicyMoments",
    "TailCut",
    "skeleton",
    "tail_cut",
    "two_state_law",
]

#: The ``method`` strings of the results.
EXACT_TWO_STATE = "exact (two-state chain)"
EXACT_COMPOSITIONS = "exact (composition chain)"
MONTE_CARLO = "monte carlo"

#: Refuse two-state propagations estimated to need more multiply-adds than this.
MAX_WORK = 4e10
#: Default number of replicates of the Monte Carlo fallback.
DEFAULT_REPLICATES = 20_000


@dataclass(frozen=True)
class PolicyEstimate:
    """A quantity under a policy: exact (``standard_error`` 0) or Monte Carlo, as ``method`` says.

    Attributes
    ----------
    value : numpy.float64 or numpy.ndarray
        The quantity (e.g. a probability per generation; shape of the generations asked for).
    standard_error : numpy.float64 or numpy.ndarray
        Standard error of a Monte Carlo ``value`` (docs/theory.md §6), same shape; 0 when exact.
    method : str
        How ``value`` was computed: ``EXACT_TWO_STATE``, ``EXACT_COMPOSITIONS`` or
        ``MONTE_CARLO``.
    num_replicates : int or None
        Number of Monte Carlo replicates; None for an exact method.
    """

    value: np.float64 | np.ndarray
    standard_error: np.float64 | np.ndarray
    method: str
    num_replicates: int | None = None


@dataclass(frozen=True)
class PolicyMoments:
    r"""Mean and covariance of :math:`p_n` under a policy; unpacks as ``mean, cov = ...``.

    ``mean_standard_error`` is 0 for the exact methods.

    Attributes
    ----------
    mean : numpy.ndarray
        :math:`E p_n`, shape generations.shape + (K,).
    cov : numpy.ndarray
        :math:`\operatorname{Cov} p_n`, shape generations.shape + (K, K).
    method : str
        How the moments were computed: ``EXACT_TWO_STATE``, ``EXACT_COMPOSITIONS`` or
        ``MONTE_CARLO``.
    mean_standard_error : numpy.ndarray
        Standard error of each entry of ``mean`` (docs/theory.md §6); 0 when exact.
    num_replicates : int or None
        Number of Monte Carlo replicates; None for an exact method.
    """

    mean: np.ndarray
    cov: np.ndarray
    method: str
    mean_standard_error: np.ndarray
    num_replicates: int | None = None

    def __iter__(self) -> Iterator[np.ndarray]:
        return iter((self.mean, self.cov))


# ---------------------------------------------------------------------------------------------
# the skeleton


def skeleton(p0: ArrayLike, generations: ArrayLike, policy: Policy) -> np.ndarray:
    r"""The M → ∞ path of the policy chain: model n = :math:`T^{n-1}(p_0)` (docs/theory.md §8.1).

    Model 0 (the truth) and model 1 (fitted to infinite data from it) are :math:`p_0`. For a
    temperature, model n :math:`\propto p_0^{\tau^{-(n-1)}}`: :math:`\tau < 1` tends to a point
    mass on the mode(s), :math:`\tau > 1` to the uniform law on the support (§8.1, "heat death").

    Parameters
    ----------
    p0 : array_like, shape (K,)
        The original distribution.
    generations : int or array_like of int
        n >= 0.
    policy : Policy
        A categorical policy (Temperature, TopK, TopP, MinP or a Compose of them).

    Returns
    -------
    ndarray, shape generations.shape + (K,)
        One row per generation.

    Raises
    ------
    InputError, InputTypeError
        On invalid input (a Gaussian-only policy included).

    Examples
    --------
    >>> import collapse_theory as ct
    >>> skeleton([0.5, 0.3, 0.15, 0.05], 6, ct.policies.Temperature(0.8)).round(6).tolist()
    [0.808656, 0.170112, 0.020515, 0.000718]
    """
    p0 = check_probability_vector("p0", p0)
    gens = check_generations("generations", generations)
    policy = _require(policy)
    n_max = int(gens.max()) if gens.size else 0
    check_horizon("generations", n_max)
    check_allocation("the skeleton", 8.0 * p0.size * (gens.size + 2), advice="ask for fewer")
    wanted = np.unique(gens)
    rows = {}
    q = p0.copy()
    for n in range(n_max + 1):
        if n >= 2:
            q = policy(q)
        if n in wanted:
            rows[n] = q
    out = np.empty(gens.shape + p0.shape)
    for index, n in np.ndenumerate(gens):
        out[index] = rows[int(n)]
    return out


@dataclass(frozen=True)
class TailCut:
    r"""The states a policy cuts from p0 and the mass they carried (docs/theory.md §8.3).

    Attributes
    ----------
    missing_mass : float
        :math:`\sum_{i: T(p_0)_i = 0} p_{0,i}`, the mass of the cut states, in [0, 1).
    kept : numpy.ndarray of bool, shape (K,)
        True for the states the policy keeps (:math:`T(p_0)_i > 0`).
    num_kept : int
        Number of kept states, ``kept.sum()``.
    """

    missing_mass: float
    kept: np.ndarray
    num_kept: int


def tail_cut(p0: ArrayLike, policy: Policy) -> TailCut:
    r"""Mass of p0 that a policy removes at once: :math:`\sum_{i: T(p_0)_i = 0} p_{0,i}` (§8.3).

    On the skeleton (M → ∞) model 2 is :math:`T(p_0)`; no policy restores a lost state, so every
    later model misses at least this mass (docs/theory.md §8.3, Dohmatob et al. 2024). For the
    Zipf law and top-k it is :math:`1 - H_{k,a}/H_{K,a}`.

    Parameters
    ----------
    p0 : array_like, shape (K,)
        The original distribution.
    policy : Policy
        A categorical policy (top-k, top-p and min-p cut; a temperature cuts nothing).

    Returns
    -------
    TailCut
        ``missing_mass``, the boolean mask ``kept`` and ``num_kept``.

    Examples
    --------
    >>> import collapse_theory as ct
    >>> cut = tail_cut(ct.categorical.zipf(1000, 1.1), ct.policies.TopK(10))
    >>> round(cut.missing_mass, 6), cut.num_kept
    (0.519067, 10)
    """
    p0 = check_probability_vector("p0", p0)
    kept = _require(policy)(p0) > 0
    missing = float(np.sort(p0[~kept]).sum())  # smallest first: accurate for long tails
    return TailCut(missing, kept, int(kept.sum()))


def _require(policy: object) -> Policy:
    checked = check_policy(policy, "categorical")
    if checked is None:
        raise InputError("policy must be a categorical policy here, not None")
    return checked


# ---------------------------------------------------------------------------------------------
# two states: the count chain with rows Bin(M, T(j/M))


@dataclass(frozen=True)
class TwoStateLaw:
    """Per recorded generation: P(count 0), P(count M), E p, E p^2 and the truncation bound."""

    generations: np.ndarray
    lost: np.ndarray
    fixed: np.ndarray
    mean: np.ndarray
    second_moment: np.ndarray
    error_bound: np.ndarray


def _two_state_rows(m: int, policy: Policy) -> tuple[np.ndarray, np.ndarray]:
    """(T(j/M)_1, T(j/M)_2) for j = 0..M (the second given separately for accuracy)."""
    check_allocation("the two-state policy rows", 48.0 * (m + 1), advice="use a smaller M")
    j = np.arange(m + 1, dtype=np.float64)
    q = policy(np.stack([j / m, (m - j) / m], axis=-1))
    return np.ascontiguousarray(q[:, 0]), np.ascontiguousarray(q[:, 1])


def _estimated_work(m: int, steps: int) -> float:
    """Multiply-adds of a propagation: steps x support x band, the support (after trimming) at
    most about 40 sqrt(M) counts and a band about 9 sqrt(M) (both at most M + 1)."""
    band = min(m + 1.0, 9.0 * math.sqrt(m) + 20.0)
    support = min(m - 1.0, 40.0 * math.sqrt(m) + 20.0)
    return float(max(steps - 1, 0)) * support * band


class _RowWindow:
    """Banded rows Bin(M, x[j]) for the sources j in a window [base, top] that follows the
    distribution: when it moves, the rows still inside are kept and only the new ones built
    (rows depend on j alone), so a drifting distribution costs its path, not a rebuild a step."""

    def __init__(self, m: int, x: np.ndarray, y: np.ndarray, row_tol: float) -> None:
        self.m, self.x, self.y, self.row_tol = m, x, y, row_tol
        self.base, self.top = 1, 0
        self.rows: tuple[np.ndarray, ...] = ()

    def _build(self, lo: int, hi: int) -> tuple[np.ndarray, ...]:
        return _kern.build_rows_from(self.m, self.x[lo : hi + 1], self.y[lo : hi + 1], self.row_tol)

    def _slice(self, lo: int, hi: int) -> tuple[np.ndarray, ...]:
        starts, lengths, offsets, data, drops = self.rows
        a, b = lo - self.base, hi - self.base + 1
        return (
            starts[a:b],
            lengths[a:b],
            offsets[a : b + 1] - offsets[a],
            data[offsets[a] : offsets[b]],
            drops[a:b],
        )

    def cover(self, lo: int, hi: int) -> None:
        """Make sure rows lo..hi are present."""
        if self.base <= lo and hi <= self.top:
            return
        slack = max(16, (hi - lo) // 2)
        base, top = max(1, lo - slack), min(self.m - 1, hi + slack)
        keep_lo, keep_hi = max(base, self.base), min(top, self.top)
        if keep_lo > keep_hi:  # nothing to keep
            pieces = [self._build(base, top)]
        else:
            pieces = [self._slice(keep_lo, keep_hi)]
            if base < keep_lo:
                pieces.insert(0, self._build(base, keep_lo - 1))
            if keep_hi < top:
                pieces.append(self._build(keep_hi + 1, top))
        lengths = np.concatenate([p[1] for p in pieces])
        offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
        self.rows = (
            np.concatenate([p[0] for p in pieces]),
            lengths,
            offsets,
            np.concatenate([p[3] for p in pieces]),
            np.concatenate([p[4] for p in pieces]),
        )
        self.base, self.top = base, top


def two_state_law(
    p: float,
    num_samples: ScheduleLike,
    generations: ArrayLike,
    policy: Policy,
    *,
    tol: float = 1e-13,
) -> TwoStateLaw:
    r"""Exact law of the first state's frequency, two states (p, 1 - p), under a policy (§8.1).

    :math:`C_1 \sim \mathrm{Bin}(M, p)` (dataset 0 from the truth), then
    :math:`C_{n+1} \mid C_n = j \sim \mathrm{Bin}(M, T(j/M))`. Counts 0 and M absorb (no policy
    gives mass to a state of probability 0). Banded propagation: rows and the distribution keep
    all but ``tol / (2n)`` of their mass; the discarded mass is summed into ``error_bound``.

    Parameters
    ----------
    p : float
        Initial probability of the first state, in [0, 1].
    num_samples : int or schedules.Constant
        Constant M.
    generations : array_like of int
        n >= 0.
    policy : Policy
        Categorical policy.
    tol : float
        Truncation budget.

    Returns
    -------
    TwoStateLaw
        Arrays over the sorted unique generations.
    """
    m = constant_size(num_samples, "the exact law under a policy")
    policy = _require(policy)
    record = np.unique(check_generations("generations", generations))
    n_max = int(record[-1]) if record.size else 0
    if _estimated_work(m, n_max) > MAX_WORK:
        raise InputError(
            f"the exact two-state law under {policy!r} with num_samples={m} up to generation "
            f"{n_max} would need about {_estimated_work(m, n_max):.2g} multiply-adds (limit "
            f"{MAX_WORK:.0g}): use fewer generations, a smaller num_samples or simulate(..., "
            "policy=...)"
        )
    out = {key: np.zeros(record.size) for key in ("lost", "fixed", "mean", "second", "bound")}
    state = {"lost": float(p <= 0.0), "fixed": float(p >= 1.0), "dropped": 0.0}
    v = np.zeros(0)
    v_lo = 1
    slot = 0

    def write(g: int) -> None:
        nonlocal slot
        while slot < record.size and record[slot] == g:
            if g == 0:
                mean, second = p, p * p
            else:
                fractions = (v_lo + np.arange(v.size)) / m
                mean = state["fixed"] + float(v @ fractions)
                second = state["fixed"] + float(v @ fractions**2)
            out["lost"][slot], out["fixed"][slot] = state["lost"], state["fixed"]
            out["mean"][slot], out["second"][slot] = mean, second
            out["bound"][slot] = state["dropped"] + _markov.ROUNDING_PER_STEP * g
            slot += 1

    write(0)
    if n_max >= 1 and 0.0 < p < 1.0:
        row_tol = tol / (2.0 * n_max)
        start, values, drop = _kern.single_row(m, p, 1.0 - p, row_tol)
        v, v_lo, _, f = _markov._split_first_row(start, values, m)
        state["lost"] = math.exp(m * math.log1p(-p))  # (1 - p)^M exactly
        state["fixed"], state["dropped"] = f, drop
        window = _RowWindow(m, *_two_state_rows(m, policy), row_tol)
        write(1)
        for g in range(2, n_max + 1):
            if v.size == 0:
                break
            window.cover(v_lo, v_lo + v.size - 1)
            v, v_lo, z, f, d = _kern.step(v, v_lo, window.base, *window.rows, m, row_tol)
            state["lost"] += z
            state["fixed"] += f
            state["dropped"] += d
            write(g)
    for g in record[slot:]:  # absorbed (or p in {0, 1}): nothing changes any more
        write(int(g))
    return TwoStateLaw(
        record,
        np.clip(out["lost"], 0.0, 1.0),
        np.clip(out["fixed"], 0.0, 1.0),
        out["mean"],
        out["second"],
        out["bound"],
    )


def two_state_absorption_time(p: float, m: int, policy: Policy) -> float:
    """Exact mean time until one of two states is lost, under a policy (fundamental matrix)."""
    if p <= 0.0 or p >= 1.0:
        return 0.0
    if m == 1:
        return 1.0
    from scipy.stats import binom

    x, _ = _two_state_rows(m, policy)
    j = np.arange(m + 1)
    q = binom.pmf(j[None, 1:m], m, x[1:m, None])
    t = np.linalg.solve(np.eye(m - 1) - q, np.ones(m - 1))
    return float(1.0 + binom.pmf(j[1:m], m, p) @ t)


# ---------------------------------------------------------------------------------------------
# K states: the composition chain


def composition_laws(
    p0: np.ndarray, m: int, record: np.ndarray, policy: Policy
) -> tuple[np.ndarray, list[np.ndarray]]:
    """(compositions, [law over them at each recorded generation >= 1]) of the policy chain."""
    comps, matrix = _policy_composition_chain(p0.size, m, policy)
    law = np.exp(_markov._multinomial_log_pmf(comps, p0[None, :]))[0]
    laws = []
    g = 1
    for n in record:
        while g < n:
            law = law @ matrix
            g += 1
        laws.append(law.copy())
    return comps, laws


def _policy_composition_chain(k: int, m: int, policy: Policy) -> tuple[np.ndarray, np.ndarray]:
    size = _markov.num_compositions(k, m)
    if size > _markov.MAX_COMPOSITIONS:
        raise InputError(
            f"the composition chain of {k} states and num_samples={m} has {size} states (at "
            f"most {_markov.MAX_COMPOSITIONS})"
        )
    comps = _markov._compositions(k, m)
    probs = policy(comps / m)
    return comps, np.exp(_markov._multinomial_log_pmf(comps, probs))


def composition_feasible(k: int, m: int) -> bool:
    """Whether the exact composition chain of k states and sample size m is built."""
    return _markov.num_compositions(k, m) <= _markov.MAX_COMPOSITIONS


def composition_absorption_time(p0: np.ndarray, m: int, policy: Policy) -> tuple[float, int]:
    """Exact mean time until one state is left under a policy; (mean, transient states)."""
    comps, matrix = _policy_composition_chain(p0.size, m, policy)
    transient = np.count_nonzero(comps, axis=1) >= 2
    if not transient.any():
        return 1.0, 0
    q = matrix[np.ix_(transient, transient)]
    t = np.linalg.solve(np.eye(q.shape[0]) - q, np.ones(q.shape[0]))
    first = np.exp(_markov._multinomial_log_pmf(comps[transient], p0[None, :]))[0]
    return float(1.0 + first @ t), int(transient.sum())


# ---------------------------------------------------------------------------------------------
# Monte Carlo fallback


def monte_carlo_paths(
    p0: np.ndarray, m: int, record: np.ndarray, policy: Policy, num_replicates: int, seed: int
) -> np.ndarray:
    """(len(record), R, K) frequencies from the simulator (generations ``record``, sorted)."""
    from collapse_theory.categorical.simulate import simulate

    num_replicates = check_int("num_replicates", num_replicates, minimum=2)
    n_max = int(record[-1]) if record.size else 0
    run = simulate(
        p0,
        m,
        n_max,
        num_replicates=num_replicates,
        record=record.tolist(),
        seed=seed,
        policy=policy,
    )
    return run["p"]


def monte_carlo_absorption(
    p0: np.ndarray, m: int, policy: Policy, num_replicates: int, seed: int, max_horizon: int
) -> tuple[float, float]:
    """Mean and standard error of the absorption time of ``num_replicates`` chains, run with a
    horizon that doubles from 4M until every chain is absorbed (at most ``max_horizon``)."""
    from collapse_theory.categorical.simulate import simulate

    num_replicates = check_int("num_replicates", num_replicates, minimum=2)
    horizon = min(4 * m, max_horizon)
    while True:
        run = simulate(p0, m, horizon, num_replicates=num_replicates, record="last", seed=seed,
                       policy=policy)  # fmt: skip
        absorbed = run["absorbed_at"]
        if np.all(absorbed >= 0):
            return mean_se(absorbed.astype(np.float64))
        if horizon >= max_horizon:
            raise InputError(
                f"under {policy!r} {np.mean(absorbed < 0):.1%} of {num_replicates} chains with "
                f"num_samples={m} are not absorbed within {horizon} generations (the limit): "
                "the mean absorption time is not estimated; use simulate(..., policy=...) and "
                "its 'absorbed_at' with a horizon of your choice"
            )
        horizon = min(2 * horizon, max_horizon)


def monte_carlo_estimate(samples: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and standard error over axis 1 (replicates)."""
    return mean_se(samples, axis=1)


def as_result(values: np.ndarray, gens: np.ndarray) -> np.float64 | np.ndarray:
    """Reshape values over the sorted unique generations back to the shape of ``gens``."""
    record = np.unique(gens)
    return scalar_or_array(values[np.searchsorted(record, gens)])
