"""Jax kernel of the KDE simulator (docs/theory.md §5.1), for CPU and GPU: Replace and FreshData.

The same chain as :mod:`collapse_theory.kde._numba` where its shapes are static: the support of
model n is dataset n-1 (M points), so one chain is a ``lax.scan`` over generations (M uniform
indices, a gather, kernel noise, the M-point moments) and ``vmap`` runs a batch of replicate
blocks. Model 0 is padded to a support of ``max(K0, M)`` points with a mask. Replicate r draws
only from its own key folded with the generation index, so results do not depend on the
batching; they follow the same law as numba's, not the same numbers. The pooled regimes
(Accumulate, AccumulateSubsample: a support that grows) stay on numba.
"""

from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from collapse_theory.backends import jax_replicate_keys, run_jax_batches
from collapse_theory.kde._numba import FIXED, SCOTT
from collapse_theory.regimes import FRESH_MIX, FRESH_SPLIT


def _factor_squared(rule, value, count, d):
    """c^2 of a data-dependent bandwidth on ``count`` points (kde.options.kernel_factor_squared)."""
    base = count if rule == SCOTT else count * (d + 2.0) / 4.0
    scipy_factor = base ** (-2.0 / (d + 4.0)) * count / (count - 1.0)
    return jnp.where(rule == 1, value * value, scipy_factor)  # 1: PROPORTIONAL


def _moments(points):
    mean = points.mean(axis=0)
    centred = points - mean
    return mean, centred.T @ centred / points.shape[0]


def _chain(
    key,
    support0,
    weights0,
    chol0,
    value,
    fraction,
    threshold,
    slots,
    *,
    generations,
    num_samples,
    split_count,
    rule,
    regime,
    num_slots,
    record_tail,
    dtype,
):
    """One chain: recorded means (S, d), covariances (S, d, d) and tail masses (S,)."""
    m, d = num_samples, support0.shape[1]
    count0 = jnp.sum(weights0)
    mean0 = weights0 @ support0 / count0
    centred0 = (support0 - mean0) * jnp.sqrt(weights0)[:, None]
    cov0 = centred0.T @ centred0 / count0 + chol0 @ chol0.T
    rows = jnp.arange(m)

    def tail_mass(support, weights, chol):
        if not record_tail:
            return jnp.zeros((), dtype)
        h = chol[0, 0]
        x = support[:, 0]
        safe = jnp.where(h > 0, h, 1.0) * jnp.sqrt(2.0)
        smooth = 0.5 * (
            jax.scipy.special.erfc((threshold - x) / safe)
            + jax.scipy.special.erfc((threshold + x) / safe)
        )
        mass = jnp.where(h > 0, smooth, (jnp.abs(x) > threshold).astype(dtype))
        return weights @ mass / jnp.sum(weights)

    def record(out, slot, mean, cov, tail):
        row = jnp.where(slot >= 0, slot, num_slots)
        out_mean, out_cov, out_tail = out
        return out_mean.at[row].set(mean), out_cov.at[row].set(cov), out_tail.at[row].set(tail)

    out = (
        jnp.zeros((num_slots + 1, d), dtype),
        jnp.zeros((num_slots + 1, d, d), dtype),
        jnp.zeros(num_slots + 1, dtype),
    )
    out = record(out, slots[0], mean0, cov0, tail_mass(support0, weights0, chol0))

    def draw(k, support, count, chol):
        k_index, k_noise = jax.random.split(k)
        index = jnp.floor(jax.random.uniform(k_index, (m,), dtype) * count).astype(jnp.int32)
        noise = jax.random.normal(k_noise, (m, d), dtype) @ chol.T
        return support[jnp.minimum(index, count.astype(jnp.int32) - 1)] + noise

    def step(carry, inputs):
        support, count, chol, out = carry
        generation, slot = inputs
        k_model, k_fresh, k_which = jax.random.split(jax.random.fold_in(key, generation), 3)
        dataset = draw(k_model, support, count, chol)
        if regime in (FRESH_SPLIT, FRESH_MIX):
            fresh_points = draw(k_fresh, support0, count0, chol0)
            if regime == FRESH_SPLIT:
                fresh = rows < split_count
            else:
                fresh = jax.random.uniform(k_which, (m,), dtype) < fraction
            dataset = jnp.where(fresh[:, None], fresh_points, dataset)
        mean, cov = _moments(dataset)
        if rule == FIXED:
            kernel = value * value * jnp.eye(d, dtype=dtype)
        else:
            kernel = _factor_squared(rule, value, float(m), float(d)) * cov
        chol = jnp.linalg.cholesky(kernel + 1e-300 * jnp.eye(d, dtype=dtype))
        chol = jnp.where(jnp.isfinite(chol), chol, 0.0)
        support = jnp.zeros_like(support).at[:m].set(dataset)
        weights = (jnp.arange(support.shape[0]) < m).astype(dtype)
        out = record(out, slot, mean, cov + kernel, tail_mass(support, weights, chol))
        return (support, jnp.asarray(m, dtype), chol, out), None

    inputs = (jnp.arange(generations, dtype=jnp.int32), slots[1:])
    carry = (support0, count0, chol0, out)
    (_, _, _, out), _ = lax.scan(step, carry, inputs)
    return tuple(array[:num_slots] for array in out)


def _batch(block_keys, width, *args, **static):
    keys = jax_replicate_keys(block_keys, width)
    in_axes = (0,) + (None,) * len(args)
    return jax.vmap(partial(_chain, **static), in_axes=in_axes)(keys, *args)


_batch_jit = jax.jit(
    _batch,
    static_argnames=(
        "width",
        "generations",
        "num_samples",
        "split_count",
        "rule",
        "regime",
        "num_slots",
        "record_tail",
        "dtype",
    ),
)


def simulate(
    block_keys: np.ndarray,
    num_replicates: int,
    support0: np.ndarray,
    chol0: np.ndarray,
    value: float,
    fraction: float,
    threshold: float,
    slots: np.ndarray,
    *,
    generations: int,
    num_samples: int,
    split_count: int,
    rule: int,
    regime: int,
    num_slots: int,
    dtype: str,
    chunk_size: int,
    progress: bool,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every replicate's recorded means (R, S, d), covariances (R, S, d, d), tails (R, S)."""
    with jax.enable_x64(True):
        as_float = partial(np.asarray, dtype=dtype)
        size = max(support0.shape[0], num_samples)
        padded = np.zeros((size, support0.shape[1]))
        padded[: support0.shape[0]] = support0
        weights0 = (np.arange(size) < support0.shape[0]).astype(float)
        record_tail = bool(np.isfinite(threshold))
        args = (
            as_float(padded),
            as_float(weights0),
            as_float(chol0),
            as_float(value),
            as_float(fraction),
            as_float(threshold if record_tail else 0.0),
            np.asarray(slots, dtype=np.int32),
        )
        static = dict(
            generations=generations,
            num_samples=num_samples,
            split_count=split_count,
            rule=rule,
            regime=regime,
            num_slots=num_slots,
            record_tail=record_tail,
            dtype=dtype,
        )

        def call(keys: np.ndarray, width: int, start: int, stop: int) -> tuple[jax.Array, ...]:
            return _batch_jit(keys, width, *args, **static)

        means, covs, tails = run_jax_batches(
            call, block_keys, num_replicates, chunk_size=chunk_size, label="kde", progress=progress
        )
    return means, covs, tails
