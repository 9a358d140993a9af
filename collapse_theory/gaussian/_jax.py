"""Jax kernels for the Gaussian simulator (docs/theory.md §2.1, §3.1), for CPU and GPU.

The same model as :mod:`collapse_theory.gaussian._numba`: every generation fits the mean and the
(co)variance of a dataset summarised by its size, mean and scatter. ``method="sufficient"`` draws
the summaries (mean ~ normal, scatter ~ chi-square / Wishart via the Bartlett factor);
``method="samples"`` draws the points, :data:`SAMPLE_CHUNK` at a time, so memory stays bounded
for any M. Datasets are merged with the exact pooled-scatter formula.

One chain is a ``lax.scan`` over generations; ``vmap`` runs a batch of replicate blocks; the jitted
functions live at module level, so each shape and setting compiles once per process. Replicate r
draws only from its own key (``collapse_theory.backends.jax_replicate_keys``) folded with the
generation index: results do not depend on how replicates are batched. Counts are carried as
floats (exact below 2^53 in float64, 2^24 in float32).
"""

from __future__ import annotations

from functools import partial
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from collapse_theory._chunks import chunk_replicate_keys, run_chunks
from collapse_theory._jax_samplers import chisquare
from collapse_theory.regimes import ACCUMULATE, FRESH_MIX, FRESH_SPLIT, REPLACE, WEIGHTED

SUFFICIENT, SAMPLES = 0, 1
#: Points drawn at once per chain by ``method="samples"``.
SAMPLE_CHUNK = 128
#: Times each jitted entry point has been traced (compiled) in this process.
TRACES = {"1d": 0, "nd": 0}


def tree_sum(x: Any, axis: int = -1) -> Any:
    """Sum along ``axis`` by pairwise halving, elementwise adds only.

    XLA chooses how to vectorise a reduction (``jnp.sum``, ``dot_general``) from the whole array's
    shape, so a chain's sums would round differently with the number of chains batched beside it;
    elementwise adds do not, which keeps results bit-identical for any ``chunk_size``.
    """
    x = jnp.moveaxis(x, axis, 0)
    if x.shape[0] == 0:
        return jnp.zeros(x.shape[1:], x.dtype)
    while x.shape[0] > 1:
        half = x.shape[0] // 2
        head = x[:half] + x[half : 2 * half]
        x = jnp.concatenate([head, x[2 * half :]]) if x.shape[0] % 2 else head
    return x[0]


def matmul(a: Any, b: Any) -> Any:
    """``a @ b`` over the last two axes by :func:`tree_sum` (batch-independent rounding)."""
    return tree_sum(a[..., :, :, None] * b[..., None, :, :], axis=-2)


def matvec(a: Any, v: Any) -> Any:
    """``a @ v`` (matrix times vector over the last axes) by :func:`tree_sum`."""
    return tree_sum(a * v[..., None, :], axis=-1)


def cholesky_psd(cov: Any) -> Any:
    """Lower Cholesky factor of a PSD matrix, zero columns where a pivot is not positive and
    finite (as :func:`collapse_theory._linalg.cholesky_into` with ``semidefinite=True``).
    Returns ``(factor, definite)``."""
    d = cov.shape[-1]
    chol = jnp.zeros_like(cov)
    definite = jnp.array(True)
    for j in range(d):
        pivot = cov[j, j] - tree_sum(chol[j, :j] ** 2)
        ok = (pivot > 0) & jnp.isfinite(pivot)
        root = jnp.sqrt(jnp.where(ok, pivot, 1))
        column = (cov[j + 1 :, j] - matvec(chol[j + 1 :, :j], chol[j, :j])) / root
        chol = chol.at[j, j].set(jnp.where(ok, root, 0))
        chol = chol.at[j + 1 :, j].set(jnp.where(ok, column, 0))
        definite = definite & ok
    return chol, definite


def fresh_count(key, regime, size, split_count, fraction, dtype):
    """Points of a dataset drawn from model 0: round(fraction M) ("split"), Binomial(M, fraction)
    ("mix"), else 0."""
    if regime == FRESH_SPLIT:
        return split_count
    if regime == FRESH_MIX:
        return jax.random.binomial(key, size, fraction, dtype=dtype)
    return jnp.zeros((), dtype)


def _merge(n_a, mean_a, ss_a, n_b, mean_b, ss_b):
    """Pooled size, mean and scatter of two datasets (either may be empty, its mean then 0)."""
    n = n_a + n_b
    safe = jnp.where(n > 0, n, 1)
    delta = mean_b - mean_a
    outer = delta * delta if jnp.ndim(delta) == 0 else jnp.outer(delta, delta)
    return n, mean_a + delta * (n_b / safe), ss_a + ss_b + outer * (n_a * n_b / safe)


def _sufficient_1d(key, n, mean, sd, dtype):
    """(mean, scatter) of n iid N(mean, sd^2) draws: mean + sd Z / sqrt(n), sd^2 chi2_{n-1}."""
    k_mean, k_var = jax.random.split(key)
    z = jax.random.normal(k_mean, dtype=dtype)
    batch_mean = jnp.where(n > 0, mean + sd * z / jnp.sqrt(jnp.maximum(n, 1)), 0)
    return batch_mean, sd * sd * chisquare(k_var, n - 1, dtype)


def _sufficient_nd(key, n, mean, chol, dtype):
    """(mean, scatter) of n iid N(mean, chol chol^T) draws; scatter = (chol A)(chol A)^T with A the
    Bartlett factor of Wishart_d(n - 1, I) (d x (n-1) lower-trapezoidal when n - 1 < d)."""
    d = mean.shape[0]
    k_mean, k_diag, k_low = jax.random.split(key, 3)
    z = jax.random.normal(k_mean, (d,), dtype)
    batch_mean = jnp.where(n > 0, mean + matvec(chol, z) / jnp.sqrt(jnp.maximum(n, 1)), 0)
    dof = n - 1
    rows = jnp.arange(d, dtype=dtype)
    diagonal = jnp.sqrt(chisquare(k_diag, dof - rows, dtype))
    below = (rows[None, :] < rows[:, None]) & (rows[None, :] < dof)
    factor = jnp.where(below, jax.random.normal(k_low, (d, d), dtype), 0) + jnp.diag(diagonal)
    b = matmul(chol, factor)
    return batch_mean, matmul(b, b.T)


def _samples(key, size, fresh, draw_fresh, draw_model, mean_shape, dtype, cut=None):
    """Size, mean and scatter of ``size`` explicit points, the first ``fresh`` from model 0:
    :data:`SAMPLE_CHUNK` points at a time (``draw_*(z)`` maps standard normals to points),
    merged exactly. ``cut`` (a traced bound, or None) restricts the model's standard normals to
    [-cut, cut] (the Truncation policy, docs/theory.md §8.2)."""
    zeros_mean = jnp.zeros(mean_shape, dtype)
    zeros_ss = jnp.zeros(mean_shape * 2, dtype)
    offsets = jnp.arange(SAMPLE_CHUNK, dtype=dtype)

    def body(state):
        chunk, n, mean, ss = state
        chunk_key = jax.random.fold_in(key, chunk)
        z = jax.random.normal(chunk_key, (SAMPLE_CHUNK, *mean_shape), dtype)
        z_model = z
        if cut is not None:
            z_model = jax.random.truncated_normal(
                jax.random.fold_in(chunk_key, 1), -cut, cut, (SAMPLE_CHUNK, *mean_shape), dtype
            )
        index = chunk * SAMPLE_CHUNK + offsets
        from_fresh = (index < fresh).reshape((-1,) + (1,) * len(mean_shape))
        x = jnp.where(from_fresh, draw_fresh(z), draw_model(z_model))
        keep = (index < size).reshape(from_fresh.shape)
        count = jnp.sum(index < size).astype(dtype)
        chunk_mean = tree_sum(jnp.where(keep, x, 0), axis=0) / jnp.maximum(count, 1)
        u = jnp.where(keep, x - chunk_mean, 0)
        chunk_ss = tree_sum(u * u, axis=0) if not mean_shape else matmul(u.T, u)
        return (chunk + 1, *_merge(n, mean, ss, count, chunk_mean, chunk_ss))

    state = (jnp.zeros((), jnp.int32), jnp.zeros((), dtype), zeros_mean, zeros_ss)
    _, n, mean, ss = lax.while_loop(lambda s: s[0] * SAMPLE_CHUNK < size, body, state)
    return n, mean, ss


def _chain(
    key,
    first_mean,
    first_cov,
    mean0,
    cov0,
    sizes,
    split_counts,
    slots,
    fraction,
    ddof,
    *,
    regime,
    method,
    first_generation,
    num_slots,
    dtype,
    policy=(1.0, float("inf")),
):
    """One chain (1-D when ``mean0`` is a scalar); returns the recorded means and (co)variances,
    shape (num_slots, ...). Row ``num_slots`` of the buffers takes the unrecorded generations.

    ``policy`` (static) is the (scale, cut) law of the fitted models' samples
    (:meth:`collapse_theory.policies.Policy.gaussian_law`, 1-D; docs/theory.md §8.2).
    """
    policy_scale, policy_cut = policy
    truncated = policy_cut < float("inf")
    one_dim = jnp.ndim(mean0) == 0
    mean_shape = () if one_dim else mean0.shape

    def factor(cov):
        return jnp.sqrt(cov) if one_dim else cholesky_psd(cov)[0]

    chol0 = factor(cov0)
    out_mean = jnp.zeros((num_slots + 1, *mean_shape), dtype)
    out_cov = jnp.zeros((num_slots + 1, *mean_shape * 2), dtype)

    def record(out_mean, out_cov, slot, mean, cov):
        row = jnp.where(slot >= 0, slot, num_slots)
        return out_mean.at[row].set(mean), out_cov.at[row].set(cov)

    out_mean, out_cov = record(out_mean, out_cov, slots[0], mean0, cov0)
    mean, cov = mean0, cov0
    pool = (jnp.zeros((), dtype), jnp.zeros(mean_shape, dtype), jnp.zeros(mean_shape * 2, dtype))
    if first_generation:
        mean, cov = first_mean, first_cov
        pool = (sizes[0], mean, cov * (sizes[0] - ddof))
        out_mean, out_cov = record(out_mean, out_cov, slots[1], mean, cov)

    def batch(key, n, mean, chol):
        if one_dim:
            return _sufficient_1d(key, n, mean, chol, dtype)
        return _sufficient_nd(key, n, mean, chol, dtype)

    def step(carry, inputs):
        mean, cov, chol, pool, out_mean, out_cov = carry
        generation, size, split_count, slot = inputs
        k_fresh, k_a, k_b = jax.random.split(jax.random.fold_in(key, generation), 3)
        fresh = fresh_count(k_fresh, regime, size, split_count, fraction, dtype)
        fitted = generation > 0  # model 0 generates as is
        model_chol = chol
        if policy_scale != 1.0:
            model_chol = jnp.where(fitted, chol * policy_scale, chol)

        def draw_fresh(z):
            return mean0 + chol0 * z if one_dim else mean0 + matvec(chol0, z)

        def draw_model(z):
            return mean + model_chol * z if one_dim else mean + matvec(model_chol, z)

        cut = jnp.where(fitted, policy_cut, jnp.inf).astype(dtype) if truncated else None
        if regime == WEIGHTED:  # fraction is the weight w, split_count the fresh draws n (§9.1)
            if method == SAMPLES or truncated:
                none = jnp.zeros((), dtype)
                _, mean_s, ss_s = _samples(
                    k_b, size, none, draw_fresh, draw_model, mean_shape, dtype, cut
                )
                _, mean_r, ss_r = _samples(
                    k_a, split_count, split_count, draw_fresh, draw_model, mean_shape, dtype
                )
            else:
                mean_s, ss_s = batch(k_b, size, mean, model_chol)
                mean_r, ss_r = batch(k_a, split_count, mean0, chol0)
            mean = (1 - fraction) * mean_s + fraction * mean_r
            cov = (1 - fraction) * ss_s / (size - ddof) + fraction * ss_r / (split_count - ddof)
            out_mean, out_cov = record(out_mean, out_cov, slot, mean, cov)
            return (mean, cov, factor(cov), pool, out_mean, out_cov), None
        if method == SAMPLES or truncated:
            data = _samples(k_b, size, fresh, draw_fresh, draw_model, mean_shape, dtype, cut)
        elif regime in (REPLACE, ACCUMULATE):
            data = (size, *batch(k_b, size, mean, model_chol))
        else:
            data = _merge(
                fresh,
                *batch(k_a, fresh, mean0, chol0),
                size - fresh,
                *batch(k_b, size - fresh, mean, model_chol),
            )
        if regime == ACCUMULATE:
            pool = _merge(*pool, *data)
            data = pool
        n, mean, scatter = data
        cov = scatter / (n - ddof)
        out_mean, out_cov = record(out_mean, out_cov, slot, mean, cov)
        return (mean, cov, factor(cov), pool, out_mean, out_cov), None

    generations = jnp.arange(first_generation, sizes.shape[0], dtype=jnp.int32)
    inputs = (
        generations,
        sizes[first_generation:],
        split_counts[first_generation:],
        slots[first_generation + 1 :],
    )
    carry = (mean, cov, factor(cov), pool, out_mean, out_cov)
    carry, _ = lax.scan(step, carry, inputs)
    return carry[4][:num_slots], carry[5][:num_slots]


def _batch(block_keys, offset, width, first_mean, first_cov, *args, **static):
    TRACES["1d" if first_mean.ndim == 1 else "nd"] += 1  # runs only while tracing
    keys = chunk_replicate_keys(block_keys, offset, width)
    chain = partial(_chain, **static)
    in_axes = (0, 0, 0) + (None,) * len(args)
    mean, cov = jax.vmap(chain, in_axes=in_axes)(keys, first_mean, first_cov, *args)
    return mean, cov


def bytes_per_replicate(num_slots: int, dim: int, method: int) -> float:
    """Device memory one chain of a call needs (an upper bound, bytes):
    ``8 (4 (num_slots + 1)(d + d^2) + 128 (6 d + 2 d^2) [samples] + 512)``.

    The recorded rows are carried through the ``scan`` (input, output and the caller's copy:
    at most 4 of them); ``method="samples"`` adds one :data:`SAMPLE_CHUNK` of points and its
    pairwise sums; the rest (keys, a generation's summaries) is a few hundred floats. Checked
    against XLA's buffer assignment by ``benchmarks/bench_jax_memory.py``.
    """
    d = max(dim, 1)
    floats = 4 * (num_slots + 1) * (d + d * d) + 512
    if method == SAMPLES:
        floats += SAMPLE_CHUNK * (6 * d + 2 * d * d)
    return 8.0 * floats


_STATIC = ("width", "regime", "method", "first_generation", "num_slots", "dtype", "policy")
_batch_jit = jax.jit(_batch, static_argnames=_STATIC)


def simulate(
    block_keys: np.ndarray,
    num_replicates: int,
    mean0: np.ndarray,
    cov0: np.ndarray,
    first_mean: np.ndarray,
    first_cov: np.ndarray,
    sizes: np.ndarray,
    split_counts: np.ndarray,
    slots: np.ndarray,
    fraction: float,
    ddof: int,
    *,
    regime: int,
    method: int,
    first_generation: int,
    num_slots: int,
    dtype: str,
    width: int,
    progress: bool,
    policy: tuple[float, float] = (1.0, float("inf")),
) -> tuple[np.ndarray, np.ndarray]:
    """Run every replicate, ``width`` side by side per device call (the caller sizes it from a
    memory budget with :func:`bytes_per_replicate`; results do not depend on it); returns means
    and (co)variances with the replicate axis first, shapes (R, num_slots, ...).
    ``first_mean``/``first_cov`` (R, ...) are the generation-1 fits when ``first_generation`` is 1
    (a non-Gaussian model 0), else ignored."""
    with jax.enable_x64(True):
        as_float = partial(np.asarray, dtype=dtype)
        shared = (
            as_float(mean0),
            as_float(cov0),
            as_float(sizes),
            as_float(split_counts),
            np.asarray(slots, dtype=np.int32),
            as_float(fraction),
            as_float(ddof),
        )
        static = dict(
            regime=regime,
            method=method,
            first_generation=first_generation,
            num_slots=num_slots,
            dtype=dtype,
            policy=policy,
        )

        def call(keys: np.ndarray, offset: np.int32, start: int, stop: int) -> Any:
            firsts = []
            for first, base in ((first_mean, mean0), (first_cov, cov0)):
                padded = np.zeros((width, *np.shape(base)), dtype=dtype)
                if first_generation:
                    padded[: stop - start] = first[start:stop]
                firsts.append(padded)
            return _batch_jit(keys, offset, width, *firsts, *shared, **static)

        return tuple(
            run_chunks(call, block_keys, num_replicates, width, label="gaussian", progress=progress)
        )
