"""Jax kernel of the regression simulator (docs/theory.md §5.2), for CPU and GPU.

The same chain as :mod:`collapse_theory.regression._numba` (Replace, FreshData, Accumulate;
fixed, redrawn or given design), written for jax: one chain is a ``lax.scan`` over generations
(labels, the d x d normal equations, one ``solve``), ``vmap`` runs a batch of replicate blocks.
Replicate r draws only from its own key folded with the generation index, so results do not
depend on the batching; they follow the same law as numba's, not the same numbers.
AccumulateSubsample (a pool that grows) stays on numba.
"""

from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from collapse_theory.backends import jax_replicate_keys, run_jax_batches
from collapse_theory.regimes import ACCUMULATE, FRESH_MIX, FRESH_SPLIT

#: The designs, in the order of their codes.
DESIGNS = ("fixed", "redrawn", "given")
FIXED, REDRAWN, GIVEN = 0, 1, 2


def _chain(
    key,
    w_star,
    chol,
    given,
    sigma,
    noise_sd,
    ridge,
    fraction,
    slots,
    *,
    generations,
    num_points,
    split_count,
    regime,
    design,
    num_slots,
    dtype,
):
    """One chain: recorded w_n (num_slots, d) and risks (num_slots,); row ``num_slots`` takes the
    unrecorded generations."""
    d = w_star.shape[0]
    key_design, key_steps = jax.random.split(key)

    def draw_design(k):
        return jax.random.normal(k, (num_points, d), dtype) @ chol.T

    x0 = given if design == GIVEN else draw_design(key_design)
    rows = jnp.arange(num_points)

    def risk_of(w):
        delta = w - w_star
        return delta @ sigma @ delta

    def record(out_w, out_risk, slot, w):
        row = jnp.where(slot >= 0, slot, num_slots)
        return out_w.at[row].set(w), out_risk.at[row].set(risk_of(w))

    out_w, out_risk = record(
        jnp.zeros((num_slots + 1, d), dtype), jnp.zeros(num_slots + 1, dtype), slots[0], w_star
    )

    def step(carry, inputs):
        w, gram_sum, moment_sum, out_w, out_risk = carry
        generation, slot = inputs
        k_x, k_f, k_e = jax.random.split(jax.random.fold_in(key_steps, generation), 3)
        x = draw_design(k_x) if design == REDRAWN else x0
        if regime == FRESH_SPLIT:
            fresh = rows < split_count
        elif regime == FRESH_MIX:
            fresh = jax.random.uniform(k_f, (num_points,), dtype) < fraction
        else:
            fresh = jnp.zeros(num_points, bool)
        labels = jnp.where(fresh, x @ w_star, x @ w)
        labels = labels + noise_sd * jax.random.normal(k_e, (num_points,), dtype)
        gram, moment = x.T @ x, x.T @ labels
        if regime == ACCUMULATE:
            gram_sum, moment_sum = gram_sum + gram, moment_sum + moment
            gram, moment = gram_sum, moment_sum
        w = jnp.linalg.solve(gram + ridge * jnp.eye(d, dtype=dtype), moment)
        out_w, out_risk = record(out_w, out_risk, slot, w)
        return (w, gram_sum, moment_sum, out_w, out_risk), None

    inputs = (jnp.arange(generations, dtype=jnp.int32), slots[1:])
    carry = (w_star, jnp.zeros((d, d), dtype), jnp.zeros(d, dtype), out_w, out_risk)
    (_, _, _, out_w, out_risk), _ = lax.scan(step, carry, inputs)
    return out_w[:num_slots], out_risk[:num_slots]


def _batch(block_keys, width, *args, **static):
    keys = jax_replicate_keys(block_keys, width)
    in_axes = (0,) + (None,) * len(args)
    return jax.vmap(partial(_chain, **static), in_axes=in_axes)(keys, *args)


_batch_jit = jax.jit(
    _batch,
    static_argnames=(
        "width",
        "generations",
        "num_points",
        "split_count",
        "regime",
        "design",
        "num_slots",
        "dtype",
    ),
)


def simulate(
    block_keys: np.ndarray,
    num_replicates: int,
    w_star: np.ndarray,
    chol: np.ndarray,
    given: np.ndarray,
    noise_sd: float,
    ridge: float,
    fraction: float,
    slots: np.ndarray,
    *,
    generations: int,
    num_points: int,
    split_count: int,
    regime: int,
    design: int,
    num_slots: int,
    dtype: str,
    chunk_size: int,
    progress: bool,
) -> tuple[np.ndarray, np.ndarray]:
    """Every replicate's recorded fits (R, num_slots, d) and risks (R, num_slots)."""
    with jax.enable_x64(True):
        as_float = partial(np.asarray, dtype=dtype)
        sigma = chol @ chol.T
        if design != GIVEN:
            given = np.zeros((num_points, w_star.size))
        args = (
            as_float(w_star),
            as_float(chol),
            as_float(given),
            as_float(sigma),
            as_float(noise_sd),
            as_float(ridge),
            as_float(fraction),
            np.asarray(slots, dtype=np.int32),
        )
        static = dict(
            generations=generations,
            num_points=num_points,
            split_count=split_count,
            regime=regime,
            design=design,
            num_slots=num_slots,
            dtype=dtype,
        )

        def call(keys: np.ndarray, width: int, start: int, stop: int) -> tuple[jax.Array, ...]:
            return _batch_jit(keys, width, *args, **static)

        w, risk = run_jax_batches(
            call,
            block_keys,
            num_replicates,
            chunk_size=chunk_size,
            label="regression",
            progress=progress,
        )
    return w, risk
