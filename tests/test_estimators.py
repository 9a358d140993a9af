"""Location estimators beyond the mean (docs/theory.md §10): ``gaussian.simulate(...,
location="median" | "trimmed:a", known_scale=...)`` against the naive reference and the exact
properties, and bad input. The Sum 1/k^2 limit for the median and the trimmed mean as M grows
is a benchmark (benchmarks/bench_estimators.py), not a test.

z-tests at fixed seeds against ``Z_CRIT`` = z_threshold(1e-3, 60): family-wise false-alarm rate
1e-3 over the (fewer than 60) z-scores here.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as hs
from scipy.stats import trim_mean

import collapse_theory as ct
from collapse_theory._stats import (
    mean_difference_z,
    two_sample_z,
    variance_se,
    variance_z,
    z_threshold,
)
from collapse_theory._validate import InputError, InputTypeError
from collapse_theory.gaussian import _numba
from collapse_theory.gaussian.simulate import parse_location
from tests import naive

Z_CRIT = z_threshold(1e-3, 60)


def _run(location, regime, size=11, generations=3, replicates=20_000, seed=1, **kwargs):
    return ct.gaussian.simulate(
        0.5, 2.0, size, generations, num_replicates=replicates, method="samples",
        location=location, known_scale=True, regime=regime, seed=seed, **kwargs,
    )  # fmt: skip


@pytest.mark.parametrize("size", [10, 11])
@pytest.mark.parametrize("location", ["median", "trimmed:0.2", "trimmed:0.1"])
def test_location_estimate_is_numpy_and_scipy(location, size):
    x = np.random.default_rng(size).normal(size=size)
    code, trim = parse_location(location)
    expected = np.median(x) if location == "median" else trim_mean(x, trim)
    # the same order statistics summed in another order: equal to rounding
    assert _numba._location(x, code, trim) == pytest.approx(expected, rel=1e-14, abs=1e-15)


@pytest.mark.parametrize("location", ["median", "trimmed:0.1", "mean"])
@pytest.mark.parametrize("regime", ["replace", "accumulate"])
def test_kernel_agrees_with_naive_reference(location, regime):
    fast = _run(location, ct.Accumulate() if regime == "accumulate" else ct.Replace())["mean"]
    rng = np.random.default_rng(2)
    slow = np.array(
        [
            naive.gaussian_location_chain(
                0.5, 2.0, [11] * 3, location=location, regime=regime, rng=rng
            )
            for _ in range(2000)
        ]
    ).T
    for generation in (1, 3):
        assert abs(mean_difference_z(fast[generation], slow[generation])) < Z_CRIT
        spread_fast = np.log(np.abs(fast[generation] - 0.5))
        spread_slow = np.log(np.abs(slow[generation] - 0.5))
        assert abs(mean_difference_z(spread_fast, spread_slow)) < Z_CRIT


def test_known_scale_mean_follows_the_exact_ratios():
    """Var theta_g = (var0/M) Sum_{k<=g} 1/k^2 (accumulate) and g var0/M (replace), exactly."""
    for regime, ratios in (
        (ct.Accumulate(), np.cumsum(1.0 / np.arange(1, 4) ** 2)),
        (ct.Replace(), np.arange(1, 4.0)),
    ):
        theta = _run("mean", regime, replicates=40_000, seed=3)["mean"]
        assert np.all(_run("mean", regime, replicates=10, seed=3)["var"] == 2.0)
        for generation in (1, 2, 3):
            assert abs(variance_z(theta[generation], 2.0 / 11 * ratios[generation - 1])) < Z_CRIT


@pytest.mark.parametrize("location", ["median", "trimmed:0.1"])
def test_replace_increments_are_identically_distributed(location):
    """Location equivariance: under Replace theta_{g+1} - theta_g is the estimator applied to an
    N(0, var0) sample, whatever the past, so Var theta_g = g Var theta_1 exactly."""
    theta = _run(location, ct.Replace(), generations=3, replicates=40_000, seed=4)["mean"]
    first, third = theta[1] - theta[0], theta[3] - theta[2]
    assert abs(two_sample_z(*variance_se(first), *variance_se(third))) < Z_CRIT
    assert abs(mean_difference_z(np.abs(first), np.abs(third))) < Z_CRIT


def test_fitted_scale_is_the_sample_variance():
    run = ct.gaussian.simulate(
        0.0, 1.0, 20, 1, num_replicates=40_000, method="samples", location="median", seed=5
    )
    reference = np.random.default_rng(6).chisquare(19, 40_000) / 19
    assert abs(mean_difference_z(run["var"][1], reference)) < Z_CRIT
    assert abs(mean_difference_z(np.log(run["var"][1]), np.log(reference))) < Z_CRIT


def test_same_seed_same_arrays_for_any_threads():
    a = _run("median", ct.Accumulate(), replicates=3000, seed=7, num_threads=1)["mean"]
    b = _run("median", ct.Accumulate(), replicates=3000, seed=7, num_threads=2, chunk_size=3)
    np.testing.assert_array_equal(a, b["mean"])


@pytest.mark.parametrize(
    "location, error",
    [
        ("mode", InputError),
        ("trimmed:0.5", InputError),
        ("trimmed:-0.1", InputError),
        ("trimmed:x", InputError),
        ("trimmed:nan", InputError),
        (3, InputTypeError),
    ],
)
def test_unknown_location_is_refused(location, error):
    with pytest.raises(error, match="location"):
        ct.gaussian.simulate(0.0, 1.0, 10, 2, method="samples", location=location)


@pytest.mark.parametrize(
    "kwargs, need",
    [
        (dict(method="sufficient"), "method='samples'"),
        (dict(regime=ct.FreshData(0.2)), "Replace"),
        (dict(regime=ct.WeightedFresh(0.2, 5)), "Replace"),
        (dict(policy=ct.policies.Temperature(0.9)), "policy"),
        (dict(backend="jax"), "numba"),
    ],
)
def test_unsupported_combinations_are_refused(kwargs, need):
    kwargs = {"method": "samples", **kwargs}
    with pytest.raises(InputError, match=need):
        ct.gaussian.simulate(0.0, 1.0, 10, 2, location="median", **kwargs)
    with pytest.raises(InputError, match="1-D"):
        ct.gaussian.simulate(np.zeros(2), np.eye(2), 10, 2, method="samples", location="median")
    with pytest.raises(InputTypeError, match="known_scale"):
        ct.gaussian.simulate(0.0, 1.0, 10, 2, method="samples", known_scale="yes")


@settings(max_examples=100, deadline=None)
@given(hs.one_of(hs.text(max_size=14), hs.from_regex(r"trimmed:-?[0-9.]{1,6}", fullmatch=True)))
def test_fuzz_parse_location(text):
    try:
        code, trim = parse_location(text)
    except InputError:
        return
    assert code in (_numba.LOCATION_MEAN, _numba.LOCATION_MEDIAN, _numba.LOCATION_TRIMMED)
    assert 0.0 <= trim < 0.5
