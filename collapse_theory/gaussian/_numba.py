"""Numba kernels for the Gaussian simulator (docs/theory.md §2.1, §3.1).

Every generation fits the mean and the (co)variance of a dataset; a dataset is summarised by its
size, mean and scatter (sum of squared deviations; a matrix in d dimensions). The "sufficient"
kernels draw those summaries directly (mean ~ normal, scatter ~ chi-square / Wishart through the
Bartlett factor), which is exact and O(1) (O(d^3)) per generation; the "samples" kernels draw the
M points one by one, as the paper does. Datasets from different sources (fresh data, the pool of
past batches) are merged with the exact pooled-scatter formula.

:func:`simulate_block_1d` and :func:`simulate_block_nd` have one signature each
(:data:`SIGNATURE_1D`, :data:`SIGNATURE_ND`), compiled at their first call: the outputs may be
contiguous or strided views of the run's arrays. Array copies and the small matrix products
are written as loops: they compile to a fraction of the code of numpy slice assignments (no
broadcasting checks), and the products give the same bits on every machine.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, types

from collapse_theory._linalg import cholesky_into
from collapse_theory._samplers import (
    RNG,
    chisquare,
    fresh_draw_count,
    gamma_constants,
    gamma_from_constants,
    one_signature,
    standard_gamma,
)
from collapse_theory.regimes import ACCUMULATE, REPLACE, WEIGHTED

SUFFICIENT, SAMPLES = 0, 1


@njit(cache=True, nogil=True, inline="always")
def _summary_1d(size, mean, sd, sum_z, sum_z2):
    """(mean, scatter) of the points mean + sd z_i from the sums of their ``size`` standard
    draws z_i and of their squares: mean + sd zbar and sd^2 (sum z_i^2 - size zbar^2).

    One pass, no buffer. The cancellation that makes sum-of-squares formulas inaccurate comes
    from a mean large against the spread; the z_i are centred by construction (zbar^2 is about
    1/size of the mean square), so the difference loses about one bit, no more than the two-pass
    formula's rounding. Clipped at 0 against rounding when the draws are all but equal.
    """
    z_bar = sum_z / size
    return mean + sd * z_bar, sd * sd * max(sum_z2 - sum_z * z_bar, 0.0)


@njit(cache=True, nogil=True, inline="always")
def _batch_1d(rng, size, mean, sd, method):
    """(mean, scatter) of ``size`` iid N(mean, sd^2) draws; scatter = sum of squared deviations."""
    if size == 0:
        return 0.0, 0.0
    if method == SUFFICIENT:
        return mean + sd * rng.standard_normal() / math.sqrt(size), sd * sd * chisquare(
            rng, size - 1
        )
    sum_z = 0.0
    sum_z2 = 0.0
    for _ in range(size):
        z = rng.standard_normal()
        sum_z += z
        sum_z2 += z * z
    return _summary_1d(size, mean, sd, sum_z, sum_z2)


@njit(cache=True, nogil=True, inline="always")
def _truncated_batch_1d(rng, size, mean, sd, cut):
    """(mean, scatter) of ``size`` iid draws mean + sd X, X ~ N(0, 1) restricted to [-cut, cut]
    (rejection; the Truncation policy, docs/theory.md §8.2)."""
    if size == 0:
        return 0.0, 0.0
    sum_z = 0.0
    sum_z2 = 0.0
    for _ in range(size):
        z = rng.standard_normal()
        while abs(z) > cut:
            z = rng.standard_normal()
        sum_z += z
        sum_z2 += z * z
    return _summary_1d(size, mean, sd, sum_z, sum_z2)


@njit(cache=True, nogil=True, inline="always")
def _merge_1d(n_a, mean_a, ss_a, n_b, mean_b, ss_b):
    n = n_a + n_b
    if n_a == 0:
        return n_b, mean_b, ss_b
    if n_b == 0:
        return n_a, mean_a, ss_a
    delta = mean_b - mean_a
    return n, mean_a + delta * (n_b / n), ss_a + ss_b + delta * delta * (n_a * n_b / n)


@njit(cache=True, nogil=True)
def _replace_sufficient_1d(
    rng,
    first_generation,
    sizes,
    ddof,
    policy_scale,
    record_slot,
    means,
    variances,
    out_mean,
    out_var,
):
    """The hot path (Replace, sufficient statistics, docs/theory.md §2.1), generation by generation
    over the block's chains so that each generation's constants are computed once:
    mu' = mu + s sigma Z / sqrt(M), sigma'^2 = s^2 sigma^2 chi2_{M-1} / (M - ddof), with s the
    temperature of the fitted models (docs/theory.md §8.2; s = 1 for model 0).

    The Gamma sampler is chosen once per generation, and each of the two chain loops inlines
    only its own: with both rejection samplers in one loop body the kernel ran at 0.77 of its
    RNG limit instead of 0.90 (benchmarks/results/rng_limit.md)."""
    for g in range(first_generation, sizes.size):
        size = sizes[g]
        scale = policy_scale if g > 0 else 1.0
        mean_scale = scale / math.sqrt(size)
        var_scale = scale * scale * 2.0 / (size - ddof)  # chi2_k = 2 Gamma(k/2)
        shape = 0.5 * (size - 1)
        slot = record_slot[g + 1]
        if shape >= 1.0:
            d, c = gamma_constants(shape)
            for r in range(means.size):
                means[r] += math.sqrt(variances[r]) * mean_scale * rng.standard_normal()
                draw = gamma_from_constants(rng, d, c)
                variances[r] *= draw * var_scale
                if slot >= 0:
                    out_mean[slot, r] = means[r]
                    out_var[slot, r] = variances[r]
        else:  # M <= 2: Gamma(1/2) or the point mass of Gamma(0)
            for r in range(means.size):
                means[r] += math.sqrt(variances[r]) * mean_scale * rng.standard_normal()
                draw = standard_gamma(rng, shape)
                variances[r] *= draw * var_scale
                if slot >= 0:
                    out_mean[slot, r] = means[r]
                    out_var[slot, r] = variances[r]


@njit(cache=True, nogil=True, inline="always")
def _record_1d(slot, means, variances, out_mean, out_var):
    """Copy every chain's (mean, variance) into row ``slot`` of the outputs (-1: not recorded)."""
    if slot < 0:
        return
    for r in range(means.size):
        out_mean[slot, r] = means[r]
        out_var[slot, r] = variances[r]


@njit(cache=True, nogil=True, inline="always")
def _weighted_step_1d(
    rng, g, size, num_real, weight, mean, var, mean0, sd0, ddof, method, policy_scale, policy_cut
):  # fmt: skip
    """One WeightedFresh generation (docs/theory.md §9.1): (1 - w) x the fit to ``size``
    synthetic draws of the model (its policy from generation 1 on) + w x the fit to ``num_real``
    draws of N(mean0, sd0^2). Synthetic draws first, then the fresh ones."""
    sd = math.sqrt(var) * (policy_scale if g > 0 else 1.0)
    if g > 0 and policy_cut < math.inf:
        mean_s, ss_s = _truncated_batch_1d(rng, size, mean, sd, policy_cut)
    else:
        mean_s, ss_s = _batch_1d(rng, size, mean, sd, method)
    mean_r, ss_r = _batch_1d(rng, num_real, mean0, sd0, method)
    return (
        (1.0 - weight) * mean_s + weight * mean_r,
        (1.0 - weight) * ss_s / (size - ddof) + weight * ss_r / (num_real - ddof),
    )


@njit(cache=True, nogil=True)
def _simulate_block_1d(
    rng,
    mean0,
    var0,
    first_mean,
    first_var,
    first_generation,
    sizes,
    fresh_counts,
    regime,
    fraction,
    ddof,
    method,
    policy_scale,
    policy_cut,
    record_slot,
    out_mean,
    out_var,
):
    """Replicates ``out_mean.shape[1]`` chains of the 1-D Gaussian; see ``simulate``.

    A fitted model (generation g >= 1) generates mean + sd * policy_scale * X with X standard
    normal restricted to [-policy_cut, policy_cut] (docs/theory.md §8.2; 1 and inf: no policy).
    A finite cut draws the synthetic points one by one whatever ``method``.

    With ``first_generation == 1`` the chains start from the given generation-1 fits
    ``first_mean[r]``, ``first_var[r]`` (fitted to data from a non-Gaussian model 0 with moments
    ``mean0``, ``var0``); generation 0 fresh draws then still come from N(mean0, var0).

    WeightedFresh (``regime == WEIGHTED``, docs/theory.md §9.1): ``fraction`` is the weight w,
    ``fresh_counts[g]`` the number n of fresh draws, and the fit is (1 - w) x (fit to the M
    synthetic draws) + w x (fit to the n draws of N(mean0, var0)), mean and variance alike.
    """
    num_generations = sizes.size
    num_replicates = out_mean.shape[1]
    truncated = policy_cut < math.inf
    sd0 = math.sqrt(var0)
    if regime == REPLACE and method == SUFFICIENT and not truncated:
        means = np.full(num_replicates, mean0)
        variances = np.full(num_replicates, var0)
        _record_1d(record_slot[0], means, variances, out_mean, out_var)
        if first_generation == 1:
            for r in range(num_replicates):
                means[r] = first_mean[r]
                variances[r] = first_var[r]
            _record_1d(record_slot[1], means, variances, out_mean, out_var)
        _replace_sufficient_1d(
            rng,
            first_generation,
            sizes,
            ddof,
            policy_scale,
            record_slot,
            means,
            variances,
            out_mean,
            out_var,
        )
        return
    for r in range(num_replicates):
        mean, var = mean0, var0
        pool_n, pool_mean, pool_ss = 0, 0.0, 0.0
        if record_slot[0] >= 0:
            out_mean[record_slot[0], r] = mean
            out_var[record_slot[0], r] = var
        if first_generation == 1:
            mean, var = first_mean[r], first_var[r]
            pool_n, pool_mean, pool_ss = sizes[0], mean, var * (sizes[0] - ddof)
            if record_slot[1] >= 0:
                out_mean[record_slot[1], r] = mean
                out_var[record_slot[1], r] = var
        for g in range(first_generation, num_generations):
            size = sizes[g]
            if regime == WEIGHTED:
                mean, var = _weighted_step_1d(
                    rng, g, size, fresh_counts[g], fraction, mean, var, mean0, sd0, ddof,
                    method, policy_scale, policy_cut,
                )  # fmt: skip
                slot = record_slot[g + 1]
                if slot >= 0:
                    out_mean[slot, r] = mean
                    out_var[slot, r] = var
                continue
            fresh = fresh_draw_count(rng, regime, size, fresh_counts[g], fraction)
            n_f = fresh
            mean_f, ss_f = _batch_1d(rng, fresh, mean0, sd0, method)
            if g == 0:  # model 0 generates as is
                mean_s, ss_s = _batch_1d(rng, size - fresh, mean, math.sqrt(var), method)
            elif truncated:
                sd = math.sqrt(var) * policy_scale
                mean_s, ss_s = _truncated_batch_1d(rng, size - fresh, mean, sd, policy_cut)
            else:
                sd = math.sqrt(var) * policy_scale
                mean_s, ss_s = _batch_1d(rng, size - fresh, mean, sd, method)
            n, batch_mean, batch_ss = _merge_1d(n_f, mean_f, ss_f, size - fresh, mean_s, ss_s)
            if regime == ACCUMULATE:
                pool_n, pool_mean, pool_ss = _merge_1d(
                    pool_n, pool_mean, pool_ss, n, batch_mean, batch_ss
                )
                n, batch_mean, batch_ss = pool_n, pool_mean, pool_ss
            mean = batch_mean
            var = batch_ss / (n - ddof)
            slot = record_slot[g + 1]
            if slot >= 0:
                out_mean[slot, r] = mean
                out_var[slot, r] = var


@njit(cache=True, nogil=True)
def _batch_nd(rng, size, mean, chol, method, buffer, z, factor, out_mean, out_scatter):
    """Mean and scatter matrix of ``size`` iid N(mean, chol chol^T) draws, written in place
    (``z`` (d,) and ``factor`` (d, d) are scratch)."""
    d = mean.size
    for i in range(d):
        out_mean[i] = 0.0
        for j in range(d):
            out_scatter[i, j] = 0.0
    if size == 0:
        return
    if method == SUFFICIENT:
        for j in range(d):
            z[j] = rng.standard_normal()
        scale = 1.0 / math.sqrt(size)
        for i in range(d):
            acc = 0.0
            for j in range(i + 1):
                acc += chol[i, j] * z[j]
            out_mean[i] = mean[i] + acc * scale
        if size < 2:
            return
        # Bartlett: W = A A^T ~ Wishart_d(df, I), df = size - 1; scatter = (chol A)(chol A)^T.
        # For df < d the factor is d x df lower-trapezoidal (columns j >= df stay zero). A is
        # built in out_scatter (zeroed above), which then receives the scatter.
        df = size - 1
        a = out_scatter
        for i in range(d):
            if i < df:
                a[i, i] = math.sqrt(chisquare(rng, df - i))
            for j in range(min(i, df)):
                a[i, j] = rng.standard_normal()
        # The products as loops, not BLAS calls: a third less time at d = 3, and the same bits
        # on every machine (a BLAS picks its own summation order and fused multiply-adds).
        for i in range(d):  # factor = chol A
            for j in range(d):
                acc = 0.0
                for k in range(d):
                    acc += chol[i, k] * a[k, j]
                factor[i, j] = acc
        for i in range(d):  # scatter = factor factor^T
            for j in range(d):
                acc = 0.0
                for k in range(d):
                    acc += factor[i, k] * factor[j, k]
                out_scatter[i, j] = acc
        return
    for s in range(size):
        for j in range(d):
            z[j] = rng.standard_normal()
        for i in range(d):
            acc = mean[i]
            for j in range(i + 1):
                acc += chol[i, j] * z[j]
            buffer[s, i] = acc
            out_mean[i] += acc
    for i in range(d):
        out_mean[i] /= size
    for s in range(size):
        for i in range(d):
            di = buffer[s, i] - out_mean[i]
            for j in range(i + 1):
                out_scatter[i, j] += di * (buffer[s, j] - out_mean[j])
    for i in range(d):
        for j in range(i):
            out_scatter[j, i] = out_scatter[i, j]


@njit(cache=True, nogil=True)
def _merge_nd(n_a, mean_a, ss_a, n_b, mean_b, ss_b):
    """Pool (n_b, mean_b, ss_b) into (n_a, mean_a, ss_a) in place; returns the pooled size:
    ss_a + ss_b + (n_a n_b / n) delta delta^T and mean_a + delta n_b / n, delta = mean_b - mean_a."""
    d = mean_a.size
    n = n_a + n_b
    if n_b == 0:
        return n_a
    if n_a == 0:
        _copy_fit(mean_b, ss_b, 1.0, mean_a, ss_a)
        return n_b
    weight = n_a * n_b / n
    for i in range(d):
        delta_i = mean_b[i] - mean_a[i]
        for j in range(d):
            ss_a[i, j] += ss_b[i, j] + weight * (delta_i * (mean_b[j] - mean_a[j]))
    ratio = n_b / n
    for i in range(d):
        mean_a[i] += (mean_b[i] - mean_a[i]) * ratio
    return n


@njit(cache=True, nogil=True, inline="always")
def _copy_2d(source, target):
    """target[:, :] = source, as a loop (no broadcasting machinery to compile)."""
    for i in range(source.shape[0]):
        for j in range(source.shape[1]):
            target[i, j] = source[i, j]


@njit(cache=True, nogil=True, inline="always")
def _copy_fit(mean, scatter, divisor, out_mean, out_cov):
    """out_mean[:] = mean, out_cov[:, :] = scatter / divisor (a fit from its summary)."""
    d = mean.size
    for i in range(d):
        out_mean[i] = mean[i]
        for j in range(d):
            out_cov[i, j] = scatter[i, j] / divisor


@njit(cache=True, nogil=True, inline="always")
def _record_nd(slot, r, mean, cov, out_mean, out_cov):
    """Chain r's (mean, covariance) into row ``slot`` of the outputs (-1: not recorded)."""
    if slot >= 0:
        _copy_fit(mean, cov, 1.0, out_mean[slot, r], out_cov[slot, r])


@njit(cache=True, nogil=True)
def _simulate_block_nd(
    rng,
    mean0,
    cov0,
    first_mean,
    first_cov,
    first_generation,
    sizes,
    fresh_counts,
    regime,
    fraction,
    ddof,
    method,
    record_slot,
    out_mean,
    out_cov,
):
    """Replicates ``out_mean.shape[1]`` chains of the d-dimensional Gaussian (see the 1-D
    kernel for ``first_generation``)."""
    d = mean0.size
    num_generations = sizes.size
    num_replicates = out_mean.shape[1]
    max_size = 1
    for g in range(num_generations):
        max_size = max(max_size, sizes[g], fresh_counts[g])
    buffer = np.empty((max_size if method == SAMPLES else 1, d))
    # Contiguous copies of the inputs, like the work arrays: one signature for each helper.
    mean0 = mean0.copy()
    cov0 = cov0.copy()
    chol0 = np.empty((d, d))
    cholesky_into(cov0, chol0, True)
    chol = np.empty((d, d))
    mean = np.empty(d)
    cov = np.empty((d, d))
    mean_f, ss_f = np.empty(d), np.empty((d, d))
    mean_b, ss_b = np.empty(d), np.empty((d, d))
    pool_mean, pool_ss = np.empty(d), np.empty((d, d))
    z, factor = np.empty(d), np.empty((d, d))  # scratch of _batch_nd
    for r in range(num_replicates):
        _copy_fit(mean0, cov0, 1.0, mean, cov)
        _copy_2d(chol0, chol)
        pool_n = 0
        _record_nd(record_slot[0], r, mean, cov, out_mean, out_cov)
        if first_generation == 1:
            _copy_fit(first_mean[r], first_cov[r], 1.0, mean, cov)
            cholesky_into(cov, chol, True)
            pool_n = sizes[0]
            for i in range(d):
                pool_mean[i] = mean[i]
                for j in range(d):
                    pool_ss[i, j] = cov[i, j] * (sizes[0] - ddof)
            _record_nd(record_slot[1], r, mean, cov, out_mean, out_cov)
        for g in range(first_generation, num_generations):
            size = sizes[g]
            if regime == WEIGHTED:  # docs/theory.md §9.1; see the 1-D kernel
                num_real = fresh_counts[g]
                _batch_nd(rng, size, mean, chol, method, buffer, z, factor, mean_b, ss_b)
                _batch_nd(rng, num_real, mean0, chol0, method, buffer, z, factor, mean_f, ss_f)
                for i in range(d):
                    mean[i] = (1.0 - fraction) * mean_b[i] + fraction * mean_f[i]
                    for j in range(d):
                        cov[i, j] = (1.0 - fraction) * ss_b[i, j] / (size - ddof) + fraction * (
                            ss_f[i, j] / (num_real - ddof)
                        )
                cholesky_into(cov, chol, True)
                _record_nd(record_slot[g + 1], r, mean, cov, out_mean, out_cov)
                continue
            fresh = fresh_draw_count(rng, regime, size, fresh_counts[g], fraction)
            _batch_nd(rng, fresh, mean0, chol0, method, buffer, z, factor, mean_f, ss_f)
            _batch_nd(rng, size - fresh, mean, chol, method, buffer, z, factor, mean_b, ss_b)
            n = _merge_nd(fresh, mean_f, ss_f, size - fresh, mean_b, ss_b)
            if regime == ACCUMULATE:
                pool_n = _merge_nd(pool_n, pool_mean, pool_ss, n, mean_f, ss_f)
                n = pool_n
                _copy_fit(pool_mean, pool_ss, n - ddof, mean, cov)
            else:
                _copy_fit(mean_f, ss_f, n - ddof, mean, cov)
            cholesky_into(cov, chol, True)
            _record_nd(record_slot[g + 1], r, mean, cov, out_mean, out_cov)


# ---------------------------------------------------------------------------------------------
# Location estimators beyond the mean (docs/theory.md §10)

LOCATION_MEAN, LOCATION_MEDIAN, LOCATION_TRIMMED = 0, 1, 2


@njit(cache=True, nogil=True)
def _location(x, code, trim):
    """The location estimate of the points ``x``: mean, median, or the trimmed mean that drops
    floor(trim n) points at each end (scipy.stats.trim_mean's convention)."""
    n = x.size
    if code == LOCATION_MEAN:
        return x.sum() / n
    ordered = np.sort(x)
    if code == LOCATION_MEDIAN:
        half = n // 2
        return ordered[half] if n % 2 == 1 else 0.5 * (ordered[half - 1] + ordered[half])
    cut = int(trim * n)
    return ordered[cut : n - cut].sum() / (n - 2 * cut)


@njit(cache=True, nogil=True)
def _simulate_location_1d(
    rng,
    mean0,
    var0,
    sizes,
    accumulate,
    location,
    trim,
    known_scale,
    ddof,
    record_slot,
    out_mean,
    out_var,
):
    """Chains of the 1-D Gaussian whose location is refitted by an estimator (docs/theory.md §10).

    Every generation draws ``sizes[g]`` points of N(mean, var) one by one; the new location is
    :func:`_location` of the newest points (Replace) or of all points so far (``accumulate``); the
    variance stays ``var0`` when ``known_scale``, else it is the sample variance about the
    sample mean of the same points, divided by n - ddof.
    """
    num_generations = sizes.size
    total = 0
    largest = 1
    for g in range(num_generations):
        total += sizes[g]
        largest = max(largest, sizes[g])
    pool = np.empty(max(total, 1) if accumulate else largest)
    for r in range(out_mean.shape[1]):
        mean, var = mean0, var0
        if record_slot[0] >= 0:
            out_mean[record_slot[0], r] = mean
            out_var[record_slot[0], r] = var
        used = 0
        for g in range(num_generations):
            sd = math.sqrt(var)
            start = used if accumulate else 0
            for i in range(sizes[g]):
                pool[start + i] = mean + sd * rng.standard_normal()
            n = start + sizes[g]
            used = n
            points = pool[:n]
            mean = _location(points, location, trim)
            if not known_scale:
                centre = points.sum() / n
                scatter = 0.0
                for i in range(n):
                    scatter += (points[i] - centre) ** 2
                var = scatter / (n - ddof)
            slot = record_slot[g + 1]
            if slot >= 0:
                out_mean[slot, r] = mean
                out_var[slot, r] = var


_F64 = types.float64
_I64 = types.int64
#: The signature of :func:`simulate_block_1d`: (rng, mean0, var0, first_mean, first_var,
#: first_generation, sizes, fresh_counts, regime, fraction, ddof, method, policy_scale,
#: policy_cut, record_slot, out_mean, out_var); arrays of any layout.
SIGNATURE_1D = types.void(
    RNG,
    _F64,
    _F64,
    _F64[:],
    _F64[:],
    _I64,
    _I64[:],
    _I64[:],
    _I64,
    _F64,
    _I64,
    _I64,
    _F64,
    _F64,
    _I64[:],
    _F64[:, :],
    _F64[:, :],
)
#: The signature of :func:`simulate_block_nd`: as :data:`SIGNATURE_1D` (without the policy) with
#: mean0 (d,), cov0 (d, d), first fits (R, d) and (R, d, d), outputs (slots, R, d) and
#: (slots, R, d, d).
SIGNATURE_ND = types.void(
    RNG,
    _F64[:],
    _F64[:, :],
    _F64[:, :],
    _F64[:, :, :],
    _I64,
    _I64[:],
    _I64[:],
    _I64,
    _F64,
    _I64,
    _I64,
    _I64[:],
    _F64[:, :, :],
    _F64[:, :, :, :],
)
simulate_block_1d = one_signature(_simulate_block_1d, SIGNATURE_1D)
simulate_block_nd = one_signature(_simulate_block_nd, SIGNATURE_ND)
#: The signature of :func:`simulate_location_1d`: (rng, mean0, var0, sizes, accumulate,
#: location, trim, known_scale, ddof, record_slot, out_mean, out_var).
SIGNATURE_LOCATION = types.void(
    RNG, _F64, _F64, _I64[:], _I64, _I64, _F64, _I64, _I64, _I64[:], _F64[:, :], _F64[:, :]
)
simulate_location_1d = one_signature(_simulate_location_1d, SIGNATURE_LOCATION)
