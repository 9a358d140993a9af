r"""Exact Markov-chain machinery for the categorical model (docs/theory.md §1.1, §1.4, §1.6, §1.9).

Two tools:

- :func:`composition_chain`: the full K-state chain on compositions of M into K parts (dense
  multinomial transition matrix), for brute-force checks on tiny M and K.
- :func:`lumped_loss_probability` / :func:`lumped_distribution`: the lumped 2-state chain (the
  count of a state, or of a set of states, is :math:`\mathrm{Bin}(M_i, \text{current fraction})`)
  propagated exactly **without** the dense :math:`(M+1)^2` matrix. Only the range of counts where
  the distribution is non-negligible is kept, and for each source count only the band of target
  counts where :math:`\mathrm{Bin}(M, j/M)` has mass. Kept entries are exact binomial
  probabilities, so the truncated kernel is entrywise below the true kernel; the probability mass
  the truncation discards is summed exactly as it happens and, because a stochastic kernel is an
  :math:`\ell_1` contraction, bounds the error of every computed probability.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike
from scipy.special import gammaln

from collapse_theory._validate import (
    InputError,
    check_generations,
    check_horizon,
    check_int,
    check_probability,
    check_real,
    scalar_or_array,
)
from collapse_theory.categorical import _markov_numba as _kern
from collapse_theory.rng import default_num_threads
from collapse_theory.schedules import Constant, ScheduleLike, as_schedule, constant_size

__all__ = [
    "LumpedDistribution",
    "composition_chain",
    "lumped_distribution",
    "lumped_loss_probability",
    "num_compositions",
    "propagate",
]

#: Largest number of compositions for which a dense composition chain is built (memory S^2 * 8).
MAX_COMPOSITIONS = 6000
#: Default total truncation budget of the banded propagation (the rounding allowance comes on top).
DEFAULT_TOLERANCE = 1e-13
#: Floating-point allowance added to the error bound per propagated generation.
ROUNDING_PER_STEP = 2.0 * np.finfo(float).eps
#: Refuse banded propagations estimated to need more multiply-adds than this.
MAX_WORK = 4e10
#: Refuse banded propagations whose cached kernel rows would exceed this many float64 values.
MAX_ROW_VALUES = 64 * 2**20
#: Largest M for which the mirror-symmetric kernel (two length-(M+1) buffers per step) is used.
MAX_SYMMETRIC = 10**7
_Z = 9.0  # band half-width in standard deviations used by the work estimate


def num_compositions(num_states: int, num_samples: int) -> int:
    """Number of compositions of M into K non-negative parts, :math:`\\binom{M+K-1}{K-1}`.

    The number of states of the exact K-state chain on counts (docs/theory.md §1.6).

    Parameters
    ----------
    num_states : int
        Number of parts K >= 1.
    num_samples : int
        The total M >= 0 being split.

    Returns
    -------
    int
        :math:`\\binom{M+K-1}{K-1}` (an exact Python int).
    """
    return math.comb(num_samples + num_states - 1, num_states - 1)


def _compositions(num_states: int, total: int) -> np.ndarray:
    rows = []
    for bars in itertools.combinations(range(total + num_states - 1), num_states - 1):
        previous = -1
        parts = []
        for b in bars:
            parts.append(b - previous - 1)
            previous = b
        parts.append(total + num_states - 1 - previous - 1)
        rows.append(parts)
    return np.array(rows, dtype=np.int64).reshape(-1, num_states)


def _multinomial_log_pmf(counts: np.ndarray, probs: np.ndarray) -> np.ndarray:
    """log Mult(counts; M, probs) for every pair: probs (S, K), counts (T, K) -> (S, T)."""
    total = counts[0].sum()
    with np.errstate(divide="ignore"):
        logp = np.log(probs)
    logp = np.where(probs > 0, logp, -1e250)  # 0 * (-1e250) = 0; c * (-1e250) -> exp = 0
    log_coef = gammaln(total + 1.0) - gammaln(counts + 1.0).sum(axis=1)
    return logp @ counts.T.astype(np.float64) + log_coef[None, :]


def composition_chain(num_states: int, num_samples: int) -> tuple[np.ndarray, np.ndarray]:
    r"""The full K-state Wright–Fisher chain on compositions of M (docs/theory.md §1.1, §1.5, §1.6).

    States are the count vectors :math:`c \in \mathbb{N}^K` with :math:`\sum_i c_i = M`
    (there are :math:`\binom{M+K-1}{K-1}` of them); the transition matrix is

    .. math:: P_{c, c'} = \mathrm{Mult}(c'; M, c / M).

    Meant for brute-force checks on tiny M and K (dense, :math:`O(S^2)` memory).

    Parameters
    ----------
    num_states : int
        K >= 2.
    num_samples : int
        M >= 1.

    Returns
    -------
    compositions : ndarray, shape (S, K), int64
        The states, in lexicographic order of their stars-and-bars code.
    matrix : ndarray, shape (S, S)
        Row-stochastic transition matrix.

    Raises
    ------
    ValueError
        If K < 2, M < 1, or there are more than ``MAX_COMPOSITIONS`` states.

    Examples
    --------
    >>> comps, P = composition_chain(3, 8)
    >>> comps.shape, P.shape
    ((45, 3), (45, 45))
    """
    num_states = check_int("num_states", num_states, minimum=2)
    num_samples = constant_size(num_samples, "composition_chain")
    size = num_compositions(num_states, num_samples)
    if size > MAX_COMPOSITIONS:
        raise InputError(
            f"composition_chain(num_states={num_states}, num_samples={num_samples}) has {size} "
            f"states; at most {MAX_COMPOSITIONS} are built (dense matrix of "
            f"{size * size * 8 / 2**30:.1f} GiB otherwise): use the lumped 2-state chain "
            "(lumped_loss_probability) or simulation instead"
        )
    comps = _compositions(num_states, num_samples)
    matrix = np.exp(_multinomial_log_pmf(comps, comps / num_samples))
    return comps, matrix


# ---------------------------------------------------------------------------------------------
# Absorption times by the fundamental matrix (docs/theory.md §1.6)


def absorption_time_two_state(p: float, num_samples: int) -> float:
    """Exact mean absorption time of the 2-state chain started at fraction p (any p in [0, 1]).

    t = (I - Q)^{-1} 1 on the transient counts 1..M-1; from p, one step to Bin(M, p) first:
    T(p) = 1 + sum_k Bin(k; M, p) t_k (t_0 = t_M = 0).
    """
    from scipy.stats import binom

    m = num_samples
    if p <= 0.0 or p >= 1.0:
        return 0.0
    if m == 1:
        return 1.0
    j = np.arange(1, m)
    k = np.arange(0, m + 1)
    q = binom.pmf(k[None, 1:m], m, (j / m)[:, None])
    t = np.linalg.solve(np.eye(m - 1) - q, np.ones(m - 1))
    first = binom.pmf(k[1:m], m, p)
    return float(1.0 + first @ t)


def absorption_time_compositions(p0: np.ndarray, num_samples: int) -> tuple[float, int]:
    """Exact mean time until one state is left, by the chain on compositions (K = len(p0) >= 2,
    all p0 > 0). Returns (mean, number of transient states)."""
    num_states = p0.size
    comps, matrix = composition_chain(num_states, num_samples)
    transient = np.count_nonzero(comps, axis=1) >= 2
    if not transient.any():  # M = 1: absorbed after the first generation
        return 1.0, 0
    q = matrix[np.ix_(transient, transient)]
    t = np.linalg.solve(np.eye(q.shape[0]) - q, np.ones(q.shape[0]))
    first = np.exp(_multinomial_log_pmf(comps[transient], p0[None, :]))[0]
    return float(1.0 + first @ t), int(transient.sum())


# ---------------------------------------------------------------------------------------------
# Banded propagation of the lumped chain (docs/theory.md §1.4)


class _Sizes:
    """M_i on demand: constant schedules are never materialised."""

    def __init__(self, num_samples: ScheduleLike, n_max: int) -> None:
        schedule = as_schedule(num_samples)
        self.schedule = schedule
        if isinstance(schedule, Constant):
            self.constant: int | None = int(schedule.m)
            self.array = None
        else:
            check_horizon("generations", n_max)
            self.constant = None
            self.array = schedule.sizes(n_max)

    def __getitem__(self, i: int) -> int:
        if self.constant is not None:
            return self.constant
        return int(self.array[i])

    def head(self, n: int) -> np.ndarray:
        if self.constant is not None:
            return np.full(n, self.constant, dtype=np.int64)
        return self.array[:n]


def _horizon(sizes: _Sizes, p: float, n_max: int, tol: float) -> int:
    """Generations after which the transient mass is surely below tol * 1e-3 (or n_max).

    P(not absorbed at n) <= E[H_n] / min H = 2p(1-p) prod(1 - 1/M_i) * M^2 / (2(M-1)) (§1.1).
    """
    target = math.log(tol * 1e-3)
    log_h = math.log(max(2.0 * p * (1.0 - p), 1e-300))
    if sizes.constant is not None:
        m = sizes.constant
        if m == 1:
            return min(n_max, 1)
        slope = math.log1p(-1.0 / m)
        extra = 2.0 * math.log(m) - math.log(2.0 * (m - 1))
        steps = math.ceil((target - log_h - extra) / slope) + 1
        return int(min(n_max, max(steps, 1)))
    arr = sizes.head(n_max).astype(np.float64)
    with np.errstate(divide="ignore"):
        log_prod = log_h + np.cumsum(np.log1p(-1.0 / arr))
        extra = np.where(arr > 1, 2.0 * np.log(arr) - np.log(2.0 * np.maximum(arr - 1, 1)), 0.0)
    below = np.nonzero(log_prod + extra < target)[0]
    return int(below[0] + 1) if below.size else n_max


def _estimate_cost(sizes: _Sizes, p: float, steps: int) -> tuple[float, float]:
    """(multiply-adds, largest cached row storage) of a banded propagation, roughly."""
    if steps <= 1:
        return 0.0, 0.0
    sample = np.unique(np.linspace(1, steps - 1, min(steps - 1, 2000)).astype(np.int64))
    weight = (steps - 1) / sample.size
    arr = sizes.head(steps).astype(np.float64)
    pq = p * (1.0 - p)
    with np.errstate(divide="ignore"):
        decay = np.exp(np.concatenate([[0.0], np.cumsum(np.log1p(-1.0 / arr))]))
    var = pq * (1.0 - decay[sample])  # fraction variance after `sample` generations
    m_prev = arr[sample - 1]
    m_next = arr[np.minimum(sample, steps - 1)]
    width = np.minimum(m_prev + 1, 2 * _Z * m_prev * np.sqrt(var) + 3)
    xmax = np.minimum(0.5, min(p, 1 - p) + _Z * np.sqrt(var))
    band = np.minimum(m_next + 1, 2 * _Z * np.sqrt(m_next * xmax * (1 - xmax)) + 2 * _Z + 3)
    rebuild = 1.0 if sizes.constant is not None else 4.0
    work = float(np.sum(width * band) * weight * rebuild)
    storage = float(np.max(width * band * 1.5))
    return work, storage


class _RowCache:
    def __init__(self, row_tol: float) -> None:
        self.row_tol = row_tol
        self.key: tuple[int, int] | None = None
        self.lo = 1
        self.hi = 0

    def ensure(self, m_prev: int, m_next: int, lo: int, hi: int) -> None:
        if self.key == (m_prev, m_next):
            if self.lo <= lo and hi <= self.hi:
                return
            new_lo, new_hi = min(lo, self.lo), max(hi, self.hi)
            slack = max(16, (new_hi - new_lo) // 4)
            lo, hi = max(1, new_lo - slack), min(m_prev - 1, new_hi + slack)
        self.key = (m_prev, m_next)
        self.lo, self.hi = lo, hi
        self.rows = _kern.build_rows(m_next, m_prev, lo, hi, self.row_tol)


@dataclass
class _Path:
    lost: np.ndarray
    survived: np.ndarray
    dropped: np.ndarray
    bound: np.ndarray
    distributions: list | None


def _split_first_row(start: int, values: np.ndarray, m: int):
    end = start + values.size - 1
    a, b = 0, values.size
    to_zero = to_full = 0.0
    if start == 0:
        to_zero = float(values[0])
        a = 1
    if end == m and b > a:
        to_full = float(values[-1])
        b -= 1
    return values[a:b].copy(), start + a, to_zero, to_full


def propagate(
    p: float,
    num_samples: ScheduleLike,
    record: np.ndarray,
    *,
    tol: float = DEFAULT_TOLERANCE,
    distributions: bool = False,
    check_cost: bool = True,
) -> _Path:
    """Run the banded lumped chain from fraction p; quantities at the sorted generations ``record``.

    Internal workhorse of :func:`lumped_loss_probability`, :func:`lumped_distribution` and the
    categorical tail law (``tails.py``, from the distributions). The chain is the lumped
    two-state Wright–Fisher chain of docs/theory.md §1.4; rows are cut to a band whose dropped
    mass is accumulated into the error bound.

    Parameters
    ----------
    p : float
        Initial fraction :math:`p_{0,A}` in [0, 1].
    num_samples : int or schedule
        Sample size M (or schedule M_i) of each generation, >= 1.
    record : numpy.ndarray of int
        Sorted generations n >= 0 at which the quantities are recorded.
    tol : float, default DEFAULT_TOLERANCE
        Total truncation budget of the band (> 0); the rounding allowance comes on top.
    distributions : bool, default False
        Also keep the whole law at each recorded generation.
    check_cost : bool, default True
        Refuse (InputError) a propagation estimated to exceed ``MAX_WORK`` multiply-adds or
        ``MAX_ROW_VALUES`` cached row values.

    Returns
    -------
    _Path
        Arrays over ``record``: ``lost`` (:math:`P(p_{n,A} = 0)`), ``survived``
        (:math:`P(p_{n,A} > 0)`), ``dropped`` (truncated mass), ``bound`` (dropped mass plus the
        rounding allowance: an error bound on each probability) and ``distributions`` (None
        unless asked; per generation the tuple (M, transient pmf, first count, P(0), P(1))).
    """
    record = np.asarray(record, dtype=np.int64)
    nrec = record.size
    lost = np.zeros(nrec)
    survived = np.zeros(nrec)
    dropped_out = np.zeros(nrec)
    dists: list | None = [] if distributions else None
    n_max = int(record[-1]) if nrec else 0
    sizes = _Sizes(num_samples, n_max)

    # state: transient v over counts v_lo.. (of M_{g-1}); absorbed masses; dropped mass
    state = {"lost": 0.0, "full": 0.0, "dropped": 0.0}
    v = np.zeros(0)
    v_lo = 1
    ri = 0

    def write(g: int, m: int | None) -> None:
        nonlocal ri
        while ri < nrec and record[ri] == g:
            lost[ri] = state["lost"]
            survived[ri] = float(v.sum()) + state["full"] if m is not None else float(p > 0.0)
            dropped_out[ri] = state["dropped"]
            if m is None:  # generation 0: a point mass at p
                if dists is not None:
                    dists.append((None, np.zeros(0), 1, state["lost"], state["full"]))
            elif dists is not None:
                dists.append((m, v.copy(), v_lo, state["lost"], state["full"]))
            ri += 1

    if p <= 0.0:
        state["lost"] = 1.0
    elif p >= 1.0:
        state["full"] = 1.0
    write(0, None)
    if n_max == 0 or p <= 0.0 or p >= 1.0:
        for g in record[ri:]:
            write(int(g), sizes[int(g) - 1] if g > 0 else None)
        return _finish(lost, survived, dropped_out, record, dists)

    horizon = _horizon(sizes, p, n_max, tol)
    if check_cost:
        work, storage = _estimate_cost(sizes, p, horizon)
        if work > MAX_WORK or storage > MAX_ROW_VALUES:
            raise InputError(
                f"the exact (banded) loss probability for p={p!r}, num_samples="
                f"{sizes.schedule!r}, up to generation {n_max} would need about {work:.2g} "
                f"multiply-adds and {storage * 8 / 2**20:.0f} MiB of kernel rows (limits "
                f"{MAX_WORK:.0g} and {MAX_ROW_VALUES * 8 / 2**20:.0f} MiB): use "
                "method='galton-watson' or method='feller' (accurate for rare states), "
                "fewer generations, or a smaller num_samples"
            )
    row_tol = tol / (2.0 * n_max)
    trim_tol = tol / (2.0 * n_max)
    m0 = sizes[0]
    start, values, drop = _kern.single_row(m0, p, 1.0 - p, row_tol)
    v, v_lo, z, f = _split_first_row(start, values, m0)
    z = math.exp(m0 * math.log1p(-p))  # (1 - p)^M_0 exactly, even where the band dropped it
    state["lost"], state["full"], state["dropped"] = z, f, drop
    cache = _RowCache(row_tol)
    g = 1
    write(g, m0)
    while g < n_max:
        if v.size == 0:
            break
        m_prev, m_next = sizes[g - 1], sizes[g]
        v_hi = v_lo + v.size - 1
        if m_prev == m_next and v_hi > m_prev // 2 and m_prev <= MAX_SYMMETRIC:
            r_lo, r_hi = _kern.symmetric_row_range(v_lo, v_hi, m_prev)
            cache.ensure(m_prev, m_next, r_lo, r_hi)
            kernel = _kern.step_symmetric
        else:
            cache.ensure(m_prev, m_next, v_lo, v_hi)
            kernel = _kern.step
        starts, lengths, offsets, data, drops = cache.rows
        v, v_lo, z, f, d = kernel(
            v, v_lo, cache.lo, starts, lengths, offsets, data, drops, m_next, trim_tol
        )
        state["lost"] += z
        state["full"] += f
        state["dropped"] += d
        g += 1
        write(g, m_next)
    for gg in record[ri:]:  # absorbed: nothing changes any more
        write(int(gg), sizes[int(gg) - 1])
    return _finish(lost, survived, dropped_out, record, dists)


def _finish(lost, survived, dropped, record, dists) -> _Path:
    steps = record.astype(np.float64)
    bound = dropped + ROUNDING_PER_STEP * steps * (record > 0)
    lost = np.clip(lost, 0.0, 1.0)
    survived = np.clip(survived, 0.0, 1.0)
    return _Path(lost, survived, dropped, bound, dists)


def _validate_tol(tol: object) -> float:
    tol = check_real("tol", tol, minimum=0.0, maximum=1e-3, strict_minimum=True)
    if tol < 1e-18:
        raise InputError(f"tol must be >= 1e-18 (below rounding); got {tol}")
    return tol


#: Largest constant M for which loss probabilities use the backward (hitting-probability) pass.
MAX_BACKWARD = 50_000


def _loss_backward(
    p_values: np.ndarray, m: int, record: np.ndarray, tol: float
) -> tuple[np.ndarray, np.ndarray]:
    r"""P(p_{n,A} = 0) for many initial fractions at once, constant M (docs/theory.md §1.4).

    Propagates the hitting probabilities :math:`h_s(j) = P(\text{count hits 0 within } s
    \text{ steps} \mid \text{count } j)` backwards, :math:`h_{s+1} = P h_s`, :math:`h_0 = e_0`,
    and reads :math:`P(p_{n,A}=0) = \sum_k \mathrm{Bin}(k; M, p)\, h_{n-1}(k)` for every p off
    one pass. The truncated kernel and the zeroed negligible entries make each computed h a lower
    bound, and since P is a sup-norm contraction the error after s steps is at most the sum of the
    per-step truncations (the largest dropped row mass plus the zeroing threshold).

    Returns arrays of shape (len(p_values), len(record)).
    """
    n_max = int(record[-1]) if record.size else 0
    lost = np.zeros((p_values.size, record.size))
    bound = np.zeros((p_values.size, record.size))
    at_zero = record == 0
    lost[:, at_zero] = (p_values <= 0.0)[:, None]
    if n_max == 0:
        return lost, bound
    row_tol = tol / (2.0 * n_max)
    firsts = [_kern.single_row(m, float(p), 1.0 - float(p), row_tol) for p in p_values]
    with np.errstate(divide="ignore"):  # p = 1 gives (1 - p)^M = 0
        first_exact = np.exp(m * np.log1p(-p_values))  # (1-p)^M with relative accuracy
    half = m // 2
    built = min(half, 64)
    rows = _kern.build_rows(m, m, 1, built, row_tol)
    h = np.zeros(m + 1)
    h[0] = 1.0
    support = 0
    error = 0.0
    slot = 0
    threads = default_num_threads()
    pool = ThreadPoolExecutor(threads) if threads > 1 and m >= 2000 else None

    def read(slot: int, generation: int, error: float) -> None:
        """Record the loss probabilities at ``generation`` from h = h_{generation - 1}."""
        for i, (start, values, drop) in enumerate(firsts):
            # (1 - p)^M exactly for the count 0, then the banded counts k >= 1
            lo, hi = max(start, 1), min(start + values.size, support + 1)
            inner = float(values[lo - start : hi - start] @ h[lo:hi]) if hi > lo else 0.0
            lost[i, slot] = first_exact[i] + inner
            bound[i, slot] = drop + error + ROUNDING_PER_STEP * generation

    while slot < record.size and record[slot] == 0:
        slot += 1
    for s in range(n_max):
        while slot < record.size and record[slot] == s + 1:
            read(slot, s + 1, error)
            slot += 1
        if slot == record.size:
            break
        # rows needed: every source j whose band reaches a count <= support
        while True:
            starts = rows[0]
            j_max = int(np.searchsorted(starts, support, side="right"))
            if j_max < built or built == half:
                break
            built = min(half, 2 * built)
            rows = _kern.build_rows(m, m, 1, built, row_tol)
        if j_max == built == half:
            j_max = m - 1  # the mirrored rows take over beyond M/2
        previous = h
        h, support, step_error = _backward_step(h, support, j_max, rows, m, row_tol, pool)
        error += step_error
        if np.array_equal(h, previous):
            # A fixed point in floating point (the chain is absorbed to rounding): every later
            # step repeats this one, adding the same step error to the bound.
            for later in range(slot, record.size):
                steps_after = int(record[later]) - (s + 2)
                read(later, int(record[later]), error + steps_after * step_error)
            break
    if pool is not None:
        pool.shutdown()
    lost = np.clip(lost, 0.0, 1.0)
    return lost, bound


def _backward_step(h, support, j_max, rows, m, thr, pool):
    """One backward step, the rows split between two threads by their stored length."""
    new_h = np.zeros(m + 1)
    new_h[0] = 1.0
    hr = h[::-1].copy()
    last = min(j_max, m // 2, rows[0].size)
    if pool is None or last < 64:
        drop = _kern.backward_rows(h, hr, support, j_max, 1, last, *rows, m, new_h)
    else:
        work = np.cumsum(rows[1][:last])
        middle = int(np.searchsorted(work, work[-1] / 2)) + 1
        parts = [(1, middle), (middle + 1, last)]
        futures = [
            pool.submit(_kern.backward_rows, h, hr, support, j_max, lo, hi, *rows, m, new_h)
            for lo, hi in parts
        ]
        drop = max(f.result() for f in futures)
    new_support, zeroed = _kern.trim_support(new_h, j_max, thr)
    return new_h, new_support, drop + (thr if zeroed else 0.0)


def _per_value(
    p: np.ndarray,
    gens: np.ndarray,
    fn: Callable[[float, np.ndarray], Sequence[np.ndarray]],
) -> tuple[np.ndarray, ...]:
    """Evaluate fn(p_value, sorted unique gens) -> tuple of arrays, broadcasting p with gens."""
    pb, gb = np.broadcast_arrays(p, gens)
    outs = None
    flat_p = pb.ravel()
    flat_g = gb.ravel()
    for value in np.unique(flat_p):
        mask = flat_p == value
        ug, inverse = np.unique(flat_g[mask], return_inverse=True)
        results = fn(float(value), ug)
        if outs is None:
            outs = [np.empty(flat_p.size) for _ in results]
        for out, res in zip(outs, results, strict=True):
            out[mask] = res[inverse]
    if outs is None:  # empty input
        return (np.empty(pb.shape), np.empty(pb.shape))
    return tuple(o.reshape(pb.shape) for o in outs)


def lumped_loss_probability(
    p: ArrayLike,
    num_samples: ScheduleLike,
    generations: ArrayLike,
    *,
    tol: float = DEFAULT_TOLERANCE,
) -> tuple[np.ndarray, np.ndarray]:
    r"""Exact :math:`P(p_{n,A} = 0)` with a rigorous truncation error bound (docs/theory.md §1.4).

    The lumped count is a 2-state Wright–Fisher chain: :math:`C_1 \sim \mathrm{Bin}(M_0, p)`
    and :math:`C_{i+1} \mid C_i = j \sim \mathrm{Bin}(M_i, j / M_{i-1})`, so

    .. math:: P(p_{n,A} = 0) = [\, b(p)^\top P_1 \cdots P_{n-1} \,]_0 .

    The product is propagated on the band of counts that carries all but ``tol / (2n)`` of each
    kernel row and of each generation's distribution; the dropped mass is summed exactly.
    Kept entries are exact, so the result is a lower bound and ``result + error_bound`` an upper
    bound; ``error_bound`` also includes a floating-point allowance of
    ``ROUNDING_PER_STEP`` per generation. The cost does not scale with M when p is small.

    Parameters
    ----------
    p : array_like
        Initial probability of the state (or lumped set), in [0, 1]; broadcast with generations.
    num_samples : int or schedule
        M or a schedule M_0, M_1, ...
    generations : int or array_like of int
        n >= 0.
    tol : float
        Truncation budget (default 1e-13).

    Returns
    -------
    prob : numpy.float64 or ndarray
        :math:`P(p_{n,A} = 0)`, shape ``broadcast(p, generations)`` (a float for scalars).
    error_bound : numpy.float64 or ndarray
        Upper bound on ``|prob - exact|`` (same shape).

    Raises
    ------
    ValueError
        On invalid input, or when the propagation would be too expensive (large M with p not
        small): use ``loss_probability(..., method="galton-watson" | "feller")``.

    Examples
    --------
    >>> prob, err = lumped_loss_probability(0.1, 10_000, 1000)
    >>> bool(err < 1e-12)
    True
    """
    p = check_probability("p", p)
    gens = check_generations("generations", generations)
    as_schedule(num_samples)
    tol = _validate_tol(tol)

    schedule = as_schedule(num_samples)
    if isinstance(schedule, Constant) and schedule.m <= MAX_BACKWARD and p.size * gens.size:
        pb, gb = np.broadcast_arrays(p, gens)
        values, p_index = np.unique(pb, return_inverse=True)
        record, g_index = np.unique(gb, return_inverse=True)
        lost, bound = _loss_backward(values, schedule.m, record, tol)
        lost, bound = lost[p_index, g_index], bound[p_index, g_index]
        return scalar_or_array(lost.reshape(pb.shape)), scalar_or_array(bound.reshape(pb.shape))

    def one(value: float, ug: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        path = propagate(value, num_samples, ug, tol=tol)
        return path.lost, path.bound

    lost, bound = _per_value(p, gens, one)
    return scalar_or_array(lost), scalar_or_array(bound)


@dataclass(frozen=True)
class LumpedDistribution:
    """Distribution of the lumped fraction :math:`p_{n,A}` at one generation (docs/theory.md §1.4).

    :attr:`fractions` and :attr:`probabilities` give the law: 0, the transient fractions
    ``(first_count + i) / num_samples`` (probabilities ``pmf``), and 1, up to ``error_bound`` in
    total variation. At generation 0 the law is a point mass at the initial fraction
    (``num_samples`` is None).

    Attributes
    ----------
    generation : int
        The generation n >= 0 of the law.
    initial_fraction : float
        The initial fraction :math:`p_{0,A}` in [0, 1].
    num_samples : int or None
        Sample size :math:`M_{n-1}` of the last fit (the denominator of the fractions); None at
        n = 0.
    first_count : int
        Count of the first transient support point (``pmf[0]``).
    pmf : numpy.ndarray
        Probabilities of the transient fractions ``(first_count + i) / num_samples``.
    prob_zero : float
        :math:`P(p_{n,A} = 0)`, the probability that every state of A is lost.
    prob_one : float
        :math:`P(p_{n,A} = 1)`.
    error_bound : float
        Bound on the total-variation error of the law (truncation plus rounding).
    """

    generation: int
    initial_fraction: float
    num_samples: int | None
    first_count: int
    pmf: np.ndarray
    prob_zero: float
    prob_one: float
    error_bound: float

    @property
    def fractions(self) -> np.ndarray:
        """Support points: 0, the transient fractions, 1 (or the initial point at n = 0)."""
        if self.num_samples is None:
            return np.array([self.initial_fraction])
        inner = (self.first_count + np.arange(self.pmf.size)) / self.num_samples
        return np.concatenate([[0.0], inner, [1.0]])

    @property
    def probabilities(self) -> np.ndarray:
        """Probabilities matching :attr:`fractions`."""
        if self.num_samples is None:
            return np.array([1.0])
        return np.concatenate([[self.prob_zero], self.pmf, [self.prob_one]])


def lumped_distribution(
    p: float, num_samples: ScheduleLike, generation: int, *, tol: float = DEFAULT_TOLERANCE
) -> LumpedDistribution:
    r"""Exact law of the lumped fraction :math:`p_{n,A}` after n generations (docs/theory.md §1.4, §1.9).

    Same banded propagation as :func:`lumped_loss_probability`; returns the whole distribution
    :math:`b(p)^\top P_1\cdots P_{n-1}`.

    Parameters
    ----------
    p : float
        Initial fraction in [0, 1].
    num_samples : int or schedule
        M or a schedule.
    generation : int
        n >= 0.
    tol : float
        Truncation budget.

    Returns
    -------
    LumpedDistribution

    Raises
    ------
    ValueError, TypeError
        On invalid input or too expensive a propagation.

    Examples
    --------
    >>> d = lumped_distribution(0.3, 20, 5)
    >>> round(float(d.probabilities.sum()), 12)
    1.0
    """
    p_arr = check_probability("p", p)
    if p_arr.ndim != 0:
        raise InputError(f"p must be a scalar probability; got shape {p_arr.shape}")
    generation = check_int("generation", generation, minimum=0)
    tol = _validate_tol(tol)
    path = propagate(float(p_arr), num_samples, np.array([generation]), tol=tol, distributions=True)
    m, v, v_lo, lost, full = path.distributions[0]
    pv = float(p_arr)
    if m is None:
        return LumpedDistribution(
            0, pv, None, 0, np.zeros(0), float(pv == 0.0), float(pv == 1.0), 0.0
        )
    return LumpedDistribution(
        generation, pv, int(m), int(v_lo), v, float(lost), float(full), float(path.bound[0])
    )
