"""Jax kernels for the categorical (Wright–Fisher) simulator (docs/theory.md §1), for CPU and GPU.

Each generation draws ``C ~ Multinomial(M, q)`` by inversion of M uniforms against the
cumulative q, in one of two exact ways chosen once per run from the largest M (rounded up to a
power of two, at least 64): when ``M K <= COMPARISON_BUDGET``, counts are differences of "draws
below q_1 + ... + q_k" (M K comparisons, no loops: fast for small samples); otherwise each
uniform is located in the cumulative by binary search and the counts are added up
(O(M log K); ``jax.random.multinomial``'s conditional binomials, O(K) rejection loops that
``vmap`` runs until the unluckiest lane is done, were slower on every device measured:
``benchmarks/results/jax_cpu.md``). The uniforms take M floats per chain, so a device call runs
as many chains as the memory budget holds (:func:`bytes_per_replicate`,
:mod:`collapse_theory._chunks`). One chain is a ``lax.scan`` over generations, ``vmap`` runs a
batch of replicates, and the jitted function lives at module level (one compilation per shape
and setting). Replicate r draws only from its own key folded with the generation index, so
results do not depend on the batching. Counts are carried as floats (exact below 2^53 in
float64, 2^24 in float32).
"""

from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from collapse_theory._chunks import chunk_replicate_keys, run_chunks
from collapse_theory.policies import MIN_P, TEMPERATURE, TOP_K, TOP_P_SLACK
from collapse_theory.regimes import ACCUMULATE, FRESH_MIX, FRESH_SPLIT, WEIGHTED

#: Largest M K for which a multinomial is drawn by comparing M uniforms with the K cumulative
#: probabilities (above it: by binary search in the cumulative).
COMPARISON_BUDGET = 2**14
#: Times the jitted entry point has been traced (compiled) in this process.
TRACES = {"chain": 0}


def _multinomial(key, total, weights, max_total, by_comparison, dtype):
    """Multinomial(total, weights / sum(weights)) counts (weights need not be normalised), from
    ``total`` of ``max_total`` (static, >= every total of the run) uniforms U_i W, W = sum of
    the weights: draw i falls in the state k with w_1 + ... + w_{k-1} <= U_i W < w_1 + ... + w_k.

    ``by_comparison`` (static): count the draws below every partial sum (max_total K
    comparisons), else find each draw's state by binary search. Both give the same counts.
    """
    states = jnp.arange(weights.shape[0])
    cumulative = jnp.cumsum(weights)
    draws = jax.random.uniform(key, (max_total,), dtype) * cumulative[-1]
    used = jnp.arange(max_total) < total
    # Every draw lies below the total mass; rounding may not show it for the last positive state.
    last = states.shape[0] - 1 - jnp.argmax(weights[::-1] > 0)
    if not by_comparison:
        # A zero-weight state has an empty interval (side="right" skips it); draws rounded up to
        # the total mass go to the last positive state.
        found = jnp.minimum(jnp.searchsorted(cumulative, draws, side="right"), last)
        return jnp.zeros(weights.shape[0], dtype).at[found].add(used.astype(dtype))
    below = jnp.sum(used[:, None] & (draws[:, None] < cumulative[None, :]), axis=0)
    below = jnp.where(states >= last, total, below.astype(dtype))
    return jnp.diff(below, prepend=jnp.zeros(1, dtype))


def apply_policy(p, policy):
    """T(p) for the static policy stages ((code, parameter), ...) (docs/theory.md §8.1).

    Same maps and tie rule as :mod:`collapse_theory.policies` (stable ranking: decreasing
    probability, then increasing index).
    """
    for code, param in policy:
        positive = p > 0
        if code == TEMPERATURE:
            logp = jnp.log(jnp.where(positive, p, 1.0))
            top = jnp.max(jnp.where(positive, logp, -jnp.inf))
            p = jnp.where(positive, jnp.exp((logp - top) / param), 0.0)
        elif code == MIN_P:
            p = jnp.where(p >= param * jnp.max(p), p, 0.0)
        else:
            order = jnp.argsort(-p, stable=True)
            rank = jnp.argsort(order, stable=True)
            if code == TOP_K:
                keep = param
            else:
                cumulative = jnp.cumsum(p[order])
                keep = 1 + jnp.sum(cumulative < param - TOP_P_SLACK)
            p = jnp.where((rank < keep) & positive, p, 0.0)
        p = p / jnp.sum(p)
    return p


def _chain(
    key,
    p0,
    sizes,
    split_counts,
    slots,
    fraction,
    pseudo_count,
    *,
    regime,
    num_slots,
    max_total,
    by_comparison,
    dtype,
    policy,
):
    """One chain: the recorded frequency vectors (num_slots, K) and the first generation with a
    single surviving state (-1: none). Row ``num_slots`` takes the unrecorded generations."""
    num_states = p0.shape[0]
    out = jnp.zeros((num_slots + 1, num_states), dtype)

    def record(out, slot, p):
        return out.at[jnp.where(slot >= 0, slot, num_slots)].set(p)

    out = record(out, slots[0], p0)
    absorbed = jnp.where(jnp.sum(p0 > 0) == 1, 0, -1)
    draw = partial(_multinomial, max_total=max_total, by_comparison=by_comparison, dtype=dtype)

    def step(carry, inputs):
        p, pool, pool_total, absorbed, out = carry
        generation, total, split_count, slot = inputs
        k_a, k_b = jax.random.split(jax.random.fold_in(key, generation))
        model = p
        if policy:  # dataset 0 comes from p0 as is; fitted models generate from T(p)
            model = jnp.where(generation > 0, apply_policy(p, policy), p)
        if regime == FRESH_MIX:
            counts = draw(k_b, total, (1 - fraction) * model + fraction * p0)
        elif regime == FRESH_SPLIT:
            counts = draw(k_a, split_count, p0) + draw(k_b, total - split_count, model)
        else:
            counts = draw(k_b, total, model)
        if regime == ACCUMULATE:
            pool = pool + counts
            pool_total = pool_total + total
            counts, total = pool, pool_total
        p = (counts + pseudo_count) / (total + num_states * pseudo_count)
        if regime == WEIGHTED:  # fraction is the weight w, split_count the fresh draws n (§9.1)
            real = draw(k_a, split_count, p0)
            real_p = (real + pseudo_count) / (split_count + num_states * pseudo_count)
            p = (1 - fraction) * p + fraction * real_p
        single = jnp.sum(p > 0) == 1
        absorbed = jnp.where((absorbed < 0) & single, generation + 1, absorbed)
        return (p, pool, pool_total, absorbed, record(out, slot, p)), None

    inputs = (jnp.arange(sizes.shape[0], dtype=jnp.int32), sizes, split_counts, slots[1:])
    carry = (p0, jnp.zeros_like(p0), jnp.zeros((), dtype), absorbed, out)
    (_, _, _, absorbed, out), _ = lax.scan(step, carry, inputs)
    return out[:num_slots], absorbed


def _batch(block_keys, offset, width, *args, **static):
    TRACES["chain"] += 1  # runs only while tracing
    keys = chunk_replicate_keys(block_keys, offset, width)
    in_axes = (0,) + (None,) * len(args)
    return jax.vmap(partial(_chain, **static), in_axes=in_axes)(keys, *args)


_batch_jit = jax.jit(
    _batch,
    static_argnames=(
        "width",
        "regime",
        "num_slots",
        "max_total",
        "by_comparison",
        "dtype",
        "policy",
    ),
)


def largest_dataset(sizes: np.ndarray, split_counts: np.ndarray) -> int:
    """The number of uniforms a multinomial draws: the largest M or fresh count of the run,
    rounded up to a power of two (at least 64) so that other sample sizes reuse the kernel."""
    largest = int(max(sizes.max(initial=1), split_counts.max(initial=1)))
    return 1 << max(largest - 1, 63).bit_length()


def bytes_per_replicate(
    sizes: np.ndarray, split_counts: np.ndarray, num_states: int, num_slots: int
) -> float:
    """Device memory one chain of a call needs (an upper bound, bytes):
    ``8 (3 L + 4 (num_slots + 6) K)`` with ``L`` :func:`largest_dataset`, plus ``L K`` booleans
    when the draws are compared with the cumulative (``L K <= COMPARISON_BUDGET``).

    A multinomial holds L uniforms, their states and weights (3 L); the chain carries its
    frequencies, pool and recorded rows through the ``scan`` (input, output and the caller's
    copy).
    """
    largest = largest_dataset(sizes, split_counts)
    floats = 3 * largest + 4 * (num_slots + 6) * num_states
    comparisons = largest * num_states if largest * num_states <= COMPARISON_BUDGET else 0
    return 8.0 * floats + comparisons


def simulate(
    block_keys: np.ndarray,
    num_replicates: int,
    p0: np.ndarray,
    sizes: np.ndarray,
    split_counts: np.ndarray,
    slots: np.ndarray,
    fraction: float,
    pseudo_count: float,
    *,
    regime: int,
    num_slots: int,
    dtype: str,
    policy: tuple[tuple[int, float], ...] = (),
    width: int,
    progress: bool,
) -> tuple[np.ndarray, np.ndarray]:
    """Every replicate's recorded frequencies (R, num_slots, K) and absorption generation (R,),
    ``width`` replicates per device call (sized by the caller with :func:`bytes_per_replicate`;
    results do not depend on it)."""
    with jax.enable_x64(True):
        as_float = partial(np.asarray, dtype=dtype)
        args = (
            as_float(p0),
            as_float(sizes),
            as_float(split_counts),
            np.asarray(slots, dtype=np.int32),
            as_float(fraction),
            as_float(pseudo_count),
        )
        largest = largest_dataset(sizes, split_counts)
        static = dict(
            regime=regime,
            num_slots=num_slots,
            max_total=largest,
            by_comparison=largest * p0.size <= COMPARISON_BUDGET,
            dtype=dtype,
            policy=policy,
        )

        def call(
            keys: np.ndarray, offset: np.int32, start: int, stop: int
        ) -> tuple[jax.Array, ...]:
            return _batch_jit(keys, offset, width, *args, **static)

        p, absorbed = run_chunks(
            call, block_keys, num_replicates, width, label="categorical", progress=progress
        )
    return p, absorbed.astype(np.int64)
