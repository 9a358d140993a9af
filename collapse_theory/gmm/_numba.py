"""Numba kernels for Gaussian mixtures: batched EM and the recursive-fitting simulator (docs/theory.md §4).

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
(too few to determine a d x d covariance; docs/theory.md §3 needs M > d) or its covariance is not
positive definite: its weight becomes exactly 0, its mean and covariance stay as they were when
it was lost, and it takes no further part (in this fit and, warm-started, in later generations).
This is the mixture analogue of a Wright–Fisher state hitting 0 (docs/theory.md §1, §4);
scikit-learn raises an error in the same situation. With a covariance floor ``reg_covar > 0``
every mass gives a covariance, and only a mass of exactly 0 is lost (scikit-learn keeps such a
component with a weight of about 1e-18; docs/theory.md §4.1).

The k-means++ start is scikit-learn's ``KMeans(n_init=1)`` algorithm: greedy seeding, Lloyd
iterations with its stopping rule, the M step of the hard assignment (:func:`_kmeans_init`).

Compile time: numba links a kernel's callees into its own module and optimises and compiles
them again there, so every level of nested kernels compiles the code below it once more.
:func:`fit_one`, :func:`em_fit` and :func:`_kmeans_init` are inlined into their callers
(``inline="always"``) for that reason: the first compilation of :func:`simulate_block` takes
about 13.7 s instead of 17.5 s on a 2-CPU machine (issue 13). Inlining the smaller helpers as
well made it slower (numba types the inlined code at every call site).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from collapse_theory._linalg import cholesky_into
from collapse_theory._samplers import binomial, fresh_draw_count
from collapse_theory.regimes import ACCUMULATE

WARM, KMEANS = 0, 1

_LOG_2PI = math.log(2.0 * math.pi)
_EPS10 = 10.0 * np.finfo(np.float64).eps
#: scikit-learn's KMeans defaults: at most 300 Lloyd iterations, tolerance 1e-4 (relative).
_KMEANS_MAX_ITER = 300
_KMEANS_TOL = 1e-4


@njit(cache=True, nogil=True)
def _prepare(weights, covs, active, chol, inv_chol, log_norm):
    """Inverse Cholesky factors and log normalisers ``log w_k - sum log L_kk - d log(2 pi) / 2``.

    A component whose covariance is not positive definite is marked lost, unless it is the last
    active one (data with no spread at all): then returns False and EM stops there.
    """
    num_components, d = covs.shape[0], covs.shape[1]
    remaining = 0
    for k in range(num_components):
        if active[k]:
            remaining += 1
    for k in range(num_components):
        if active[k] and not cholesky_into(covs[k], chol[k], True):
            if remaining == 1:
                return False
            active[k] = False
            weights[k] = 0.0
            remaining -= 1
        if not active[k]:
            continue
        half_log_det = 0.0
        for i in range(d):
            half_log_det += math.log(chol[k, i, i])
        log_w = math.log(weights[k]) if weights[k] > 0.0 else -np.inf
        log_norm[k] = log_w - half_log_det - 0.5 * d * _LOG_2PI
        # inv_chol = L^{-1} (lower triangular), so that z = L^{-1}(x - m) needs no division.
        for j in range(d):
            for i in range(d):
                inv_chol[k, i, j] = 0.0
            inv_chol[k, j, j] = 1.0 / chol[k, j, j]
            for i in range(j + 1, d):
                acc = 0.0
                for m in range(j, i):
                    acc -= chol[k, i, m] * inv_chol[k, m, j]
                inv_chol[k, i, j] = acc / chol[k, i, i]
    return True


_LOG2E = 1.4426950408889634
_LN2_HI = 6.93147180369123816490e-01
_LN2_LO = 1.90821492927058770002e-10
_SHIFTER = 6755399441055744.0  # 1.5 * 2^52: adding it rounds to an integer held in the low bits
_SHIFTER_BITS = 0x4338000000000000


@njit(cache=True, nogil=True)
def exp_nonpositive(values, count, scratch):
    """``values[:count] <- exp(values[:count])`` for arguments <= 0, in loops LLVM vectorises.

    Cody–Waite reduction ``x = k ln 2 + r``, ``|r| <= ln 2 / 2``, a degree-13 Taylor polynomial
    for ``e^r`` (truncation error < 1e-17) and ``2^k`` built in the exponent bits; arguments below
    -708 are clamped there (``e^-708 ~ 3e-308``). Within 2 ulp of ``math.exp``.
    """
    for n in range(count):
        v = max(values[n], -708.0)
        shifted = v * _LOG2E + _SHIFTER
        scratch[n] = shifted
        k = shifted - _SHIFTER
        r = v - k * _LN2_HI - k * _LN2_LO
        p = 1.0 / 6227020800.0
        p = p * r + 1.0 / 479001600.0
        p = p * r + 1.0 / 39916800.0
        p = p * r + 1.0 / 3628800.0
        p = p * r + 1.0 / 362880.0
        p = p * r + 1.0 / 40320.0
        p = p * r + 1.0 / 5040.0
        p = p * r + 1.0 / 720.0
        p = p * r + 1.0 / 120.0
        p = p * r + 1.0 / 24.0
        p = p * r + 1.0 / 6.0
        p = p * r + 0.5
        p = p * r + 1.0
        values[n] = p * r + 1.0
    bits = scratch[:count].view(np.int64)
    for n in range(count):
        bits[n] = (bits[n] - _SHIFTER_BITS + 1023) << 52
    for n in range(count):
        values[n] *= scratch[n]


@njit(cache=True, nogil=True, fastmath={"reassoc", "contract"})
def _e_step(xt, num_points, shift, active, inv_chol, log_norm, work):
    """One pass of the E step over the data ``xt`` (d, N) (log-sum-exp responsibilities), with
    the sums the M step needs, taken about ``shift`` (the current means): ``S_k = sum_n r_nk``,
    ``U_k = sum_n r_nk u_nk``, ``V_k = sum_n r_nk u_nk u_nk^T``, ``u_nk = x_n - shift_k``.
    Loops run over points innermost so that LLVM vectorises them. Returns the mean
    log-likelihood."""
    sums_n, sums_u, sums_uu = work[3], work[4], work[5]
    lp, top, acc, z, quad, scratch = work[6], work[7], work[8], work[11], work[12], work[13]
    num_components, d = shift.shape[0], shift.shape[1]
    first = True
    for k in range(num_components):
        if not active[k]:
            continue
        for n in range(num_points):
            quad[n] = 0.0
        for i in range(d):
            c, s = inv_chol[k, i, i], shift[k, i]
            for n in range(num_points):
                z[n] = c * (xt[i, n] - s)
            for j in range(i):
                c, s = inv_chol[k, i, j], shift[k, j]
                for n in range(num_points):
                    z[n] += c * (xt[j, n] - s)
            for n in range(num_points):
                quad[n] += z[n] * z[n]
        norm = log_norm[k]
        for n in range(num_points):
            lp[k, n] = norm - 0.5 * quad[n]
        if first:
            for n in range(num_points):
                top[n] = lp[k, n]
            first = False
        else:
            for n in range(num_points):
                top[n] = max(top[n], lp[k, n])
    for n in range(num_points):
        acc[n] = 0.0
    for k in range(num_components):
        if not active[k]:
            continue
        row = lp[k]
        for n in range(num_points):
            row[n] -= top[n]
        exp_nonpositive(row, num_points, scratch)
        for n in range(num_points):
            acc[n] += row[n]
    total = 0.0
    for n in range(num_points):
        total += top[n]
    # sum_n log(acc_n) through running products (each acc_n lies in [1, K]): few logs.
    log_acc, product = 0.0, 1.0
    for n in range(num_points):
        product *= acc[n]
        if product > 1e250:
            log_acc += math.log(product)
            product = 1.0
    log_acc += math.log(product)
    for n in range(num_points):
        acc[n] = 1.0 / acc[n]
    for k in range(num_components):
        if not active[k]:
            continue
        row = lp[k]
        mass = 0.0
        for n in range(num_points):
            row[n] *= acc[n]
            mass += row[n]
        sums_n[k] = mass
        for i in range(d):
            s = shift[k, i]
            first_moment = 0.0
            for n in range(num_points):
                z[n] = row[n] * (xt[i, n] - s)
                first_moment += z[n]
            sums_u[k, i] = first_moment
            for j in range(i + 1):
                t = shift[k, j]
                second = 0.0
                for n in range(num_points):
                    second += z[n] * (xt[j, n] - t)
                sums_uu[k, i, j] = second
    return (total + log_acc) / num_points


@njit(cache=True, nogil=True)
def _m_step(reg_covar, diagonal, weights, means, covs, active, work):
    """scikit-learn's M step from the sums of :func:`_e_step` (taken about the old means):
    ``N_k = S_k + 10 eps``, ``m_k = shift_k + delta_k`` with ``delta_k = U_k / N_k``,
    ``C_k = (V_k - delta_k U_k^T - U_k delta_k^T + S_k delta_k delta_k^T) / N_k + reg I``, which
    equals ``sum_n r_nk (x_n - m_k)(x_n - m_k)^T / N_k`` exactly in exact arithmetic. A component
    with responsibility mass ``S_k <= d`` is marked lost (weight 0, parameters kept): too few
    points for a covariance; with a floor ``reg_covar > 0`` every mass gives one, and only a
    mass of exactly 0 is lost (scikit-learn keeps such a component, with weight ~1e-18). With
    ``diagonal`` the off-diagonal entries are set to 0: scikit-learn's ``covariance_type="diag"``
    M step is the diagonal of the full one."""
    sums_n, sums_u, sums_uu, delta = work[3], work[4], work[5], work[9]
    num_components, d = means.shape[0], means.shape[1]
    least = 0.0 if reg_covar > 0.0 else float(d)
    total = 0.0
    for k in range(num_components):
        if active[k] and sums_n[k] <= least:
            active[k] = False
        if active[k]:
            total += sums_n[k] + _EPS10
    for k in range(num_components):
        if not active[k]:
            weights[k] = 0.0
            continue
        raw = sums_n[k]
        nk = raw + _EPS10
        weights[k] = nk / total
        inv = 1.0 / nk
        for i in range(d):
            delta[i] = sums_u[k, i] * inv
        for i in range(d):
            for j in range(i + 1):
                value = (
                    sums_uu[k, i, j]
                    - delta[i] * sums_u[k, j]
                    - sums_u[k, i] * delta[j]
                    + raw * delta[i] * delta[j]
                ) * inv
                if diagonal and i != j:
                    value = 0.0
                covs[k, i, j] = value
                covs[k, j, i] = value
            covs[k, i, i] += reg_covar
        for i in range(d):
            means[k, i] += delta[i]


@njit(cache=True, nogil=True, inline="always")
def em_fit(x, num_points, weights, means, covs, active, tol, max_iter, reg_covar, diagonal, work):
    """EM on the points ``x[:, :num_points]`` (layout (d, N)) from the parameters given, updated in place.

    ``work`` is the tuple of buffers from :func:`em_buffers`. Returns ``(iterations, converged,
    mean log-likelihood of the last E step)``; the log-likelihood is +inf when no E step could
    run (every component of the start singular).
    """
    chol, inv_chol, log_norm = work[0], work[1], work[2]
    lower = -np.inf
    converged = False
    iterations = 0
    for it in range(1, max_iter + 1):
        previous = lower
        if not _prepare(weights, covs, active, chol, inv_chol, log_norm):
            break  # a single component left with a singular covariance: nothing to iterate
        iterations = it
        lower = _e_step(x, num_points, means, active, inv_chol, log_norm, work)
        _m_step(reg_covar, diagonal, weights, means, covs, active, work)
        if abs(lower - previous) < tol:
            converged = True
            break
    if iterations == 0:
        # Every component of the start is singular (data without spread where they sit): the
        # likelihood is unbounded, and no E step ran.
        lower = np.inf
    # A covariance made singular by the last M step marks its component lost now.
    _prepare(weights, covs, active, chol, inv_chol, log_norm)
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
    """Scratch arrays for :func:`em_fit` and the k-means initialisation (one set per block):
    chol, inv_chol, log_norm, sums_n, sums_u, sums_uu, lp, top, acc, delta, dist, z, quad,
    scratch."""
    return (
        np.zeros((num_components, dim, dim)),
        np.zeros((num_components, dim, dim)),
        np.zeros(num_components),
        np.zeros(num_components),
        np.zeros((num_components, dim)),
        np.zeros((num_components, dim, dim)),
        np.zeros((num_components, max_points)),
        np.zeros(max_points),
        np.zeros(max_points),
        np.zeros(dim),
        np.zeros(max_points),
        np.zeros(max_points),
        np.zeros(max_points),
        np.zeros(max_points),
    )


@njit(cache=True, nogil=True, inline="always")
def _squared_distance(x, n, centres, c):
    """``|x_n - centre_c|^2`` for data in layout (d, N). Inlined: its callers pass a literal 0
    and loop indices, which would otherwise compile it twice."""
    acc = 0.0
    for i in range(centres.shape[1]):
        acc += (x[i, n] - centres[c, i]) ** 2
    return acc


@njit(cache=True, nogil=True)
def _kmeans_seed(rng, x, num_points, centres, closest):
    """Greedy k-means++ seeding, as scikit-learn's ``KMeans``: the first centre is a uniform data
    point; each next one is the best, by the k-means potential ``sum_n min_c |x_n - c|^2``, of
    ``2 + floor(ln K)`` candidates drawn with probability proportional to ``closest`` (the
    squared distance to the nearest centre so far, D^2 weighting)."""
    num_components = centres.shape[0]
    d = centres.shape[1]
    trials = 2 + int(math.log(num_components))
    first = min(int(rng.random() * num_points), num_points - 1)
    for i in range(d):
        centres[0, i] = x[i, first]
    potential = 0.0
    for n in range(num_points):
        closest[n] = _squared_distance(x, n, centres, 0)
        potential += closest[n]
    for c in range(1, num_components):
        best_potential, best_point = np.inf, num_points - 1
        for _ in range(trials):
            u = rng.random() * potential
            pick, acc = num_points - 1, 0.0
            for n in range(num_points):
                acc += closest[n]
                if acc >= u:
                    pick = n
                    break
            for i in range(d):
                centres[c, i] = x[i, pick]
            candidate = 0.0
            for n in range(num_points):
                candidate += min(closest[n], _squared_distance(x, n, centres, c))
            if candidate < best_potential:
                best_potential, best_point = candidate, pick
        for i in range(d):
            centres[c, i] = x[i, best_point]
        potential = 0.0
        for n in range(num_points):
            closest[n] = min(closest[n], _squared_distance(x, n, centres, c))
            potential += closest[n]


@njit(cache=True, nogil=True)
def _assign(x, num_points, centres, labels):
    """Label every point with its nearest centre (the first on ties)."""
    for n in range(num_points):
        best, best_c = np.inf, 0
        for c in range(centres.shape[0]):
            distance = _squared_distance(x, n, centres, c)
            if distance < best:
                best, best_c = distance, c
        labels[n] = best_c


@njit(cache=True, nogil=True)
def _kmeans_tolerance(x, num_points):
    """scikit-learn's Lloyd tolerance: 1e-4 times the mean per-dimension variance of the data."""
    d = x.shape[0]
    total = 0.0
    for i in range(d):
        mean = 0.0
        for n in range(num_points):
            mean += x[i, n]
        mean /= num_points
        spread = 0.0
        for n in range(num_points):
            spread += (x[i, n] - mean) ** 2
        total += spread / num_points
    return _KMEANS_TOL * total / d


@njit(cache=True, nogil=True, inline="always")
def _kmeans_init(
    rng, x, num_points, weights, means, covs, active, work, labels, centres, reg_covar, diagonal
):
    """scikit-learn's ``init_params="kmeans"`` (``KMeans(n_init=1)``): greedy k-means++ seeding
    (:func:`_kmeans_seed`), Lloyd iterations until the labels repeat or the centres move by at
    most the tolerance (squared shifts summed over the centres <= :func:`_kmeans_tolerance`), at
    most 300, the labels of the final centres, then the M step of the hard assignment (with the
    covariance floor, as scikit-learn's ``_initialize``)."""
    num_components, d = means.shape[0], means.shape[1]
    nk, closest, previous = work[3], work[10], work[12]
    _kmeans_seed(rng, x, num_points, centres, closest)
    tolerance = _kmeans_tolerance(x, num_points)
    for n in range(num_points):
        previous[n] = -1.0
    strict = False
    sums = work[4]
    for _ in range(_KMEANS_MAX_ITER):
        _assign(x, num_points, centres, labels)
        for c in range(num_components):
            nk[c] = 0.0
            for i in range(d):
                sums[c, i] = 0.0
        for n in range(num_points):
            c = labels[n]
            nk[c] += 1.0
            for i in range(d):
                sums[c, i] += x[i, n]
        shift = 0.0
        for c in range(num_components):
            if nk[c] > 0.0:  # an empty cluster keeps its centre
                for i in range(d):
                    value = sums[c, i] / nk[c]
                    shift += (value - centres[c, i]) ** 2
                    centres[c, i] = value
        same = True
        for n in range(num_points):
            if previous[n] != labels[n]:
                same = False
            previous[n] = labels[n]
        if same:
            strict = True
            break
        if shift <= tolerance:
            break
    if not strict:
        _assign(x, num_points, centres, labels)
    # The M step of the one-hot responsibilities, with sums taken about the final centres.
    sums_u, sums_uu = work[4], work[5]
    for c in range(num_components):
        active[c] = True
        nk[c] = 0.0
        for i in range(d):
            means[c, i] = centres[c, i]
            sums_u[c, i] = 0.0
            for j in range(d):
                sums_uu[c, i, j] = 0.0
    for n in range(num_points):
        c = labels[n]
        nk[c] += 1.0
        for i in range(d):
            ui = x[i, n] - centres[c, i]
            sums_u[c, i] += ui
            for j in range(i + 1):
                sums_uu[c, i, j] += ui * (x[j, n] - centres[c, j])
    _m_step(reg_covar, diagonal, weights, means, covs, active, work)


@njit(cache=True, nogil=True, inline="always")
def fit_one(
    rng,
    x,
    num_points,
    init_code,
    tol,
    max_iter,
    reg_covar,
    diagonal,
    weights,
    means,
    covs,
    active,
    work,
    labels,
    centres,
):
    """One EM fit to ``x[:, :num_points]`` (layout (d, N)): from the parameters given (warm
    start) or, with ``init_code == KMEANS``, from k-means++ on the data (``reg_covar`` added to
    the initial covariances, as scikit-learn does). Returns :func:`em_fit`'s triple."""
    if init_code == KMEANS:
        _kmeans_init(
            rng,
            x,
            num_points,
            weights,
            means,
            covs,
            active,
            work,
            labels,
            centres,
            reg_covar,
            diagonal,
        )
    return em_fit(
        x, num_points, weights, means, covs, active, tol, max_iter, reg_covar, diagonal, work
    )


@njit(cache=True, nogil=True)
def fit_block(
    rng,
    x,
    init_code,
    tol,
    max_iter,
    reg_covar,
    diagonal,
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
    xt = np.empty((d, num_points))
    for r in range(num_replicates):
        for n in range(num_points):
            for i in range(d):
                xt[i, n] = x[r, n, i]
        iterations, converged, ll = fit_one(
            rng,
            xt,
            num_points,
            init_code,
            tol,
            max_iter,
            reg_covar,
            diagonal,
            weights[r],
            means[r],
            covs[r],
            active[r],
            work,
            labels,
            centres,
        )
        out_iter[r] = iterations
        out_conv[r] = converged
        out_ll[r] = ll


@njit(cache=True, nogil=True)
def _draw_point(rng, mean, chol, z, out, row):
    """One N(mean, chol chol^T) draw into column ``row`` of ``out`` (layout (d, N))."""
    d = mean.size
    for i in range(d):
        z[i] = rng.standard_normal()
    for i in range(d):
        acc = mean[i]
        for j in range(i + 1):
            acc += chol[i, j] * z[j]
        out[i, row] = acc


@njit(cache=True, nogil=True)
def _sample_into(rng, count, weights, means, chol, active, out, start, z):
    """``count`` iid draws from the mixture into ``out[:, start:start + count]`` (layout (d, N)) (component counts by
    sequential binomials, then N(m_k, L_k L_k^T) by the Cholesky factor)."""
    num_components = means.shape[0]
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
            _draw_point(rng, means[k], chol[k], z, out, row)
            row += 1
    # Rounding can leave a few draws unassigned: give them to the last active component.
    if remaining > 0:
        last = num_components - 1
        while last > 0 and not active[last]:
            last -= 1
        for _ in range(remaining):
            _draw_point(rng, means[last], chol[last], z, out, row)
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
    diagonal,
    record_slot,
    out_weights,
    out_means,
    out_covs,
    out_ll,
    out_iter,
    out_conv,
    out_lost,
):
    """Replicates ``out_weights.shape[0]`` chains of recursive mixture fitting (see ``simulate``);
    the outputs have the replicate axis first, (R, len(record), ...)."""
    num_components, d = means0.shape[0], means0.shape[1]
    num_generations = sizes.size
    num_replicates = out_weights.shape[0]
    max_points = 1
    if regime == ACCUMULATE:
        max_points = 0
        for g in range(num_generations):
            max_points += sizes[g]
    else:
        for g in range(num_generations):
            max_points = max(max_points, sizes[g])
    x = np.empty((d, max(max_points, 1)))
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
            cholesky_into(covs0[k], chol0[k], True)
    weights = np.empty(num_components)
    means = np.empty((num_components, d))
    covs = np.empty((num_components, d, d))
    active = np.empty(num_components, dtype=np.bool_)
    chol = np.empty((num_components, d, d))
    for r in range(num_replicates):
        _copy_state(weights0, means0, covs0, chol0, active0, weights, means, covs, chol, active)
        slot = record_slot[0]
        if slot >= 0:
            _record(
                r, slot, weights, means, covs, active, out_weights, out_means, out_covs, out_lost
            )
            out_ll[r, slot] = np.nan
            out_iter[r, slot] = 0
            out_conv[r, slot] = True
        pool = np.int64(0)  # not the literal 0: helpers called with it keep one signature
        for g in range(num_generations):
            size = sizes[g]
            fresh = fresh_draw_count(rng, regime, size, fresh_counts[g], fraction)
            start = pool if regime == ACCUMULATE else 0
            _sample_into(rng, fresh, weights0, means0, chol0, active0, x, start, z)
            _sample_into(rng, size - fresh, weights, means, chol, active, x, start + fresh, z)
            num_points = start + size
            if regime == ACCUMULATE:
                pool = num_points
            iterations, converged, ll = fit_one(
                rng,
                x,
                num_points,
                init_code,
                tol,
                max_iter,
                reg_covar,
                diagonal,
                weights,
                means,
                covs,
                active,
                work,
                labels,
                centres,
            )
            for k in range(num_components):
                if active[k]:
                    cholesky_into(covs[k], chol[k], True)
            slot = record_slot[g + 1]
            if slot >= 0:
                _record(
                    r,
                    slot,
                    weights,
                    means,
                    covs,
                    active,
                    out_weights,
                    out_means,
                    out_covs,
                    out_lost,
                )
                out_ll[r, slot] = ll
                out_iter[r, slot] = iterations
                out_conv[r, slot] = converged


@njit(cache=True, nogil=True)
def _copy_state(weights0, means0, covs0, chol0, active0, weights, means, covs, chol, active):
    """Reset a chain to model 0 (element loops: a whole-array assignment compiles a shape check
    with string formatting)."""
    num_components, d = means0.shape[0], means0.shape[1]
    for k in range(num_components):
        weights[k] = weights0[k]
        active[k] = active0[k]
        for i in range(d):
            means[k, i] = means0[k, i]
            for j in range(d):
                covs[k, i, j] = covs0[k, i, j]
                chol[k, i, j] = chol0[k, i, j]


@njit(cache=True, nogil=True)
def _record(r, slot, weights, means, covs, active, out_weights, out_means, out_covs, out_lost):
    """Store the current parameters of chain ``r`` in row ``slot`` of the outputs."""
    num_components, d = means.shape[0], means.shape[1]
    for k in range(num_components):
        out_weights[r, slot, k] = weights[k]
        out_lost[r, slot, k] = not active[k]
        for i in range(d):
            out_means[r, slot, k, i] = means[k, i]
            for j in range(d):
                out_covs[r, slot, k, i, j] = covs[k, i, j]
