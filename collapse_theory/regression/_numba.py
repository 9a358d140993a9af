"""Numba kernel of the regression simulator (docs/theory.md §5.2).

Per replicate: a design of T rows L z (L the Cholesky factor of Σ), drawn once (fixed design)
or every generation (redrawn); labels y = x·w_label + σ ε with w_label = w* for the fresh rows
(FreshData "split": the first round(fraction T) rows; "mix": each row with probability
fraction) and the previous fit otherwise; the least-squares fit with ridge λ solves
(A + λI) w = b with A = Σ x xᵀ and b = Σ x y over the fitted rows: this generation's rows
(Replace, FreshData), every generation's rows (Accumulate: A and b accumulate), or a uniform
T-subset of all rows so far (AccumulateSubsample).

:func:`simulate_block` has one compiled signature (:data:`SIGNATURE`).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, types

from collapse_theory._linalg import cholesky_into
from collapse_theory._samplers import RNG, one_signature, uniform_subset
from collapse_theory.regimes import ACCUMULATE, FRESH_MIX, FRESH_SPLIT

#: The kernels' code of AccumulateSubsample (as in the KDE kernel).
SUBSAMPLE = 4


@njit(cache=True, nogil=True)
def _solve(matrix, rhs, ridge, factor, out, work):
    """Solve (matrix + ridge I) out = rhs by Cholesky; NaN if not positive definite."""
    d = rhs.shape[0]
    for a in range(d):
        for b in range(d):
            work[a, b] = matrix[a, b] + (ridge if a == b else 0.0)
    if not cholesky_into(work, factor, False):
        for a in range(d):
            out[a] = math.nan
        return
    for a in range(d):  # forward: L u = rhs
        acc = rhs[a]
        for b in range(a):
            acc -= factor[a, b] * out[b]
        out[a] = acc / factor[a, a]
    for a in range(d - 1, -1, -1):  # back: L^T w = u
        acc = out[a]
        for b in range(a + 1, d):
            acc -= factor[b, a] * out[b]
        out[a] = acc / factor[a, a]


@njit(
    cache=True, nogil=True, inline="always"
)  # inlined: no second signature for other literals or layouts
def _draw_design(rng, chol, rows, start, count, z):
    d = chol.shape[0]
    for i in range(start, start + count):
        for a in range(d):
            z[a] = rng.standard_normal()
        for a in range(d):
            acc = 0.0
            for b in range(a + 1):
                acc += chol[a, b] * z[b]
            rows[i, a] = acc


@njit(cache=True, nogil=True, inline="always")
def _label(rng, rows, i, coefficients, noise_sd, labels):
    """labels[i] = rows[i] · coefficients + noise_sd ε."""
    acc = 0.0
    for a in range(rows.shape[1]):
        acc += rows[i, a] * coefficients[a]
    labels[i] = acc + noise_sd * rng.standard_normal()


@njit(cache=True, nogil=True)
def _add_moment(rows, labels, start, stop, moment):
    """moment += Σ x y over rows start..stop-1."""
    d = rows.shape[1]
    for i in range(start, stop):
        for a in range(d):
            moment[a] += rows[i, a] * labels[i]


@njit(
    cache=True, nogil=True, inline="always"
)  # inlined: no second signature for other literals or layouts
def _add_gram(rows, start, stop, gram):
    """gram += Σ x xᵀ over rows start..stop-1."""
    d = rows.shape[1]
    for i in range(start, stop):
        for a in range(d):
            for b in range(d):
                gram[a, b] += rows[i, a] * rows[i, b]


@njit(cache=True, nogil=True)
def _simulate_block(
    rng,
    w_star,
    chol,
    num_points,
    num_generations,
    noise_sd,
    ridge,
    redraw,
    given,
    regime,
    split_count,
    fraction,
    slots,
    out_w,
    out_risk,
):
    """Run ``out_w.shape[1]`` chains; write w_n (S, R, d) and ‖w_n − w*‖²_Σ (S, R). A non-empty
    ``given`` (T, d) is every chain's fixed design."""
    d = w_star.shape[0]
    t = num_points
    pooled = regime == SUBSAMPLE
    capacity = (num_generations + 1) * t if pooled else t
    rows = np.empty((capacity, d))
    labels = np.empty(capacity)
    index = np.empty(capacity, dtype=np.int64)
    w = np.empty(d)
    w_new = np.empty(d)
    gram = np.empty((d, d))
    design_gram = np.empty((d, d))
    moment = np.empty(d)
    factor = np.empty((d, d))
    work = np.empty((d, d))
    z = np.empty(d)
    sigma = np.empty((d, d))
    for a in range(d):
        for b in range(d):
            acc = 0.0
            for k in range(d):
                acc += chol[a, k] * chol[b, k]
            sigma[a, b] = acc
    for rep in range(out_w.shape[1]):
        for a in range(d):
            w[a] = w_star[a]
        gram[:, :] = 0.0
        moment[:] = 0.0
        if given.shape[0] > 0:
            for i in range(t):
                for a in range(d):
                    rows[i, a] = given[i, a]
        else:
            _draw_design(rng, chol, rows, 0, t, z)
        design_gram[:, :] = 0.0
        _add_gram(rows, 0, t, design_gram)
        for n in range(num_generations + 1):
            slot = slots[n]
            if slot >= 0:
                risk = 0.0
                for a in range(d):
                    out_w[slot, rep, a] = w[a]
                    for b in range(d):
                        risk += (w[a] - w_star[a]) * sigma[a, b] * (w[b] - w_star[b])
                out_risk[slot, rep] = risk
            if n == num_generations:
                break
            start = n * t if pooled else 0
            if start > 0:
                if redraw:
                    _draw_design(rng, chol, rows, start, t, z)
                else:
                    for i in range(t):
                        for a in range(d):
                            rows[start + i, a] = rows[i, a]
            elif redraw and n > 0:
                _draw_design(rng, chol, rows, 0, t, z)
            if regime == FRESH_MIX:
                for i in range(start, start + t):
                    source = w_star if rng.random() < fraction else w
                    _label(rng, rows, i, source, noise_sd, labels)
            else:  # one loop per source (as in the KDE kernel: no per-row choice)
                fresh = split_count if regime == FRESH_SPLIT else 0
                for i in range(start, start + fresh):
                    _label(rng, rows, i, w_star, noise_sd, labels)
                for i in range(start + fresh, start + t):
                    _label(rng, rows, i, w, noise_sd, labels)
            if regime != ACCUMULATE:
                gram[:, :] = 0.0
                moment[:] = 0.0
            if regime == SUBSAMPLE:
                uniform_subset(rng, index, start + t, t)  # a uniform T-subset of the rows
                for i in range(t):
                    k = index[i]
                    for a in range(d):
                        moment[a] += rows[k, a] * labels[k]
                        for b in range(d):
                            gram[a, b] += rows[k, a] * rows[k, b]
            else:
                _add_moment(rows, labels, start, start + t, moment)
                if redraw:
                    _add_gram(rows, start, start + t, gram)
                else:  # the design's Gram matrix, computed once per chain
                    for a in range(d):
                        for b in range(d):
                            gram[a, b] += design_gram[a, b]
            _solve(gram, moment, ridge, factor, w_new, work)
            for a in range(d):
                w[a] = w_new[a]


_F64, _I64 = types.float64, types.int64

#: The one compiled signature of :func:`simulate_block`.
SIGNATURE = types.void(
    RNG,
    types.Array(_F64, 1, "A"),
    types.Array(_F64, 2, "A"),
    _I64,
    _I64,
    _F64,
    _F64,
    types.boolean,
    types.Array(_F64, 2, "A"),
    _I64,
    _I64,
    _F64,
    types.Array(_I64, 1, "A"),
    types.Array(_F64, 3, "A"),
    types.Array(_F64, 2, "A"),
)

simulate_block = one_signature(_simulate_block, SIGNATURE)
