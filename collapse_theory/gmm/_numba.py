"""Numba kernels for Gaussian mixtures: batched EM and the recursive-fitting simulator (theory.md §4).

EM follows scikit-learn's ``GaussianMixture`` (full covariances) step for step so that, on the same
data and initialisation, both reach the same log-likelihood:

- E step: ``log r_nk = log w_k + log N(x_n; m_k, C_k) - logsumexp_k(...)`` (log-sum-exp), and the
  mean log-likelihood ``L = (1/N) sum_n logsumexp_k(...)``;
- M step: ``N_k = sum_n r_nk + 10 eps``, ``w_k = N_k / sum N_k``, ``m_k = sum_n r_nk x_n / N_k``,
  ``C_k = sum_n r_nk (x_n - m_k)(x_n - m_k)^T / N_k + reg_covar I`` (two passes);
- stop at the first iteration whose change of ``L`` is below ``tol`` (``L`` starts at -inf), or
  after ``max_iter`` iterations; the reported ``L`` is that of the last E step (scikit-learn's
  ``lower_bound_``).

A component is *lost* when its responsibility mass ``sum_n r_nk`` falls to ``d`` points or fewer
(too few to determine a d x d covariance; theory.md §3 needs M > d) or its covariance is not
positive definite: its weight becomes exactly 0, its mean and covariance keep their last valid
values, and it takes no further part (in this fit and, warm-started, in later generations). This is
the mixture analogue of a Wright–Fisher state hitting 0 (theory.md §1, §4); scikit-learn raises an
error in the same situation.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from collapse_theory._samplers import binomial
from collapse_theory.regimes import ACCUMULATE, FRESH_MIX, FRESH_SPLIT

WARM, KMEANS = 0, 1

_LOG_2PI = math.log(2.0 * math.pi)
_EPS10 = 10.0 * np.finfo(np.float64).eps
_KMEANS_MAX_ITER = 100


@njit(cache=True, nogil=True)
def cholesky_into(cov, out):
    """Lower Cholesky factor of ``cov`` into ``out``; False if ``cov`` is not positive definite."""
    d = cov.shape[0]
    for i in range(d):
        for j in range(d):
            out[i, j] = 0.0
    for j in range(d):
        acc = cov[j, j]
        for k in range(j):
            acc -= out[j, k] * out[j, k]
        if not acc > 0.0 or not math.isfinite(acc):
            return False
        out[j, j] = math.sqrt(acc)
        for i in range(j + 1, d):
            acc_i = cov[i, j]
            for k in range(j):
                acc_i -= out[i, k] * out[j, k]
            out[i, j] = acc_i / out[j, j]
    return True


@njit(cache=True, nogil=True)
def _prepare(weights, covs, active, chol, log_norm, log_w):
    """Cholesky factors and log normalisers ``log w_k - sum log L_kk - d log(2 pi) / 2``;
    a component whose covariance is not positive definite is marked lost."""
    num_components, d = covs.shape[0], covs.shape[1]
    for k in range(num_components):
        if active[k] and not cholesky_into(covs[k], chol[k]):
            active[k] = False
            weights[k] = 0.0
        if active[k]:
            half_log_det = 0.0
            for i in range(d):
                half_log_det += math.log(chol[k, i, i])
            log_w[k] = math.log(weights[k]) if weights[k] > 0.0 else -np.inf
            log_norm[k] = log_w[k] - half_log_det - 0.5 * d * _LOG_2PI


@njit(cache=True, nogil=True)
def _e_step(x, num_points, means, active, chol, log_norm, resp, z):
    """Responsibilities into ``resp[:num_points]``; returns the mean log-likelihood."""
    num_components, d = means.shape[0], means.shape[1]
    total = 0.0
    for n in range(num_points):
        top = -np.inf
        for k in range(num_components):
            if not active[k]:
                resp[n, k] = -np.inf
                continue
            quad = 0.0
            for i in range(d):
                s = x[n, i] - means[k, i]
                for j in range(i):
                    s -= chol[k, i, j] * z[j]
                z[i] = s / chol[k, i, i]
                quad += z[i] * z[i]
            value = log_norm[k] - 0.5 * quad
            resp[n, k] = value
            if value > top:
                top = value
        acc = 0.0
        for k in range(num_components):
            if active[k]:
                e = math.exp(resp[n, k] - top)
                resp[n, k] = e
                acc += e
            else:
                resp[n, k] = 0.0
        inv = 1.0 / acc
        for k in range(num_components):
            resp[n, k] *= inv
        total += top + math.log(acc)
    return total / num_points


@njit(cache=True, nogil=True)
def _m_step(x, num_points, resp, reg_covar, weights, means, covs, active, nk, mean_k):
    """Weights, means and covariances from the responsibilities (scikit-learn's M step); a
    component with responsibility mass <= d is marked lost (weight 0, parameters kept)."""
    num_components, d = means.shape[0], means.shape[1]
    for k in range(num_components):
        nk[k] = 0.0
    for n in range(num_points):
        for k in range(num_components):
            nk[k] += resp[n, k]
    total = 0.0
    for k in range(num_components):
        if active[k] and nk[k] <= d:
            active[k] = False
        if active[k]:
            nk[k] += _EPS10
            total += nk[k]
    for k in range(num_components):
        if not active[k]:
            weights[k] = 0.0
            continue
        weights[k] = nk[k] / total
        for i in range(d):
            mean_k[i] = 0.0
        for n in range(num_points):
            r = resp[n, k]
            for i in range(d):
                mean_k[i] += r * x[n, i]
        inv = 1.0 / nk[k]
        for i in range(d):
            mean_k[i] *= inv
            means[k, i] = mean_k[i]
        for i in range(d):
            for j in range(i + 1):
                covs[k, i, j] = 0.0
        for n in range(num_points):
            r = resp[n, k]
            for i in range(d):
                di = r * (x[n, i] - mean_k[i])
                for j in range(i + 1):
                    covs[k, i, j] += di * (x[n, j] - mean_k[j])
        for i in range(d):
            for j in range(i + 1):
                covs[k, i, j] *= inv
                covs[k, j, i] = covs[k, i, j]
            covs[k, i, i] += reg_covar


@njit(cache=True, nogil=True)
def em_fit(x, num_points, weights, means, covs, active, tol, max_iter, reg_covar, work):
    """EM on ``x[:num_points]`` from the parameters given, updated in place.

    ``work`` is the tuple of buffers from :func:`em_buffers`. Returns ``(iterations, converged,
    mean log-likelihood of the last E step)``.
    """
    chol, log_norm, log_w, resp, z, nk, mean_k = work
    lower = -np.inf
    converged = False
    iterations = 0
    for it in range(1, max_iter + 1):
        iterations = it
        previous = lower
        _prepare(weights, covs, active, chol, log_norm, log_w)
        lower = _e_step(x, num_points, means, active, chol, log_norm, resp, z)
        _m_step(x, num_points, resp, reg_covar, weights, means, covs, active, nk, mean_k)
        if abs(lower - previous) < tol:
            converged = True
            break
    # A covariance made singular by the last M step marks its component lost now.
    _prepare(weights, covs, active, chol, log_norm, log_w)
    _renormalise(weights, active)
    return iterations, converged, lower


@njit(cache=True, nogil=True)
def _renormalise(weights, active):
    total = 0.0
    for k in range(weights.size):
        if active[k]:
            total += weights[k]
    if total > 0.0:
        for k in range(weights.size):
            weights[k] = weights[k] / total if active[k] else 0.0


@njit(cache=True, nogil=True)
def em_buffers(max_points, num_components, dim):
    """Scratch arrays for :func:`em_fit` (allocated once per block)."""
    return (
        np.empty((num_components, dim, dim)),
        np.empty(num_components),
        np.empty(num_components),
        np.empty((max_points, num_components)),
        np.empty(dim),
        np.empty(num_components),
        np.empty(dim),
    )


@njit(cache=True, nogil=True, inline="always")
def _kmeans_init(rng, x, num_points, weights, means, covs, active, work, labels, centres):
    """Greedy-free k-means++ seeding (D^2 sampling), Lloyd iterations to a fixed point (at most
    100), then the M step of the hard assignment (as scikit-learn's ``init_params="kmeans"``)."""
    num_components, d = means.shape[0], means.shape[1]
    resp = work[3]
    nk, mean_k = work[5], work[6]
    dist = work[3][:, 0].copy()  # scratch of length max_points
    first = int(rng.random() * num_points)
    if first >= num_points:
        first = num_points - 1
    for i in range(d):
        centres[0, i] = x[first, i]
    for n in range(num_points):
        acc = 0.0
        for i in range(d):
            acc += (x[n, i] - centres[0, i]) ** 2
        dist[n] = acc
    for c in range(1, num_components):
        total = 0.0
        for n in range(num_points):
            total += dist[n]
        pick = num_points - 1
        if total > 0.0:
            u = rng.random() * total
            acc = 0.0
            for n in range(num_points):
                acc += dist[n]
                if acc > u:
                    pick = n
                    break
        else:
            pick = int(rng.random() * num_points) % num_points
        for i in range(d):
            centres[c, i] = x[pick, i]
        for n in range(num_points):
            acc = 0.0
            for i in range(d):
                acc += (x[n, i] - centres[c, i]) ** 2
            if acc < dist[n]:
                dist[n] = acc
    for n in range(num_points):
        labels[n] = -1
    for _ in range(_KMEANS_MAX_ITER):
        changed = False
        for n in range(num_points):
            best, best_k = np.inf, 0
            for c in range(num_components):
                acc = 0.0
                for i in range(d):
                    acc += (x[n, i] - centres[c, i]) ** 2
                if acc < best:
                    best, best_k = acc, c
            if labels[n] != best_k:
                labels[n] = best_k
                changed = True
        if not changed:
            break
        for c in range(num_components):
            nk[c] = 0.0
            for i in range(d):
                centres[c, i] = 0.0
        for n in range(num_points):
            c = labels[n]
            nk[c] += 1.0
            for i in range(d):
                centres[c, i] += x[n, i]
        for c in range(num_components):
            if nk[c] > 0.0:
                for i in range(d):
                    centres[c, i] /= nk[c]
    for n in range(num_points):
        for c in range(num_components):
            resp[n, c] = 1.0 if labels[n] == c else 0.0
    for c in range(num_components):
        active[c] = True
    _m_step(x, num_points, resp, 0.0, weights, means, covs, active, nk, mean_k)


@njit(cache=True, nogil=True)
def fit_block(
    rng,
    x,
    init_code,
    tol,
    max_iter,
    reg_covar,
    weights,
    means,
    covs,
    active,
    out_iter,
    out_conv,
    out_ll,
):
    """EM for every replicate of a block: ``x`` (R, N, d); parameters (R, K, ...) in place."""
    num_replicates, num_points, d = x.shape
    num_components = weights.shape[1]
    work = em_buffers(num_points, num_components, d)
    labels = np.empty(num_points, dtype=np.int64)
    centres = np.empty((num_components, d))
    for r in range(num_replicates):
        if init_code == KMEANS:
            _kmeans_init(
                rng,
                x[r],
                num_points,
                weights[r],
                means[r],
                covs[r],
                active[r],
                work,
                labels,
                centres,
            )
            for k in range(num_components):
                if active[r, k]:
                    for i in range(d):
                        covs[r, k, i, i] += reg_covar
        iterations, converged, ll = em_fit(
            x[r],
            num_points,
            weights[r],
            means[r],
            covs[r],
            active[r],
            tol,
            max_iter,
            reg_covar,
            work,
        )
        out_iter[r] = iterations
        out_conv[r] = converged
        out_ll[r] = ll


@njit(cache=True, nogil=True, inline="always")
def _sample_into(rng, count, weights, means, chol, active, out, start, z):
    """``count`` iid draws from the mixture into ``out[start:start + count]`` (component counts by
    sequential binomials, then N(m_k, L_k L_k^T) by the Cholesky factor)."""
    num_components, d = means.shape[0], means.shape[1]
    remaining = count
    mass = 1.0
    row = start
    for k in range(num_components):
        if remaining == 0:
            break
        if not active[k] or weights[k] <= 0.0:
            continue
        p = weights[k] / mass if mass > 0.0 else 1.0
        c = remaining if k == num_components - 1 or p >= 1.0 else binomial(rng, remaining, p)
        mass -= weights[k]
        remaining -= c
        for _ in range(c):
            for i in range(d):
                z[i] = rng.standard_normal()
            for i in range(d):
                acc = means[k, i]
                for j in range(i + 1):
                    acc += chol[k, i, j] * z[j]
                out[row, i] = acc
            row += 1
    # Rounding can leave a few draws unassigned: give them to the last active component.
    if remaining > 0:
        last = num_components - 1
        while last > 0 and not active[last]:
            last -= 1
        for _ in range(remaining):
            for i in range(d):
                z[i] = rng.standard_normal()
            for i in range(d):
                acc = means[last, i]
                for j in range(i + 1):
                    acc += chol[last, i, j] * z[j]
                out[row, i] = acc
            row += 1


@njit(cache=True, nogil=True)
def simulate_block(
    rng,
    weights0,
    means0,
    covs0,
    sizes,
    fresh_counts,
    regime,
    fraction,
    init_code,
    tol,
    max_iter,
    reg_covar,
    record_slot,
    out_weights,
    out_means,
    out_covs,
    out_ll,
    out_iter,
    out_conv,
    out_lost,
):
    """Replicates ``out_weights.shape[1]`` chains of recursive mixture fitting (see ``simulate``)."""
    num_components, d = means0.shape[0], means0.shape[1]
    num_generations = sizes.size
    num_replicates = out_weights.shape[1]
    max_points = 1
    if regime == ACCUMULATE:
        max_points = 0
        for g in range(num_generations):
            max_points += sizes[g]
    else:
        for g in range(num_generations):
            max_points = max(max_points, sizes[g])
    x = np.empty((max(max_points, 1), d))
    work = em_buffers(max(max_points, 1), num_components, d)
    labels = np.empty(max(max_points, 1), dtype=np.int64)
    centres = np.empty((num_components, d))
    z = np.empty(d)
    active0 = np.empty(num_components, dtype=np.bool_)
    for k in range(num_components):
        active0[k] = weights0[k] > 0.0
    chol0 = np.zeros((num_components, d, d))
    for k in range(num_components):
        if active0[k]:
            cholesky_psd_into(covs0[k], chol0[k])
    weights = np.empty(num_components)
    means = np.empty((num_components, d))
    covs = np.empty((num_components, d, d))
    active = np.empty(num_components, dtype=np.bool_)
    chol = np.empty((num_components, d, d))
    for r in range(num_replicates):
        weights[:] = weights0
        means[:, :] = means0
        covs[:, :, :] = covs0
        active[:] = active0
        chol[:, :, :] = chol0
        slot = record_slot[0]
        if slot >= 0:
            out_weights[slot, r] = weights
            out_means[slot, r] = means
            out_covs[slot, r] = covs
            out_ll[slot, r] = np.nan
            out_iter[slot, r] = 0
            out_conv[slot, r] = True
            for k in range(num_components):
                out_lost[slot, r, k] = not active[k]
        pool = 0
        for g in range(num_generations):
            size = sizes[g]
            fresh = 0
            if regime == FRESH_SPLIT:
                fresh = fresh_counts[g]
            elif regime == FRESH_MIX:
                fresh = binomial(rng, size, fraction)
            start = pool if regime == ACCUMULATE else 0
            _sample_into(rng, fresh, weights0, means0, chol0, active0, x, start, z)
            _sample_into(rng, size - fresh, weights, means, chol, active, x, start + fresh, z)
            num_points = start + size
            if regime == ACCUMULATE:
                pool = num_points
            if init_code == KMEANS:
                _kmeans_init(
                    rng, x, num_points, weights, means, covs, active, work, labels, centres
                )
                for k in range(num_components):
                    if active[k]:
                        for i in range(d):
                            covs[k, i, i] += reg_covar
            iterations, converged, ll = em_fit(
                x, num_points, weights, means, covs, active, tol, max_iter, reg_covar, work
            )
            for k in range(num_components):
                if active[k]:
                    cholesky_into(covs[k], chol[k])
            slot = record_slot[g + 1]
            if slot >= 0:
                out_weights[slot, r] = weights
                out_means[slot, r] = means
                out_covs[slot, r] = covs
                out_ll[slot, r] = ll
                out_iter[slot, r] = iterations
                out_conv[slot, r] = converged
                for k in range(num_components):
                    out_lost[slot, r, k] = not active[k]


@njit(cache=True, nogil=True)
def cholesky_psd_into(cov, out):
    """Lower Cholesky factor of a PSD matrix into ``out``; zero columns where it is singular."""
    d = cov.shape[0]
    for i in range(d):
        for j in range(d):
            out[i, j] = 0.0
    for j in range(d):
        acc = cov[j, j]
        for k in range(j):
            acc -= out[j, k] * out[j, k]
        if acc <= 0.0:
            continue
        out[j, j] = math.sqrt(acc)
        for i in range(j + 1, d):
            acc_i = cov[i, j]
            for k in range(j):
                acc_i -= out[i, k] * out[j, k]
            out[i, j] = acc_i / out[j, j]
