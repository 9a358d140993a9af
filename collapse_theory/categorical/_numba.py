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
from collapse_theory.policies import MIN_P, TEMPERATURE, TOP_K, TOP_P_SLACK
from collapse_theory.regimes import ACCUMULATE, FRESH_MIX, FRESH_SPLIT, REPLACE, WEIGHTED


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
def _normalise(weights, states, num_states) -> None:
    total = 0.0
    for j in range(num_states):
        total += weights[states[j]]
    for j in range(num_states):
        weights[states[j]] /= total


@njit(
    cache=True, nogil=True, inline="always"
)  # inlined: no second signature for other literals or layouts
def apply_policy(p, states, num_states, codes, params, weights, ranked) -> None:
    """weights[states[:num_states]] = T(p) for the policy stages (codes, params) (docs/theory.md §8.1).

    Same maps and tie rule as :mod:`collapse_theory.policies`: ranking by decreasing
    probability, equal ones by increasing state index; ``ranked`` is scratch of length >= K.
    """
    for j in range(num_states):
        weights[states[j]] = p[states[j]]
    for stage in range(codes.size):
        code = codes[stage]
        param = params[stage]
        largest = 0.0
        for j in range(num_states):
            largest = max(largest, weights[states[j]])
        if code == TEMPERATURE:
            log_largest = np.log(largest)
            for j in range(num_states):
                s = states[j]
                if weights[s] > 0.0:
                    weights[s] = np.exp((np.log(weights[s]) - log_largest) / param)
        elif code == MIN_P:
            threshold = param * largest
            for j in range(num_states):
                s = states[j]
                if weights[s] < threshold:
                    weights[s] = 0.0
        else:  # TOP_K, TOP_P: keep a prefix of the ranking
            for j in range(num_states):
                ranked[j] = states[j]
            index_order = np.sort(ranked[:num_states])
            keys = np.empty(num_states)
            for j in range(num_states):
                keys[j] = -weights[index_order[j]]
            order = np.argsort(keys, kind="mergesort")
            keep = 0
            if code == TOP_K:
                keep = int(param)
            else:
                cumulative = 0.0
                keep = 1
                for j in range(num_states):
                    cumulative += weights[index_order[order[j]]]
                    if cumulative < param - TOP_P_SLACK:
                        keep += 1
            for j in range(keep, num_states):
                weights[index_order[order[j]]] = 0.0
        _normalise(weights, states, num_states)


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
    policy_codes,
    policy_params,
    out_p,
    out_absorbed,
):
    """Simulate ``out_p.shape[1]`` replicates of the categorical chain.

    With policy stages (``policy_codes``, docs/theory.md §8.1) every fitted model (generation
    g >= 1) generates from T(p); dataset 0 comes from p0 as is. Without stages the draws are
    exactly those of the plain chain.

    WeightedFresh (``regime == WEIGHTED``, docs/theory.md §9.1): ``fraction`` is the weight w and
    ``fresh_counts[g]`` the number n of fresh draws; p' = (1 - w) (C + lambda) / (M + K lambda)
    + w (F + lambda) / (n + K lambda), C ~ Mult(M, model), F ~ Mult(n, p0).

    ``record_slot[g]`` is the row of ``out_p`` for generation g, or -1 if g is not recorded.
    ``out_absorbed[r]`` receives the first generation with a single surviving state (-1: none).
    """
    p0 = p0.copy()  # contiguous, like the work arrays: one signature for multinomial
    policy_codes = policy_codes.copy()  # contiguous: one signature for apply_policy
    policy_params = policy_params.copy()
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
    ranked = np.empty(num_states, dtype=np.int64)
    sampled = np.empty(num_states)
    with_policy = policy_codes.size > 0

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
            model = p
            if with_policy and g > 0:
                apply_policy(p, alive, num_alive, policy_codes, policy_params, sampled, ranked)
                model = sampled
            if regime == FRESH_MIX:
                for j in range(num_alive):
                    s = alive[j]
                    weights[s] = (1.0 - fraction) * model[s] + fraction * p0[s]
                multinomial(rng, total, weights, alive, num_alive, suffix, counts)
            elif regime == FRESH_SPLIT:
                num_fresh = fresh_counts[g]
                multinomial(rng, num_fresh, p0, alive, num_alive, suffix, fresh)
                multinomial(rng, total - num_fresh, model, alive, num_alive, suffix, counts)
                for j in range(num_alive):
                    counts[alive[j]] += fresh[alive[j]]
            else:
                multinomial(rng, total, model, alive, num_alive, suffix, counts)

            if regime == WEIGHTED:
                num_real = fresh_counts[g]
                multinomial(rng, num_real, p0, alive, num_alive, suffix, fresh)
                synthetic_scale = (1.0 - fraction) / (total + denominator_extra)
                real_scale = fraction / (num_real + denominator_extra)
                for j in range(num_alive):
                    s = alive[j]
                    p[s] = (counts[s] + pseudo_count) * synthetic_scale + (
                        fresh[s] + pseudo_count
                    ) * real_scale
            elif regime == ACCUMULATE:
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
#: pseudo_count, record_slot, policy_codes, policy_params, out_p, out_absorbed); arrays of any
#: layout.
SIGNATURE = types.void(
    RNG,
    _F64[:],
    _I64[:],
    _I64,
    _F64,
    _I64[:],
    _F64,
    _I64[:],
    _I64[:],
    _F64[:],
    _F64[:, :, :],
    _I64[:],
)
simulate_block = one_signature(_simulate_block, SIGNATURE)
