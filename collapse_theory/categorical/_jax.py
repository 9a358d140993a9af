"""Jax kernels for the categorical (Wright–Fisher) simulator (docs/theory.md §1), for CPU and GPU.

Each generation draws ``C ~ Multinomial(M, q)`` in one of two exact ways, chosen once per run
from the largest M (rounded up to a power of two, at least 64): when ``M K <= COMPARISON_BUDGET``, by inversion of M uniforms against the
cumulative q (counts are differences of "draws below q_1 + ... + q_k", M K comparisons, no
loops: fast for small samples), otherwise by ``jax.random.multinomial`` (conditional binomials
over the K states, inversion or BTRS rejection: O(K) per chain and generation, flat in M). One chain is a ``lax.scan`` over generations, ``vmap`` runs a
batch of replicate blocks, and the jitted function lives at module level (one compilation per
shape and setting). Replicate r draws only from its own key folded with the generation index,
so results do not depend on the batching. Counts are carried as floats (exact below 2^53 in
float64, 2^24 in float32).
"""

from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from collapse_theory.backends import jax_replicate_keys, run_jax_batches
from collapse_theory.gaussian._jax import tree_sum
from collapse_theory.regimes import ACCUMULATE, FRESH_MIX, FRESH_SPLIT

#: Largest M K for which a multinomial is drawn by comparing M uniforms with the K cumulative
#: probabilities (above it: conditional binomials).
COMPARISON_BUDGET = 2**14
#: Times the jitted entry point has been traced (compiled) in this process.
TRACES = {"chain": 0}


def _multinomial(key, total, weights, max_total, dtype):
    """Multinomial(total, weights / sum(weights)) counts (weights need not be normalised).

    ``max_total`` (static) is the largest ``total`` of the run, or 0 for conditional binomials.
    """
    if not max_total:
        return jax.random.multinomial(key, total, weights / tree_sum(weights), dtype=dtype)
    states = jnp.arange(weights.shape[0])
    cumulative = jnp.cumsum(weights)
    draws = jax.random.uniform(key, (max_total,), dtype) * cumulative[-1]
    used = jnp.arange(max_total) < total
    below = jnp.sum(used[:, None] & (draws[:, None] < cumulative[None, :]), axis=0)
    # Every draw lies below the total mass; rounding may not show it for the last positive state.
    last = states.shape[0] - 1 - jnp.argmax(weights[::-1] > 0)
    below = jnp.where(states >= last, total, below.astype(dtype))
    return jnp.diff(below, prepend=jnp.zeros(1, dtype))


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
    dtype,
):
    """One chain: the recorded frequency vectors (num_slots, K) and the first generation with a
    single surviving state (-1: none). Row ``num_slots`` takes the unrecorded generations."""
    num_states = p0.shape[0]
    out = jnp.zeros((num_slots + 1, num_states), dtype)

    def record(out, slot, p):
        return out.at[jnp.where(slot >= 0, slot, num_slots)].set(p)

    out = record(out, slots[0], p0)
    absorbed = jnp.where(jnp.sum(p0 > 0) == 1, 0, -1)
    draw = partial(_multinomial, max_total=max_total, dtype=dtype)

    def step(carry, inputs):
        p, pool, pool_total, absorbed, out = carry
        generation, total, split_count, slot = inputs
        k_a, k_b = jax.random.split(jax.random.fold_in(key, generation))
        if regime == FRESH_MIX:
            counts = draw(k_b, total, (1 - fraction) * p + fraction * p0)
        elif regime == FRESH_SPLIT:
            counts = draw(k_a, split_count, p0) + draw(k_b, total - split_count, p)
        else:
            counts = draw(k_b, total, p)
        if regime == ACCUMULATE:
            pool = pool + counts
            pool_total = pool_total + total
            counts, total = pool, pool_total
        p = (counts + pseudo_count) / (total + num_states * pseudo_count)
        single = jnp.sum(p > 0) == 1
        absorbed = jnp.where((absorbed < 0) & single, generation + 1, absorbed)
        return (p, pool, pool_total, absorbed, record(out, slot, p)), None

    inputs = (jnp.arange(sizes.shape[0], dtype=jnp.int32), sizes, split_counts, slots[1:])
    carry = (p0, jnp.zeros_like(p0), jnp.zeros((), dtype), absorbed, out)
    (_, _, _, absorbed, out), _ = lax.scan(step, carry, inputs)
    return out[:num_slots], absorbed


def _batch(block_keys, width, *args, **static):
    TRACES["chain"] += 1  # runs only while tracing
    keys = jax_replicate_keys(block_keys, width)
    in_axes = (0,) + (None,) * len(args)
    return jax.vmap(partial(_chain, **static), in_axes=in_axes)(keys, *args)


_batch_jit = jax.jit(_batch, static_argnames=("width", "regime", "num_slots", "max_total", "dtype"))


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
    chunk_size: int,
    progress: bool,
) -> tuple[np.ndarray, np.ndarray]:
    """Every replicate's recorded frequencies (R, num_slots, K) and absorption generation (R,)."""
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
        # Rounded up to a power of two (at least 64) so that other sample sizes reuse the kernel.
        largest = 1 << max(int(sizes.max(initial=1)) - 1, 63).bit_length()
        by_comparison = largest * p0.size <= COMPARISON_BUDGET
        static = dict(
            regime=regime,
            num_slots=num_slots,
            max_total=largest if by_comparison else 0,
            dtype=dtype,
        )

        def call(keys: np.ndarray, width: int, start: int, stop: int) -> tuple[jax.Array, ...]:
            return _batch_jit(keys, width, *args, **static)

        p, absorbed = run_jax_batches(
            call,
            block_keys,
            num_replicates,
            chunk_size=chunk_size,
            label="categorical",
            progress=progress,
        )
    return p, absorbed.astype(np.int64)
