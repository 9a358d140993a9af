"""WeightedFresh(weight, num_real) (docs/theory.md §9.1): the closed forms, their check values,
the optimal weight, the simulators (numba and jax) against the naive reference and the closed
forms, and bad input.

Statistical comparisons are z-tests at fixed seeds against ``Z_CRIT`` = z_threshold(1e-3, 120):
a family-wise false-alarm rate of 1e-3 over the (fewer than 120) z-scores in this file.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as hs
from scipy.optimize import minimize_scalar

import collapse_theory as ct
from collapse_theory._stats import (
    mean_difference_z,
    mean_z,
    proportion_z,
    variance_z,
    z_threshold,
)
from collapse_theory._validate import InputError, InputTypeError
from collapse_theory.regimes import check_regime
from tests import naive

W = ct.WeightedFresh
Z_CRIT = z_threshold(1e-3, 120)
#: Tolerance of the numerical minimisation the optimal weights are checked against.
XATOL = 1e-10


# ---------------------------------------------------------------------------------------------
# Closed forms: the §9.1 check values and the optimum


def test_gaussian_check_values():
    w = ct.gaussian.optimal_fresh_weight(20, 20)
    assert round(w, 6) == 0.618034
    assert w == pytest.approx((math.sqrt(5.0) - 1.0) / 2.0, rel=1e-15)
    v, d = ct.gaussian.stationary_moments(20, W(w, 20))
    assert round(float(d), 7) == 0.0309017
    assert float(d) == pytest.approx(w / 20, rel=1e-13)  # D* = w*/n for m = n
    assert float(v) == pytest.approx(1.0, rel=1e-14)
    w = ct.gaussian.optimal_fresh_weight(50, 100)
    assert round(w, 6) == 0.732051
    assert w == pytest.approx(math.sqrt(3.0) - 1.0, rel=1e-15)
    assert round(float(ct.gaussian.stationary_moments(50, W(w, 100))[1]), 7) == 0.0073205


def test_categorical_check_value():
    _, cov = ct.categorical.stationary_moments([0.2, 0.8], 10, W(0.4, 40))
    assert round(float(cov[0, 0]), 8) == 0.00946746
    assert float(cov[0, 1]) == pytest.approx(-float(cov[0, 0]), rel=1e-14)


@pytest.mark.parametrize("m, n", [(20, 20), (50, 100), (5, 200), (300, 7)])
def test_gaussian_optimum_minimises_the_stationary_drift(m, n):
    def drift(w):
        return float(ct.gaussian.stationary_moments(m, W(w, n))[1])

    best = minimize_scalar(drift, bounds=(1e-6, 1.0), method="bounded", options={"xatol": XATOL})
    assert ct.gaussian.optimal_fresh_weight(m, n) == pytest.approx(best.x, abs=1e-7)


@pytest.mark.parametrize("m, n", [(10, 40), (20, 20), (1, 5), (50, 3), (2000, 2000)])
def test_categorical_optimum_minimises_the_stationary_variance(m, n):
    def variance(w):
        return float(ct.categorical.stationary_moments([0.5, 0.5], m, W(w, n))[1][0, 0])

    best = minimize_scalar(variance, bounds=(1e-6, 1.0), method="bounded", options={"xatol": XATOL})
    assert ct.categorical.optimal_fresh_weight(m, n) == pytest.approx(best.x, abs=1e-7)


def test_categorical_optimum_tends_to_the_golden_ratio():
    gaps = [
        abs(ct.categorical.optimal_fresh_weight(m, m) - (math.sqrt(5.0) - 1.0) / 2.0)
        for m in (10, 100, 1000, 10_000)
    ]
    assert all(a > b for a, b in itertools.pairwise(gaps))
    assert gaps[-1] < 1e-4


def test_transient_recursions_reach_the_stationary_values():
    regime = W(0.3, 15)
    v_inf, d_inf = ct.gaussian.stationary_moments(12, regime, var0=2.0)
    gens = np.array([0, 1, 400])
    v = ct.gaussian.expected_variance(12, gens, regime=regime, var0=2.0)
    d = ct.gaussian.mean_squared_drift(12, gens, regime=regime, var0=2.0)
    assert (v[0], d[0]) == (2.0, 0.0)
    # one step from (var0, 0): D_1 = var0 [(1-w)^2/M + w^2/n]
    assert d[1] == pytest.approx(2.0 * (0.49 / 12 + 0.09 / 15), rel=1e-14)
    assert (v[2], d[2]) == (pytest.approx(float(v_inf), rel=1e-12), pytest.approx(float(d_inf)))
    _, cov = ct.categorical.moments([0.3, 0.7], 12, [1, 400], regime)
    _, stationary = ct.categorical.stationary_moments([0.3, 0.7], 12, regime)
    assert cov[0, 0, 0] == pytest.approx(0.21 * (0.49 / 12 + 0.09 / 15), rel=1e-14)
    assert cov[1, 0, 0] == pytest.approx(stationary[0, 0], rel=1e-12)


def test_mle_stationary_variance_below_var0():
    v, d = ct.gaussian.stationary_moments(10, W(0.5, 10), estimator="mle")
    # V = w r_n / (1 - (1-w) r_M) with r_k = (k-1)/k
    assert float(v) == pytest.approx(0.5 * 0.9 / (1 - 0.5 * 0.9), rel=1e-14)
    assert float(d) == pytest.approx((0.25 * float(v) / 10 + 0.25 / 10) / 0.75, rel=1e-13)


# ---------------------------------------------------------------------------------------------
# Simulators against the closed forms and the naive reference

GAUSSIAN_POINTS = [(20, W(0.618034, 20), 30), (50, W(0.3, 100), 25), (10, W(0.8, 5), 12)]


@pytest.mark.parametrize("m, regime, generation", GAUSSIAN_POINTS)
@pytest.mark.parametrize("method", ["sufficient", "samples"])
def test_gaussian_simulator_matches_transient_moments(m, regime, generation, method):
    run = ct.gaussian.simulate(
        1.0, 2.0, m, generation, num_replicates=20_000, regime=regime, method=method,
        record="last", seed=7,
    )  # fmt: skip
    mean, var = run["mean"][-1], run["var"][-1]
    d = float(ct.gaussian.mean_squared_drift(m, generation, regime=regime, var0=2.0))
    v = float(ct.gaussian.expected_variance(m, generation, regime=regime, var0=2.0))
    assert abs(mean_z((mean - 1.0) ** 2, d)) < Z_CRIT
    assert abs(mean_z(var, v)) < Z_CRIT
    assert abs(proportion_z(mean > 1.0, 0.5)) < Z_CRIT  # the law of mu_t is symmetric about mu_0


CATEGORICAL_POINTS = [(10, W(0.4, 40), 40), (20, W(0.618034, 20), 30), (5, W(0.9, 3), 10)]


@pytest.mark.parametrize("m, regime, generation", CATEGORICAL_POINTS)
def test_categorical_simulator_matches_moments(m, regime, generation):
    p0 = np.array([0.2, 0.5, 0.3])
    run = ct.categorical.simulate(
        p0, m, generation, num_replicates=20_000, regime=regime, record="last", seed=8
    )
    _, cov = ct.categorical.moments(p0, m, generation, regime)
    for state in range(3):
        p = run["p"][-1][:, state]
        assert abs(mean_z(p, p0[state])) < Z_CRIT
        assert abs(variance_z(p, cov[state, state])) < Z_CRIT


def test_categorical_agrees_with_naive_reference():
    p0 = np.array([0.6, 0.3, 0.1])
    sizes = np.full(8, 6)
    regime = W(0.35, 4)
    fast = ct.categorical.simulate(p0, 6, 8, num_replicates=20_000, regime=regime, seed=11)["p"]
    rng = np.random.default_rng(12)
    slow = np.stack(
        [naive.categorical_weighted_chain(p0, sizes, 0.35, 4, rng=rng) for _ in range(2000)],
        axis=1,
    )
    for generation in (1, 4, 8):
        h_fast = ct.categorical.heterozygosity(fast[generation])
        h_slow = ct.categorical.heterozygosity(slow[generation])
        assert abs(mean_difference_z(h_fast, h_slow)) < Z_CRIT
        assert abs(mean_difference_z(fast[generation][:, 2] == 0, slow[generation][:, 2] == 0)) < (
            Z_CRIT
        )


@pytest.mark.parametrize("method", ["sufficient", "samples"])
def test_gaussian_agrees_with_naive_reference(method):
    regime = W(0.4, 6)
    run = ct.gaussian.simulate(
        0.5, 2.0, 8, 10, num_replicates=20_000, regime=regime, method=method, seed=13
    )
    rng = np.random.default_rng(14)
    slow = [naive.gaussian_weighted_chain(0.5, 2.0, np.full(10, 8), 0.4, 6, rng=rng)]
    slow += [naive.gaussian_weighted_chain(0.5, 2.0, np.full(10, 8), 0.4, 6, rng=rng)
             for _ in range(1999)]  # fmt: skip
    slow_mean = np.array([s[0] for s in slow]).T
    slow_var = np.array([s[1] for s in slow]).T
    for generation in (1, 4, 10):
        assert abs(mean_difference_z(run["mean"][generation], slow_mean[generation])) < Z_CRIT
        assert (
            abs(mean_difference_z(np.log(run["var"][generation]), np.log(slow_var[generation])))
            < Z_CRIT
        )


def test_jax_backends_match_the_closed_forms():
    pytest.importorskip("jax")
    regime = W(0.5, 10)
    run = ct.gaussian.simulate(
        0.0, 1.0, 10, 15, num_replicates=8_000, regime=regime, record="last", seed=3,
        backend="jax",
    )  # fmt: skip
    d = float(ct.gaussian.mean_squared_drift(10, 15, regime=regime))
    assert abs(mean_z(run["mean"][-1] ** 2, d)) < Z_CRIT
    assert abs(mean_z(run["var"][-1], 1.0)) < Z_CRIT
    p = ct.categorical.simulate(
        [0.2, 0.8], 10, 15, num_replicates=8_000, regime=regime, record="last", seed=4,
        backend="jax",
    )["p"][-1][:, 0]  # fmt: skip
    _, cov = ct.categorical.moments([0.2, 0.8], 10, 15, regime)
    assert abs(variance_z(p, cov[0, 0])) < Z_CRIT


def test_multivariate_gaussian_weighted():
    regime = W(0.5, 8)
    run = ct.gaussian.simulate(
        np.zeros(2), np.eye(2), 8, 12, num_replicates=8_000, regime=regime, record="last", seed=5
    )
    d = float(ct.gaussian.mean_squared_drift(8, 12, regime=regime))
    for axis in range(2):
        assert abs(mean_z(run["mean"][-1][:, axis] ** 2, d)) < Z_CRIT
        assert abs(mean_z(run["cov"][-1][:, axis, axis], 1.0)) < Z_CRIT


def test_same_seed_same_arrays_for_any_threads_and_chunks():
    kwargs = dict(num_replicates=3000, regime=W(0.3, 5), seed=21)
    a = ct.categorical.simulate([0.5, 0.5], 7, 5, num_threads=1, **kwargs)["p"]
    b = ct.categorical.simulate([0.5, 0.5], 7, 5, num_threads=2, chunk_size=3, **kwargs)["p"]
    np.testing.assert_array_equal(a, b)
    a = ct.gaussian.simulate(0.0, 1.0, 7, 5, num_threads=1, **kwargs)["var"]
    b = ct.gaussian.simulate(0.0, 1.0, 7, 5, num_threads=2, chunk_size=3, **kwargs)["var"]
    np.testing.assert_array_equal(a, b)


def test_weight_zero_and_one_are_the_limits():
    # w = 1: every generation is the fit to num_real fresh draws, whatever the model
    run = ct.gaussian.simulate(0.0, 1.0, 5, 6, num_replicates=20_000, regime=W(1.0, 9), seed=2)
    assert abs(mean_z(run["mean"][6] ** 2, 1.0 / 9)) < Z_CRIT
    # w = 0: Replace in law (E (mu_n - mu_0)^2 = n / M)
    run = ct.gaussian.simulate(0.0, 1.0, 5, 6, num_replicates=20_000, regime=W(0.0, 9), seed=3)
    assert abs(mean_z(run["mean"][6] ** 2, 6 / 5)) < Z_CRIT


def test_policy_composes_with_weighted_fresh():
    """A policy applies to the synthetic draws; Temperature(1.0) changes no bit."""
    kwargs = dict(num_replicates=500, regime=W(0.3, 5), seed=9)
    plain = ct.categorical.simulate([0.5, 0.3, 0.2], 10, 4, **kwargs)["p"]
    same = ct.categorical.simulate(
        [0.5, 0.3, 0.2], 10, 4, policy=ct.policies.Temperature(1.0), **kwargs
    )["p"]
    np.testing.assert_array_equal(plain, same)
    plain = ct.gaussian.simulate(0.0, 1.0, 10, 4, **kwargs)["var"]
    same = ct.gaussian.simulate(0.0, 1.0, 10, 4, policy=ct.policies.Temperature(1.0), **kwargs)
    np.testing.assert_array_equal(plain, same["var"])
    cooled = ct.gaussian.simulate(
        0.0, 1.0, 10, 30, policy=ct.policies.Temperature(0.5), record="last",
        num_replicates=4000, regime=W(0.5, 10), seed=1,
    )["var"][-1]  # fmt: skip
    # E v' = (1 - w) tau^2 E v + w: stationary E v = w / (1 - (1 - w) tau^2) = 0.5 / 0.875
    assert abs(mean_z(cooled, 0.5 / 0.875)) < Z_CRIT


# ---------------------------------------------------------------------------------------------
# Bad input


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        (dict(weight=-0.1, num_real=5), InputError, "weight"),
        (dict(weight=1.5, num_real=5), InputError, "weight"),
        (dict(weight=float("nan"), num_real=5), InputError, "weight"),
        (dict(weight=0.5, num_real=0), InputError, "num_real"),
        (dict(weight=0.5, num_real=2.5), InputTypeError, "num_real"),
        (dict(weight="a", num_real=2), InputTypeError, "weight"),
    ],
)
def test_weighted_fresh_validates(kwargs, error, match):
    with pytest.raises(error, match=match):
        W(**kwargs)


def test_families_without_weighted_fresh_refuse_it():
    with pytest.raises(InputError, match="not supported by"):
        ct.poisson.simulate(2.0, 10, 3, regime=W(0.5, 3))
    with pytest.raises(InputError, match="WeightedFresh"):
        check_regime(W(0.5, 3))
    with pytest.raises(InputTypeError, match="regime must be"):
        check_regime("replace")


def test_bad_weighted_calls():
    with pytest.raises(InputError, match="num_real"):
        ct.gaussian.simulate(0.0, 1.0, 10, 3, regime=W(0.5, 1))  # unbiased needs n >= 2
    with pytest.raises(InputError, match="num_real"):
        ct.gaussian.stationary_moments(10, W(0.5, 1))
    with pytest.raises(InputError, match=r"weight=0\.0"):
        ct.gaussian.stationary_moments(10, W(0.0, 5))
    with pytest.raises(InputError, match=r"weight=0\.0"):
        ct.categorical.stationary_moments([0.5, 0.5], 10, W(0.0, 5))
    with pytest.raises(InputError, match="num_real"):
        ct.gaussian.optimal_fresh_weight(10, 1)
    with pytest.raises(InputError, match="num_samples"):
        ct.categorical.optimal_fresh_weight(0, 4)
    with pytest.raises(InputError, match="data0"):
        ct.gaussian.simulate(None, None, 10, 3, data0=np.arange(5.0), regime=W(0.5, 3))


# ---------------------------------------------------------------------------------------------
# Fuzzing


@settings(max_examples=60, deadline=None)
@given(m=hs.integers(2, 10**6), n=hs.integers(2, 10**6))
def test_fuzz_gaussian_optimum(m, n):
    w = ct.gaussian.optimal_fresh_weight(m, n)
    assert 0.0 < w < 1.0
    assert w * w / n + w / m - 1.0 / m == pytest.approx(0.0, abs=1e-12 / min(m, n))
    d = float(ct.gaussian.stationary_moments(m, W(w, n))[1])
    for other in (0.5 * w, min(1.0, 1.5 * w)):
        assert d <= float(ct.gaussian.stationary_moments(m, W(other, n))[1]) * (1 + 1e-12)


@settings(max_examples=60, deadline=None)
@given(m=hs.integers(1, 10**6), n=hs.integers(1, 10**6))
def test_fuzz_categorical_optimum(m, n):
    w = ct.categorical.optimal_fresh_weight(m, n)
    assert 0.0 < w <= 1.0
    c = float(ct.categorical.stationary_moments([0.5, 0.5], m, W(w, n))[1][0, 0])
    assert 0.0 < c <= 0.25
    for other in (0.5 * w, min(1.0, 1.5 * w)):
        assert c <= float(
            ct.categorical.stationary_moments([0.5, 0.5], m, W(other, n))[1][0, 0]
        ) * (1 + 1e-12)


@settings(max_examples=60, deadline=None)
@given(
    weight=hs.one_of(hs.floats(allow_nan=True), hs.integers(-3, 3), hs.text(max_size=2)),
    num_real=hs.one_of(hs.integers(-5, 10**9), hs.floats(allow_nan=True), hs.none()),
)
def test_fuzz_weighted_fresh_accepts_or_raises_input_error(weight, num_real):
    try:
        regime = W(weight, num_real)
    except InputError:
        return
    assert 0.0 <= regime.weight <= 1.0 and regime.num_real >= 1
    for m in (2, 50):
        if regime.weight > 0 and regime.num_real >= 2:
            v, d = ct.gaussian.stationary_moments(m, regime)
            assert v == pytest.approx(1.0) and 0.0 < d < math.inf
        if regime.weight > 0:
            _, cov = ct.categorical.stationary_moments([0.3, 0.7], m, regime)
            assert 0.0 < cov[0, 0] <= 0.21
