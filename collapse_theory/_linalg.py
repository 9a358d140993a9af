"""Small linear-algebra kernels shared by the numba simulators."""

from __future__ import annotations

import math

from numba import njit


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
