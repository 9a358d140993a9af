"""Numba kernel of the KDE simulator (docs/theory.md §5.1).

A model is a Gaussian KDE: K support points (rows of an array) and the lower Cholesky factor L
of its kernel covariance; a draw picks a support point uniformly and adds L z. Model 0 is given
the same way: a Gaussian truth N(0, var0) is one support point at 0 with L = sqrt(var0), an
empirical start (an array of points) has L = 0. Each generation draws dataset n from model n
(fresh points from model 0 under FreshData), then fits model n+1 on dataset n (Replace,
FreshData), on the pool of datasets 0..n (Accumulate) or on a uniform subsample of that pool of
one dataset's size (AccumulateSubsample); the bandwidth is fixed (L = h I) or proportional to
the fitted spread (L = c chol(MLE covariance)).

:func:`simulate_block` runs one replicate block with one compiled signature (:data:`SIGNATURE`).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, types

from collapse_theory._linalg import cholesky_into
from collapse_theory._samplers import RNG, one_signature, uniform_index, uniform_subset
from collapse_theory.regimes import ACCUMULATE, FRESH_MIX, FRESH_SPLIT

#: The kernels' code of AccumulateSubsample (the shared codes stop at ACCUMULATE = 3).
SUBSAMPLE = 4
#: Bandwidth codes: a fixed h, Proportional(c), scipy's Scott and Silverman factors.
FIXED, PROPORTIONAL, SCOTT, SILVERMAN = 0, 1, 2, 3


@njit(cache=True, nogil=True, inline="always")
def _draw(rng, support, count, chol, out, row, z):
    """One draw from the KDE on ``support[:count]`` with kernel factor ``chol`` into ``out[row]``."""
    j = uniform_index(rng, 0, count)
    d = out.shape[1]
    for a in range(d):
        z[a] = rng.standard_normal()
    for a in range(d):
        acc = support[j, a]
        for b in range(a + 1):
            acc += chol[a, b] * z[b]
        out[row, a] = acc


@njit(
    cache=True, nogil=True, inline="always"
)  # inlined: no second signature for other literals or layouts
def _moments(points, count, mean, cov):
    """MLE mean and covariance of ``points[:count]`` into ``mean`` and ``cov``."""
    d = points.shape[1]
    for a in range(d):
        total = 0.0
        for i in range(count):
            total += points[i, a]
        mean[a] = total / count
    for a in range(d):
        for b in range(a + 1):
            total = 0.0
            for i in range(count):
                total += (points[i, a] - mean[a]) * (points[i, b] - mean[b])
            cov[a, b] = total / count
            cov[b, a] = cov[a, b]


@njit(cache=True, nogil=True)
def _factor_squared(rule, value, count, d):
    """c^2 of a data-dependent bandwidth on ``count`` points (kde.options.kernel_factor_squared)."""
    if rule == PROPORTIONAL:
        return value * value
    base = count if rule == SCOTT else count * (d + 2.0) / 4.0
    return base ** (-2.0 / (d + 4.0)) * count / (count - 1.0)


@njit(cache=True, nogil=True)
def _add_kernel(count, rule, value, d, cov, chol, work):
    """Turn ``cov`` (the MLE covariance of the ``count`` fitted points) into the KDE's
    covariance (plus the kernel covariance) and write the kernel's Cholesky factor."""
    if rule == FIXED:
        for a in range(d):
            for b in range(d):
                chol[a, b] = value if a == b else 0.0
            cov[a, a] += value * value
        return
    factor2 = _factor_squared(rule, value, count, d)
    for a in range(d):
        for b in range(d):
            work[a, b] = factor2 * cov[a, b]
    cholesky_into(work, chol, True)
    for a in range(d):
        for b in range(d):
            cov[a, b] += work[a, b]


@njit(cache=True, nogil=True)
def _merge(count, mean, scatter, batch_count, batch_mean, batch_scatter):
    """Pool (count, mean, scatter) with a batch, in place (Chan's exact pooled scatter)."""
    total = count + batch_count
    d = mean.shape[0]
    for a in range(d):
        for b in range(d):
            scatter[a, b] += batch_scatter[a, b] + (batch_mean[a] - mean[a]) * (
                batch_mean[b] - mean[b]
            ) * (count * batch_count / total)
    for a in range(d):
        mean[a] += (batch_mean[a] - mean[a]) * (batch_count / total)


@njit(cache=True, nogil=True)
def _tail_mass(support, count, chol, threshold):
    """Mass outside [-threshold, threshold] of the 1-D KDE on ``support[:count]`` with kernel sd
    chol[0, 0]."""
    h = chol[0, 0]
    total = 0.0
    for i in range(count):
        x = support[i, 0]
        if h > 0.0:
            scale = h * math.sqrt(2.0)
            total += 0.5 * (math.erfc((threshold - x) / scale) + math.erfc((threshold + x) / scale))
        elif abs(x) > threshold:
            total += 1.0
    return total / count


@njit(cache=True, nogil=True)
def _simulate_block(
    rng,
    support0,
    chol0,
    num_samples,
    num_generations,
    rule,
    value,
    regime,
    split_count,
    fraction,
    slots,
    threshold,
    out_mean,
    out_cov,
    out_tail,
    out_points,
):
    """Run ``out_mean.shape[1]`` chains; write mean (S, R, d), covariance (S, R, d, d) and, when
    ``threshold`` is finite, the 1-D tail mass outside [-threshold, threshold] (S, R) of model
    n at the recorded slots; when ``out_points`` has M points per slot, dataset n itself (S, R, M, d): the draws from
    model n (drawn also at the last generation, after everything else)."""
    d = support0.shape[1]
    m = num_samples
    pooled = regime == ACCUMULATE or regime == SUBSAMPLE
    capacity = (num_generations + 1) * m if pooled else m
    pool = np.empty((capacity, d))
    other = np.empty((m, d))
    sub = np.empty((m, d))
    index = np.empty(capacity, dtype=np.int64)
    mean = np.empty(d)
    cov = np.empty((d, d))
    chol = np.empty((d, d))
    work = np.empty((d, d))
    z = np.empty(d)
    batch_mean = np.empty(d)
    pool_mean = np.empty(d)
    pool_scatter = np.empty((d, d))
    record_tail = math.isfinite(threshold)
    record_points = out_points.shape[2] > 0
    for rep in range(out_mean.shape[1]):
        support, count = support0, support0.shape[0]
        _moments(support0, count, mean, cov)
        for a in range(d):
            for b in range(d):
                chol[a, b] = chol0[a, b]
                total = 0.0
                for k in range(d):
                    total += chol0[a, k] * chol0[b, k]
                cov[a, b] += total
        dest, spare = pool, other
        pool_mean[:] = 0.0
        pool_scatter[:, :] = 0.0
        for n in range(num_generations + 1):
            slot = slots[n]
            if slot >= 0:
                for a in range(d):
                    out_mean[slot, rep, a] = mean[a]
                    for b in range(d):
                        out_cov[slot, rep, a, b] = cov[a, b]
                if record_tail:
                    out_tail[slot, rep] = _tail_mass(support, count, chol, threshold)
            keep_points = record_points and slot >= 0
            if n == num_generations and not keep_points:
                break
            start = n * m if pooled else 0
            # One loop per source: a per-point choice between two inlined draws made every
            # regime three times slower (measured), so only "mix" pays for it.
            if regime == FRESH_MIX:
                for i in range(start, start + m):
                    if rng.random() < fraction:
                        _draw(rng, support0, support0.shape[0], chol0, dest, i, z)
                    else:
                        _draw(rng, support, count, chol, dest, i, z)
            else:
                fresh = split_count if regime == FRESH_SPLIT else 0
                for i in range(start, start + fresh):
                    _draw(rng, support0, support0.shape[0], chol0, dest, i, z)
                for i in range(start + fresh, start + m):
                    _draw(rng, support, count, chol, dest, i, z)
            if keep_points:
                for i in range(m):
                    for a in range(d):
                        out_points[slot, rep, i, a] = dest[start + i, a]
            if n == num_generations:
                break
            if regime == ACCUMULATE:  # the pool's moments, merged batch by batch: O(M d^2)
                _moments(pool[start:], m, batch_mean, cov)
                for a in range(d):
                    for b in range(d):
                        cov[a, b] *= m
                _merge(start, pool_mean, pool_scatter, m, batch_mean, cov)
                support, count = pool, start + m
                for a in range(d):
                    mean[a] = pool_mean[a]
                    for b in range(d):
                        cov[a, b] = pool_scatter[a, b] / count
                _add_kernel(count, rule, value, d, cov, chol, work)
                continue
            elif regime == SUBSAMPLE:
                uniform_subset(rng, index, start + m, m)
                for i in range(m):
                    for a in range(d):
                        sub[i, a] = pool[index[i], a]
                support, count = sub, m
            else:
                support, count = dest, m
                dest, spare = spare, dest
            _moments(support, count, mean, cov)
            _add_kernel(count, rule, value, d, cov, chol, work)


_F64, _I64 = types.float64, types.int64
_A2 = types.Array(_F64, 2, "A")

#: The one compiled signature of :func:`simulate_block`.
SIGNATURE = types.void(
    RNG,
    _A2,
    _A2,
    _I64,
    _I64,
    _I64,
    _F64,
    _I64,
    _I64,
    _F64,
    types.Array(_I64, 1, "A"),
    _F64,
    types.Array(_F64, 3, "A"),
    types.Array(_F64, 4, "A"),
    _A2,
    types.Array(_F64, 4, "A"),
)

simulate_block = one_signature(_simulate_block, SIGNATURE)
