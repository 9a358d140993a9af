"""Small linear-algebra kernels shared by the numba simulators."""

from __future__ import annotations

import math

from numba import njit


@njit(
    cache=True, nogil=True, inline="always"
)  # inlined: no second signature for other literals or layouts
def cholesky_into(cov, out, semidefinite=False):
    """Lower Cholesky factor of ``cov`` into ``out``; returns whether ``cov`` was positive definite.

    A pivot that is not positive and finite stops with False, unless ``semidefinite``: then its
    column is left zero and the factorisation goes on (a factor of a singular PSD matrix).
    """
    d = cov.shape[0]
    for i in range(d):
        for j in range(d):
            out[i, j] = 0.0
    definite = True
    for j in range(d):
        acc = cov[j, j]
        for k in range(j):
            acc -= out[j, k] * out[j, k]
        if not acc > 0.0 or not math.isfinite(acc):
            if not semidefinite:
                return False
            definite = False
            continue
        out[j, j] = math.sqrt(acc)
        for i in range(j + 1, d):
            acc_i = cov[i, j]
            for k in range(j):
                acc_i -= out[i, k] * out[j, k]
            out[i, j] = acc_i / out[j, j]
    return definite
