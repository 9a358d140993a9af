"""Jax kernels for recursive EM fitting of Gaussian mixtures (docs/theory.md §4), for CPU and GPU.

The same EM as :mod:`collapse_theory.gmm._numba` (scikit-learn's ``GaussianMixture`` step for
step): log-sum-exp responsibilities, ``N_k = S_k + 10 eps``, two-pass covariances, stop at the
first iteration whose change of the mean log-likelihood is below ``tol`` or after ``max_iter``;
a component whose responsibility mass falls to d points or fewer, or whose covariance is not
positive definite, is lost (weight 0, parameters frozen), the last active one never.

One chain is a ``lax.scan`` over generations; each EM fit is a ``lax.while_loop`` (under
``vmap`` a batch runs until its slowest replicate has converged, the others frozen by the loop's
mask). Dataset i lives in a fixed buffer of ``max M`` points (Replace, FreshData) or of all
points so far (Accumulate), masked beyond its size. Replicate r draws only from its own key
folded with the generation index, so results do not depend on the batching. Replicates run in
chunks whose width the caller sizes from a memory budget (:mod:`collapse_theory._chunks`,
:func:`bytes_per_replicate`).
"""

from __future__ import annotations

import math
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from collapse_theory._chunks import chunk_replicate_keys, run_chunks
from collapse_theory.gaussian._jax import cholesky_psd, fresh_count, matmul, matvec, tree_sum
from collapse_theory.regimes import ACCUMULATE

WARM, KMEANS = 0, 1
_LOG_2PI = math.log(2.0 * math.pi)
_KMEANS_MAX_ITER = 100
#: Times the jitted entry point has been traced (compiled) in this process.
TRACES = {"chain": 0}


def _eps10(dtype):
    return 10 * jnp.finfo(dtype).eps


def _prepare(weights, covs, active):
    """Cholesky factors and log normalisers ``log w_k - log|L_k| - d log(2 pi) / 2``.

    Components with a covariance that is not positive definite are lost; if that would leave none,
    only the last active one stays and ``ok`` is False (EM stops: data without spread)."""
    d = covs.shape[-1]
    chol, definite = jax.vmap(cholesky_psd)(covs)
    kept = active & definite
    index = jnp.arange(active.shape[0])
    last = jnp.max(jnp.where(active, index, -1))
    ok = jnp.any(kept)
    active = jnp.where(ok, kept, active & (index == last))
    weights = jnp.where(active, weights, 0)
    safe = jnp.where(
        active[:, None, None] & definite[:, None, None], chol, jnp.eye(d, dtype=covs.dtype)
    )
    half_log_det = tree_sum(jnp.log(jnp.diagonal(safe, axis1=1, axis2=2)), axis=1)
    log_w = jnp.log(jnp.where(weights > 0, weights, 1))
    log_norm = jnp.where(weights > 0, log_w, -jnp.inf) - half_log_det - 0.5 * d * _LOG_2PI
    return weights, active, safe, log_norm, ok


def _solve_lower(chol, u):
    """``L_k^{-1} u_kn`` for chol (K, d, d) and u (K, N, d), by forward substitution (d is small;
    elementwise, so batch-independent)."""
    z = []
    for i in range(chol.shape[-1]):
        acc = u[..., i]
        for j in range(i):
            acc = acc - chol[:, None, i, j] * z[j]
        z.append(acc / chol[:, None, i, i])
    return jnp.stack(z, axis=-1)


def _e_step(x, mask, num_points, means, active, chol, log_norm):
    """Responsibilities (K, N) (0 on masked points) and the mean log-likelihood."""
    z = _solve_lower(chol, x[None] - means[:, None])
    lp = log_norm[:, None] - 0.5 * tree_sum(z * z, axis=-1)
    lp = jnp.where(active[:, None], lp, -jnp.inf)
    top = jnp.max(lp, axis=0)
    lse = top + jnp.log(tree_sum(jnp.exp(lp - top[None]), axis=0))
    lse = jnp.where(mask, lse, 0)
    resp = jnp.where(mask[None] & active[:, None], jnp.exp(lp - lse[None]), 0)
    return resp, tree_sum(lse) / num_points


def _m_step(x, resp, weights, means, covs, active, reg_covar, diagonal):
    """scikit-learn's M step; a component with responsibility mass <= d is lost (frozen), with
    a covariance floor ``reg_covar > 0`` only one of mass 0 (as the numba kernel)."""
    d = x.shape[-1]
    mass = tree_sum(resp, axis=1)
    active = active & (mass > jnp.where(reg_covar > 0, 0, d))
    nk = mass + _eps10(x.dtype)
    total = tree_sum(jnp.where(active, nk, 0))
    new_means = matmul(resp, x) / nk[:, None]
    u = x[None] - new_means[:, None]
    new_covs = matmul(jnp.swapaxes(resp[:, :, None] * u, 1, 2), u) / nk[:, None, None]
    if diagonal:
        new_covs = new_covs * jnp.eye(d, dtype=x.dtype)
    new_covs = new_covs + reg_covar * jnp.eye(d, dtype=x.dtype)
    weights = jnp.where(active, nk / total, 0)
    means = jnp.where(active[:, None], new_means, means)
    covs = jnp.where(active[:, None, None], new_covs, covs)
    return weights, means, covs, active


def _em(x, mask, num_points, params, tol, max_iter, reg_covar, diagonal):
    """EM from ``params = (weights, means, covs, active)``; returns the fitted params,
    iterations, converged and the mean log-likelihood of the last E step."""
    dtype = x.dtype

    def cond(state):
        it, _, _, converged, stopped, _ = state
        return (it < max_iter) & ~converged & ~stopped

    def body(state):
        it, _, lower, _, _, (weights, means, covs, active) = state
        weights, active, chol, log_norm, ok = _prepare(weights, covs, active)
        resp, new_lower = _e_step(x, mask, num_points, means, active, chol, log_norm)
        fitted = _m_step(x, resp, weights, means, covs, active, reg_covar, diagonal)
        params = jax.tree.map(
            lambda new, old: jnp.where(ok, new, old), fitted, (weights, means, covs, active)
        )
        converged = ok & (jnp.abs(new_lower - lower) < tol)
        return (
            jnp.where(ok, it + 1, it),
            it + 1,
            jnp.where(ok, new_lower, lower),
            converged,
            ~ok,
            params,
        )

    state = (
        jnp.zeros((), jnp.int32),
        jnp.zeros((), jnp.int32),
        jnp.array(-jnp.inf, dtype),
        jnp.array(False),
        jnp.array(False),
        params,
    )
    iterations, _, lower, converged, _, (weights, means, covs, active) = lax.while_loop(
        cond, body, state
    )
    # A covariance made singular by the last M step marks its component lost now.
    weights, active, _, _, _ = _prepare(weights, covs, active)
    weights = jnp.where(active, weights, 0)
    weights = weights / jnp.maximum(tree_sum(weights), jnp.finfo(dtype).tiny)
    return (weights, means, covs, active), iterations, converged, lower


def _kmeans_init(key, x, mask, num_points, covs, reg_covar, diagonal):
    """k-means++ seeding (one D^2 draw per centre), Lloyd iterations to a fixed point (at most
    100), then the M step of the hard assignment with the covariance floor (scikit-learn's
    ``init_params="kmeans"``; the numba kernel seeds greedily and stops Lloyd as scikit-learn
    does, docs/theory.md §4.1). A component lost in that M step keeps its mean at its centre and
    ``covs`` (the previous fit's), as in the numba kernel."""
    num_components = covs.shape[0]
    dtype = x.dtype
    keys = jax.random.split(key, num_components)
    first = jnp.minimum(
        jnp.floor(jax.random.uniform(keys[0], dtype=dtype) * num_points).astype(jnp.int32),
        num_points.astype(jnp.int32) - 1,
    )
    centres = jnp.zeros((num_components, x.shape[-1]), dtype).at[0].set(x[first])
    dist = jnp.where(mask, tree_sum((x - x[first]) ** 2, axis=-1), 0)
    for c in range(1, num_components):
        total = tree_sum(dist)
        u = jax.random.uniform(keys[c], dtype=dtype)
        by_distance = jnp.argmax(jnp.cumsum(dist) > u * total)
        uniform = jnp.minimum(jnp.floor(u * num_points).astype(jnp.int32), num_points - 1)
        pick = jnp.where(total > 0, by_distance, uniform.astype(by_distance.dtype))
        centres = centres.at[c].set(x[pick])
        dist = jnp.minimum(dist, jnp.where(mask, tree_sum((x - x[pick]) ** 2, axis=-1), 0))

    def assign(centres):
        distance = tree_sum((x[:, None] - centres[None]) ** 2, axis=-1)
        return jnp.argmin(distance, axis=1).astype(jnp.int32)

    def cond(state):
        it, changed, _, _ = state
        return (it < _KMEANS_MAX_ITER) & changed

    def body(state):
        it, _, labels, centres = state
        new = assign(centres)
        changed = jnp.any((new != labels) & mask)
        one_hot = jax.nn.one_hot(new, num_components, dtype=dtype) * mask[:, None]
        counts = tree_sum(one_hot, axis=0)
        sums = matmul(one_hot.T, x)
        moved = jnp.where(counts[:, None] > 0, sums / jnp.maximum(counts, 1)[:, None], centres)
        return it + 1, changed, new, jnp.where(changed, moved, centres)

    labels = jnp.full(x.shape[0], -1, dtype=jnp.int32)
    state = (jnp.zeros((), jnp.int32), jnp.array(True), labels, centres)
    _, _, labels, centres = lax.while_loop(cond, body, state)
    resp = (jax.nn.one_hot(labels, num_components, dtype=dtype) * mask[:, None]).T
    active = jnp.ones(num_components, dtype=bool)
    weights, means, covs, active = _m_step(
        x, resp, jnp.zeros(num_components, dtype), centres, covs, active, reg_covar, diagonal
    )
    return weights, means, covs, active


def _sample(key, weights, means, chol, active, buffer_rows):
    """``buffer_rows`` iid draws from the mixture (component by its weight, then the point
    ``m_k + L_k z``); the caller masks the rows it does not use."""
    k_comp, k_z = jax.random.split(key)
    logits = jnp.where(
        active & (weights > 0), jnp.log(jnp.where(weights > 0, weights, 1)), -jnp.inf
    )
    component = jax.random.categorical(k_comp, logits, shape=(buffer_rows,))
    z = jax.random.normal(k_z, (buffer_rows, means.shape[-1]), means.dtype)
    return means[component] + matvec(chol[component], z)


def _chain(
    key,
    weights0,
    means0,
    covs0,
    sizes,
    split_counts,
    slots,
    fraction,
    tol,
    max_iter,
    reg_covar,
    *,
    regime,
    init,
    diagonal,
    num_slots,
    batch_rows,
    pool_rows,
    dtype,
):
    """One chain; returns the recorded (weights, means, covs, lost, log-likelihood, iterations,
    converged), each with leading axis num_slots (row num_slots takes unrecorded generations)."""
    k, d = means0.shape
    active0 = weights0 > 0
    chol0 = jax.vmap(cholesky_psd)(covs0)[0]
    outputs = (
        jnp.zeros((num_slots + 1, k), dtype),
        jnp.zeros((num_slots + 1, k, d), dtype),
        jnp.zeros((num_slots + 1, k, d, d), dtype),
        jnp.zeros((num_slots + 1, k), bool),
        jnp.zeros((num_slots + 1,), dtype),
        jnp.zeros((num_slots + 1,), jnp.int32),
        jnp.zeros((num_slots + 1,), bool),
    )

    def record(outputs, slot, values):
        row = jnp.where(slot >= 0, slot, num_slots)
        return tuple(out.at[row].set(value) for out, value in zip(outputs, values, strict=True))

    params0 = (weights0, means0, covs0, active0)
    first = (weights0, means0, covs0, ~active0, jnp.array(jnp.nan, dtype), 0, True)
    outputs = record(outputs, slots[0], first)
    rows = jnp.arange(batch_rows, dtype=dtype)
    all_rows = jnp.arange(pool_rows, dtype=dtype)

    def step(carry, inputs):
        params, chol, pool, num_pool, outputs = carry
        generation, size, split_count, slot = inputs
        k_fresh, k_a, k_b, k_init = jax.random.split(jax.random.fold_in(key, generation), 4)
        fresh = fresh_count(k_fresh, regime, size, split_count, fraction, dtype)
        weights, means, _, active = params
        from_fresh = _sample(k_a, weights0, means0, chol0, active0, batch_rows)
        from_model = _sample(k_b, weights, means, chol, active, batch_rows)
        batch = jnp.where((rows < fresh)[:, None], from_fresh, from_model)
        if regime == ACCUMULATE:
            offset = num_pool.astype(jnp.int32)
            pool = lax.dynamic_update_slice(pool, batch, (offset, jnp.zeros((), jnp.int32)))
            num_pool = num_pool + size
            x, num_points = pool, num_pool
            mask = all_rows < num_points
        else:
            x, num_points = batch, size
            mask = rows < size
        if init == KMEANS:
            params = _kmeans_init(k_init, x, mask, num_points, params[2], reg_covar, diagonal)
        params, iterations, converged, lower = _em(
            x, mask, num_points, params, tol, max_iter, reg_covar, diagonal
        )
        chol = jax.vmap(cholesky_psd)(params[2])[0]
        values = (*params[:3], ~params[3], lower, iterations, converged)
        return (params, chol, pool, num_pool, record(outputs, slot, values)), None

    pool = jnp.zeros((pool_rows if regime == ACCUMULATE else 1, d), dtype)
    carry = (params0, chol0, pool, jnp.zeros((), dtype), outputs)
    inputs = (jnp.arange(sizes.shape[0], dtype=jnp.int32), sizes, split_counts, slots[1:])
    carry, _ = lax.scan(step, carry, inputs)
    return tuple(out[:num_slots] for out in carry[4])


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
        "init",
        "diagonal",
        "num_slots",
        "batch_rows",
        "pool_rows",
        "dtype",
    ),
)


def buffer_rows(sizes: np.ndarray, regime: int) -> tuple[int, int]:
    """Rows of a chain's dataset buffer (the largest M) and of its pool (all points of all
    generations plus one dataset under Accumulate, else 1)."""
    batch_rows = int(max(sizes.max(initial=1), 1))
    pool_rows = int(sizes.sum()) + batch_rows if regime == ACCUMULATE else 1
    return batch_rows, pool_rows


def bytes_per_replicate(sizes: np.ndarray, regime: int, num_components: int, dim: int) -> float:
    """Device memory one chain of a call needs: ``8 rows (2 K d^2 + 2 K d + 2 K + d)`` bytes,
    rows the points EM runs over (the pool under Accumulate).

    An upper bound of XLA's buffer assignment (``compiled.memory_analysis().temp_size_in_bytes``
    per replicate, measured by ``benchmarks/bench_jax_memory.py``: 18 floats a row for K = d = 2,
    53 for K = d = 3, 189 for K = 4, d = 5): the E and M steps materialise (K, rows, d) and
    (K, d, rows, d) products for batch-independent pairwise sums (docs/backends.md).
    """
    batch_rows, pool_rows = buffer_rows(sizes, regime)
    rows = pool_rows if regime == ACCUMULATE else batch_rows
    k, d = num_components, dim
    return 8.0 * rows * (2 * k * d * d + 2 * k * d + 2 * k + d)


def simulate(
    block_keys: np.ndarray,
    num_replicates: int,
    weights0: np.ndarray,
    means0: np.ndarray,
    covs0: np.ndarray,
    sizes: np.ndarray,
    split_counts: np.ndarray,
    slots: np.ndarray,
    fraction: float,
    tol: float,
    max_iter: int,
    reg_covar: float,
    *,
    regime: int,
    init: int,
    diagonal: bool,
    num_slots: int,
    dtype: str,
    width: int,
    progress: bool,
) -> list[np.ndarray]:
    """Every replicate's recorded weights, means, covs, lost, log-likelihood, iterations and
    converged, replicate axis first (R, num_slots, ...), ``width`` replicates per device call."""
    batch_rows, pool_rows = buffer_rows(sizes, regime)
    with jax.enable_x64(True):
        as_float = partial(np.asarray, dtype=dtype)
        args = (
            as_float(weights0),
            as_float(means0),
            as_float(covs0),
            as_float(sizes),
            as_float(split_counts),
            np.asarray(slots, dtype=np.int32),
            as_float(fraction),
            as_float(tol),
            np.asarray(max_iter, dtype=np.int32),
            as_float(reg_covar),
        )
        static = dict(
            regime=regime,
            init=init,
            diagonal=bool(diagonal),
            num_slots=num_slots,
            batch_rows=batch_rows,
            pool_rows=pool_rows,
            dtype=dtype,
        )

        def call(
            keys: np.ndarray, offset: np.int32, start: int, stop: int
        ) -> tuple[jax.Array, ...]:
            return _batch_jit(keys, offset, width, *args, **static)

        outputs = run_chunks(
            call, block_keys, num_replicates, width, label="gmm", progress=progress
        )
    outputs[5] = outputs[5].astype(np.int64)
    return outputs
