"""Numba kernels for the categorical (Wright–Fisher) simulator.

Each generation's multinomial is drawn by conditional binomials over the states that can still be
drawn, largest first, stopping as soon as the sample is used up: the cost is O(alive states) per
step and flat in the sample size M (see :func:`collapse_theory._samplers.binomial`).

:func:`simulate_block` has one signature (:data:`SIGNATURE`), compiled at its first call: the
outputs may be contiguous or strided views of the run's arrays.
"""

from __future__ import annotations

import numpy as np
from numba import njit, types

from collapse_theory._samplers import RNG, binomial, one_signature
from collapse_theory.regimes import ACCUMULATE, FRESH_MIX, FRESH_SPLIT, REPLACE


@njit(cache=True, nogil=True, inline="always")
def multinomial(rng, total, weights, states, num_states, suffix, counts) -> None:
    """counts[states[:num_states]] ~ Multinomial(total, weights / sum(weights)) over those states.

    ``weights`` need not be normalised: state j is drawn with probability weights[j] / suffix[j]
    given the draws before it, with ``suffix`` the backward cumulative sum (accurate for tiny
    tails). Stops early once ``total`` is used up.
    """
    acc = 0.0
    for j in range(num_states - 1, -1, -1):
        acc += weights[states[j]]
        suffix[j] = acc
    remaining = total
    for j in range(num_states):
        s = states[j]
        if remaining == 0:
            counts[s] = 0
            continue
        if j == num_states - 1 or weights[s] >= suffix[j]:
            counts[s] = remaining
            remaining = 0
            continue
        draw = binomial(rng, remaining, weights[s] / suffix[j])
        counts[s] = draw
        remaining -= draw


@njit(cache=True, nogil=True, inline="always")
def _record(slot, r, p, out_p) -> None:
    """out_p[slot, r, :] = p, as a loop (-1: generation not recorded)."""
    if slot >= 0:
        for j in range(p.size):
            out_p[slot, r, j] = p[j]


@njit(cache=True, nogil=True)
def _simulate_block(
    rng,
    p0,
    sizes,
    regime,
    fraction,
    fresh_counts,
    pseudo_count,
    record_slot,
    out_p,
    out_absorbed,
):
    """Simulate ``out_p.shape[1]`` replicates of the categorical chain.

    ``record_slot[g]`` is the row of ``out_p`` for generation g, or -1 if g is not recorded.
    ``out_absorbed[r]`` receives the first generation with a single surviving state (-1: none).
    """
    p0 = p0.copy()  # contiguous, like the work arrays: one signature for multinomial
    num_states = p0.size
    num_generations = sizes.size
    num_replicates = out_p.shape[1]
    # States that can ever be drawn: the support of p0 (all states once smoothing is on),
    # largest first so that the conditional binomials use the sample up early.
    order = np.argsort(-p0, kind="mergesort")
    num_support = 0
    for j in range(num_states):
        if p0[order[j]] > 0.0 or pseudo_count > 0.0:
            num_support += 1
    # Without smoothing, a state that the model gives probability 0 can come back only through
    # fresh draws from p0; in Replace and Accumulate it is gone for good and is dropped.
    prune = pseudo_count == 0.0 and (regime == REPLACE or regime == ACCUMULATE)
    denominator_extra = pseudo_count * num_states

    p = np.empty(num_states)
    weights = np.empty(num_states)
    counts = np.zeros(num_states, dtype=np.int64)
    fresh = np.zeros(num_states, dtype=np.int64)
    pool = np.zeros(num_states)
    suffix = np.empty(num_states)
    alive = np.empty(num_states, dtype=np.int64)

    initial_survivors = 0
    for j in range(num_states):
        if p0[j] > 0.0:
            initial_survivors += 1
    for r in range(num_replicates):
        for j in range(num_states):
            p[j] = p0[j]
            pool[j] = 0.0
        pool_total = 0.0
        num_alive = num_support
        for j in range(num_support):
            alive[j] = order[j]
        absorbed = 0 if initial_survivors == 1 else -1
        _record(record_slot[0], r, p, out_p)
        for g in range(num_generations):
            total = sizes[g]
            if regime == FRESH_MIX:
                for j in range(num_alive):
                    s = alive[j]
                    weights[s] = (1.0 - fraction) * p[s] + fraction * p0[s]
                multinomial(rng, total, weights, alive, num_alive, suffix, counts)
            elif regime == FRESH_SPLIT:
                num_fresh = fresh_counts[g]
                multinomial(rng, num_fresh, p0, alive, num_alive, suffix, fresh)
                multinomial(rng, total - num_fresh, p, alive, num_alive, suffix, counts)
                for j in range(num_alive):
                    counts[alive[j]] += fresh[alive[j]]
            else:
                multinomial(rng, total, p, alive, num_alive, suffix, counts)

            if regime == ACCUMULATE:
                for j in range(num_alive):
                    pool[alive[j]] += counts[alive[j]]
                pool_total += total
                scale = 1.0 / (pool_total + denominator_extra)
                for j in range(num_alive):
                    s = alive[j]
                    p[s] = (pool[s] + pseudo_count) * scale
            else:
                scale = 1.0 / (total + denominator_extra)
                for j in range(num_alive):
                    s = alive[j]
                    p[s] = (counts[s] + pseudo_count) * scale

            survivors = 0
            kept = 0
            for j in range(num_alive):
                s = alive[j]
                if p[s] > 0.0:
                    survivors += 1
                    if prune:
                        alive[kept] = s
                        kept += 1
            if prune:
                num_alive = kept
            if absorbed < 0 and survivors == 1:
                absorbed = g + 1
            _record(record_slot[g + 1], r, p, out_p)
            if prune and num_alive == 1:
                # Absorbed for good: the remaining generations repeat this delta.
                for later in range(g + 2, num_generations + 1):
                    _record(record_slot[later], r, p, out_p)
                break
        out_absorbed[r] = absorbed


_F64 = types.float64
_I64 = types.int64
#: The signature of :func:`simulate_block`: (rng, p0, sizes, regime, fraction, fresh_counts,
#: pseudo_count, record_slot, out_p, out_absorbed); arrays of any layout.
SIGNATURE = types.void(
    RNG, _F64[:], _I64[:], _I64, _F64, _I64[:], _F64, _I64[:], _F64[:, :, :], _I64[:]
)
simulate_block = one_signature(_simulate_block, SIGNATURE)
