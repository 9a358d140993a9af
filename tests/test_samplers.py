"""Exact samplers of collapse_theory._samplers against their laws (scipy), at fixed seeds.

Kolmogorov–Smirnov p-values must exceed P_MIN = 1e-4 (false alarm 1e-4 per test)."""

from __future__ import annotations

import numba
import numpy as np
import pytest
import scipy.stats as st

from collapse_theory import _samplers

P_MIN = 1e-4


@numba.njit
def _draw_chisquare(rng, df, size):
    out = np.empty(size)
    for i in range(size):
        out[i] = _samplers.chisquare(rng, df)
    return out


@numba.njit
def _draw_gamma(rng, shape, size):
    out = np.empty(size)
    for i in range(size):
        out[i] = _samplers.standard_gamma(rng, shape)
    return out


@pytest.mark.parametrize("df", [1, 2, 3, 9, 99, 10**6])
def test_chisquare_matches_its_law(df):
    draws = _draw_chisquare(np.random.default_rng([1, df]), float(df), 100_000)
    assert st.kstest(draws, st.chi2(df).cdf).pvalue > P_MIN


@pytest.mark.parametrize("shape", [0.05, 0.3, 1.0, 2.5, 49.5])
def test_gamma_matches_its_law(shape):
    draws = _draw_gamma(np.random.default_rng([2, int(shape * 100)]), shape, 100_000)
    assert st.kstest(draws, st.gamma(shape).cdf).pvalue > P_MIN


def test_degenerate_parameters_give_zero():
    rng = np.random.default_rng(0)
    assert np.all(_draw_chisquare(rng, 0.0, 5) == 0.0)
    assert np.all(_draw_gamma(rng, 0.0, 5) == 0.0)
