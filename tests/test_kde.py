"""The KDE family (docs/theory.md §5.1): closed forms, recursions against an independent law,
the kernel against tests/naive.py, Monte Carlo agreement, Kazdan's claims, bad input, fuzzing.

Statistical comparisons are two-sided z-tests at a family-wise false-alarm rate of 1e-3 over the
comparisons of this file (Bonferroni, ``Z_CRIT``), with fixed seeds.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import chi2

import collapse_theory as ct
from collapse_theory._stats import mean_se, mean_z, proportion_z, z_threshold
from collapse_theory._validate import InputError, InputTypeError
from collapse_theory.kde import AccumulateSubsample, Proportional
from collapse_theory.kde.options import kernel_factor_squared
from collapse_theory.kde.tails import kde_ancestry_weights
from collapse_theory.regimes import Accumulate, FreshData, Replace
from collapse_theory.rng import block_generators
from tests.naive import kde_chain

kde = ct.kde
Z_CRIT = z_threshold(1e-3, 120)
REGIMES = {
    "replace": Replace(),
    "mix": FreshData(0.3),
    "split": FreshData(0.3, "split"),
    "accumulate": Accumulate(),
    "subsample": AccumulateSubsample(),
}
BANDWIDTHS = (0.3, Proportional(0.4), "scott", "silverman")


# --------------------------------------------------------------------------------------------
# Closed forms


def test_check_values_of_the_specification():
    values = kde.expected_variance(50, [10, 100], bandwidth=0.3)
    assert values == pytest.approx([1.64025, 4.03583], abs=5e-6)


@pytest.mark.parametrize("h", [0.05, 0.3, 1.0])
def test_replace_fixed_bandwidth_closed_form(h):
    m, gens = 20, np.arange(0, 60, 7)
    r = (m - 1) / m
    exact = m * h * h + (2.0 - m * h * h) * r**gens
    assert kde.expected_variance(m, gens, bandwidth=h, var0=2.0) == pytest.approx(exact, rel=1e-12)
    marginal = kde.marginal_variance(m, gens, bandwidth=h, var0=2.0)
    assert marginal == pytest.approx(2.0 + gens * h * h, rel=1e-12)


@pytest.mark.parametrize("bandwidth", [Proportional(0.4), "scott", "silverman"])
def test_replace_proportional_closed_form(bandwidth):
    m, gens = 30, np.arange(12)
    c2 = kernel_factor_squared(bandwidth, m, 1)
    exact = 1.5 * ((m - 1) / m * (1 + c2)) ** gens
    got = kde.expected_variance(m, gens, bandwidth=bandwidth, var0=1.5)
    assert got == pytest.approx(exact, rel=1e-12)


def test_scott_and_silverman_are_scipys_factors():
    from scipy.stats import gaussian_kde

    points = np.random.default_rng(0).standard_normal((3, 40))
    mle = np.cov(points, bias=True)
    for rule in ("scott", "silverman"):
        kernel = gaussian_kde(points, bw_method=rule).covariance
        assert kernel == pytest.approx(kernel_factor_squared(rule, 40, 3) * mle, rel=1e-12)


@pytest.mark.parametrize("name", REGIMES)
def test_marginal_variance_equals_the_ancestry_mixture(name):
    """Two derivations of the covariance of a draw from model n (fixed h): the moment
    recursion V_n + D_n, and the exact mixture law sum_j w_nj N(0, s0^2 + j h^2)."""
    m, h, v0, n = 12, 0.4, 1.7, 25
    weights = kde_ancestry_weights(m, n, REGIMES[name])
    assert weights.sum(axis=1) == pytest.approx(np.ones(n + 1), rel=1e-12)
    mixture = weights @ (v0 + np.arange(n + 1) * h * h)
    recursion = kde.marginal_variance(
        m, np.arange(n + 1), bandwidth=h, var0=v0, regime=REGIMES[name]
    )
    assert recursion == pytest.approx(mixture, rel=1e-12)


def test_matrix_recursion_is_the_scalar_one_per_direction():
    cov = np.array([[2.0, 0.6], [0.6, 1.0]])
    values, vectors = np.linalg.eigh(cov)
    for regime in REGIMES.values():
        matrix = kde.expected_variance(15, 7, bandwidth=Proportional(0.5), var0=cov, regime=regime)
        scalars = [
            kde.expected_variance(15, 7, bandwidth=Proportional(0.5), var0=v, regime=regime)
            for v in values
        ]
        assert matrix == pytest.approx(vectors @ np.diag(scalars) @ vectors.T, rel=1e-12)


def test_kazdan_fixed_bandwidth_inflates_iff_m_h2_above_var0():
    m = 25
    threshold = kde.inflation_threshold(m, 1.0)
    assert threshold == pytest.approx(0.2)
    gens = np.arange(0, 400, 20)
    above = kde.expected_variance(m, gens, bandwidth=1.2 * threshold)
    below = kde.expected_variance(m, gens, bandwidth=0.8 * threshold)
    at = kde.expected_variance(m, gens, bandwidth=threshold)
    assert np.all(np.diff(above) > 0) and above[-1] == pytest.approx(1.44, rel=1e-3)
    assert np.all(np.diff(below) < 0) and below[-1] == pytest.approx(0.64, rel=1e-3)
    assert at == pytest.approx(np.ones_like(at), rel=1e-12)


def test_accumulate_fixed_bandwidth_grows_like_log_n():
    v = kde.expected_variance(10, [100, 1000, 10000], bandwidth=0.3, regime=Accumulate())
    steps = np.diff(v)
    assert steps == pytest.approx([0.09 * math.log(10)] * 2, rel=0.05)


def test_expected_tail_mass_grows_and_check_value():
    mass = kde.expected_tail_mass(50, [0, 10], bandwidth=0.3)
    assert mass[0] == pytest.approx(0.1, rel=1e-12)
    assert mass[1] == pytest.approx(0.23275, abs=5e-6)


# --------------------------------------------------------------------------------------------
# Kernel against the naive reference


def _scipy_rule(rule):
    def kernel(points):
        d = points.shape[1]
        return kernel_factor_squared(rule, points.shape[0], d) * np.cov(
            points.T, bias=True
        ).reshape(d, d)

    return kernel


@pytest.mark.parametrize("name", REGIMES)
@pytest.mark.parametrize("bandwidth", [0.3, "scott"])
def test_kernel_matches_naive(name, bandwidth):
    data = np.random.default_rng(5).standard_normal((7, 2))
    run = kde.simulate(
        data, 5, 4, bandwidth=bandwidth, regime=REGIMES[name], num_replicates=3, seed=11
    )
    generator = block_generators(np.random.SeedSequence(11), 3)[0]
    naive_bw = bandwidth if isinstance(bandwidth, float) else _scipy_rule(bandwidth)
    for r in range(3):
        means, covs = kde_chain(
            data,
            np.zeros((2, 2)),
            5,
            4,
            bandwidth=naive_bw,
            regime=name,
            fraction=0.3,
            rng=generator,
        )
        assert run["mean"][:, r] == pytest.approx(means, abs=1e-12)
        assert run["cov"][:, r] == pytest.approx(covs, abs=1e-12)


def test_gaussian_start_matches_naive_1d():
    run = kde.simulate(2.0, 6, 5, bandwidth=Proportional(0.3), num_replicates=2, seed=3)
    generator = block_generators(np.random.SeedSequence(3), 2)[0]
    for r in range(2):
        means, covs = kde_chain(
            np.zeros((1, 1)),
            np.full((1, 1), math.sqrt(2.0)),
            6,
            5,
            bandwidth=lambda x: 0.09 * np.cov(x.T, bias=True).reshape(1, 1),
            rng=generator,
        )
        assert run["var"][:, r] == pytest.approx(covs[:, 0, 0], abs=1e-12)
        assert run["mean"][:, r] == pytest.approx(means[:, 0], abs=1e-12)


def test_same_seed_same_run_for_any_threads_and_chunks():
    kwargs = dict(bandwidth=0.3, regime=AccumulateSubsample(), num_replicates=600, seed=9)
    one = kde.simulate(1.0, 8, 6, num_threads=1, **kwargs)
    two = kde.simulate(1.0, 8, 6, num_threads=2, chunk_size=2, **kwargs)
    assert np.array_equal(one["var"], two["var"]) and np.array_equal(one["mean"], two["mean"])


# --------------------------------------------------------------------------------------------
# Monte Carlo agreement


@pytest.mark.parametrize("name", REGIMES)
@pytest.mark.parametrize("bandwidth", [0.3, Proportional(0.4)])
def test_variance_and_drift_agree_with_simulation(name, bandwidth):
    regime, m, gens = REGIMES[name], 10, [1, 3, 8]
    run = kde.simulate(
        1.0, m, 8, bandwidth=bandwidth, regime=regime, num_replicates=6000, record=gens, seed=2024
    )
    v = kde.expected_variance(m, gens, bandwidth=bandwidth, regime=regime)
    d = kde.expected_mean_drift(m, gens, bandwidth=bandwidth, regime=regime)
    for i in range(len(gens)):
        assert abs(mean_z(run["var"][i], v[i])) < Z_CRIT
        assert abs(mean_z(run["mean"][i] ** 2, d[i])) < Z_CRIT


def test_d_dimensional_covariance_agrees_with_simulation():
    data = np.random.default_rng(1).standard_normal((30, 2)) @ np.array([[1.0, 0.5], [0.0, 0.7]])
    var0 = np.cov(data.T, bias=True)  # model 0 is the data's empirical law
    run = kde.simulate(
        data,
        12,
        5,
        bandwidth="scott",
        regime=Accumulate(),
        num_replicates=4000,
        record="last",
        seed=7,
    )
    exact = kde.expected_variance(12, 5, bandwidth="scott", var0=var0, regime=Accumulate())
    for a, b in [(0, 0), (0, 1), (1, 1)]:
        assert abs(mean_z(run["cov"][0, :, a, b], exact[a, b])) < Z_CRIT


def test_law_of_the_first_fit_median():
    """A probability, not a mean: Var(model 1) = s2_MLE + h^2 with M s2/s0^2 ~ chi2(M-1), so
    P(Var(model 1) < median) = 1/2 at the exact median."""
    m, h = 8, 0.3
    median = chi2.ppf(0.5, m - 1) / m + h * h
    run = kde.simulate(1.0, m, 1, bandwidth=h, num_replicates=20000, record="last", seed=5)
    assert abs(proportion_z(run["var"][0] < median, 0.5)) < Z_CRIT


@pytest.mark.parametrize("name", ["replace", "mix", "accumulate", "subsample"])
def test_tail_mass_agrees_with_simulation(name):
    m, h, gens = 15, 0.3, [1, 4, 12]
    width = kde.tails.kde_tail_width(0.1)
    run = kde.simulate(
        1.0,
        m,
        12,
        bandwidth=h,
        regime=REGIMES[name],
        num_replicates=5000,
        record=gens,
        seed=31,
        tail_threshold=width,
    )
    exact = kde.expected_tail_mass(m, gens, bandwidth=h, regime=REGIMES[name])
    for i in range(len(gens)):
        assert abs(mean_z(run["tail"][i], exact[i])) < Z_CRIT


def test_kazdan_inflation_in_simulation():
    """M h^2 = 2.25 sigma0^2 inflates, M h^2 = 0.25 sigma0^2 shrinks: at n = 40 the mean
    variance is beyond 1 by many standard errors, on the side the theory says."""
    for h, sign in ((0.3, 1.0), (0.1, -1.0)):
        run = kde.simulate(1.0, 25, 40, bandwidth=h, num_replicates=3000, record="last", seed=3)
        mean, se = mean_se(run["var"][0])
        assert sign * (mean - 1.0) / se > 10.0
        assert abs(mean_z(run["var"][0], kde.expected_variance(25, 40, bandwidth=h))) < Z_CRIT


# --------------------------------------------------------------------------------------------
# Kazdan's 2-D starts


def test_named_starts_and_distances():
    for name in kde.STARTS:
        points = kde.named_start(name, 60, seed=1)
        assert points.shape == (60, 2) and np.all(np.isfinite(points))
        assert np.array_equal(points, kde.named_start(name, 60, seed=1))
    x = kde.named_start("moons", 50)
    assert kde.energy_distance(x, x) == 0.0
    assert kde.w2_points(x, x + np.array([3.0, 4.0])) == pytest.approx(5.0)
    run = kde.simulate(
        x, 50, 30, bandwidth="scott", num_replicates=3, record=[0, 30], seed=0, record_datasets=True
    )
    energy = kde.distance_to_start(run, x)
    w2 = kde.distance_to_start(run, x, metric="w2")
    assert energy.shape == w2.shape == (2, 3)
    assert np.all(energy[1] > energy[0]) and np.all(w2[1] > w2[0])  # Scott inflates (§5.1)


# --------------------------------------------------------------------------------------------
# Bad input


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        (dict(bandwidth=0.0), InputError, "bandwidth must be > 0"),
        (dict(bandwidth=-1.0), InputError, "bandwidth must be > 0"),
        (dict(bandwidth="normal"), InputError, "one of \\['scott', 'silverman'\\]"),
        (dict(bandwidth=[0.3]), InputTypeError, "bandwidth must be a number"),
        (dict(bandwidth=0.3, regime="replace"), InputTypeError, "regime must be an instance"),
        (dict(bandwidth="scott", num_samples=1), InputError, "num_samples must be an integer >= 2"),
        (dict(bandwidth=0.3, var0=-1.0), InputError, "var0 must be > 0"),
        (dict(bandwidth=0.3, var0=math.nan), InputError, "var0 must be finite"),
    ],
)
def test_bad_input_to_the_closed_forms(kwargs, error, match):
    arguments = dict(num_samples=10, generations=3) | kwargs
    with pytest.raises(error, match=match):
        kde.expected_variance(**arguments)


def test_bad_input_to_the_simulator():
    with pytest.raises(InputError, match="data0_or_var0"):
        kde.simulate([0.0, math.nan, 1.0], 5, 2, bandwidth=0.3)
    with pytest.raises(InputError, match="data0_or_var0 must be > 0"):
        kde.simulate(0.0, 5, 2, bandwidth=0.3)
    with pytest.raises(InputError, match="bandwidth must be > 0"):
        kde.simulate(1.0, 5, 2, bandwidth=0.0)
    with pytest.raises(InputError, match="tail_threshold is for 1-D"):
        kde.simulate(np.zeros((4, 2)), 5, 2, bandwidth=0.3, tail_threshold=1.0)
    with pytest.raises(InputError, match="record_datasets=True"):
        kde.distance_to_start(kde.simulate(1.0, 5, 2, bandwidth=0.3, num_replicates=2), [0.0])
    with pytest.raises(InputError, match="expected_tail_mass is exact for a fixed bandwidth"):
        kde.expected_tail_mass(10, 3, bandwidth="scott")


# --------------------------------------------------------------------------------------------
# Fuzzing

regimes = st.sampled_from(list(REGIMES.values()))
bandwidths = st.one_of(
    st.floats(0.01, 3.0),
    st.builds(Proportional, st.floats(0.01, 2.0)),
    st.sampled_from(["scott", "silverman"]),
)


@settings(max_examples=40, deadline=None)
@given(
    m=st.integers(2, 200),
    n=st.integers(0, 60),
    bandwidth=bandwidths,
    regime=regimes,
    var0=st.floats(0.01, 100.0),
)
def test_fuzz_closed_forms(m, n, bandwidth, regime, var0):
    v = kde.expected_variance(m, n, bandwidth=bandwidth, var0=var0, regime=regime)
    d = kde.expected_mean_drift(m, n, bandwidth=bandwidth, var0=var0, regime=regime)
    marginal = kde.marginal_variance(m, n, bandwidth=bandwidth, var0=var0, regime=regime)
    assert np.isfinite(v) and v > 0 and d >= 0 and marginal == pytest.approx(v + d)


@settings(max_examples=15, deadline=None)
@given(
    m=st.integers(2, 12),
    n=st.integers(0, 5),
    bandwidth=bandwidths,
    regime=regimes,
    dim=st.integers(1, 3),
    seed=st.integers(0, 2**32),
)
def test_fuzz_simulator(m, n, bandwidth, regime, dim, seed):
    data = np.random.default_rng(seed).standard_normal((m + 1, dim))
    run = kde.simulate(data, m, n, bandwidth=bandwidth, regime=regime, num_replicates=3, seed=seed)
    key = "var" if dim == 1 else "cov"
    assert run[key].shape[:2] == (n + 1, 3) and np.all(np.isfinite(run[key]))


# --------------------------------------------------------------------------------------------
# The jax backend (Replace and FreshData): the same law as the closed forms


@pytest.mark.parametrize(
    "name",  # each regime compiles its own jax chain (seconds): one in the fast suite
    [
        pytest.param("replace", marks=pytest.mark.slow),
        pytest.param("split", marks=pytest.mark.slow),
        "mix",
    ],
)
def test_jax_agrees_with_the_closed_forms(name):
    pytest.importorskip("jax")
    regime, gens = REGIMES[name], [1, 6]
    width = kde.tails.kde_tail_width(0.1)
    run = kde.simulate(
        1.0,
        10,
        6,
        bandwidth=0.3,
        regime=regime,
        num_replicates=3000,
        record=gens,
        seed=6,
        backend="jax",
        tail_threshold=width,
    )
    assert run.metadata["backend"] == "jax"
    v = kde.expected_variance(10, gens, bandwidth=0.3, regime=regime)
    d = kde.expected_mean_drift(10, gens, bandwidth=0.3, regime=regime)
    tail = kde.expected_tail_mass(10, gens, bandwidth=0.3, regime=regime)
    for i in range(2):
        assert abs(mean_z(run["var"][i], v[i])) < Z_CRIT
        assert abs(mean_z(run["mean"][i] ** 2, d[i])) < Z_CRIT
        assert abs(mean_z(run["tail"][i], tail[i])) < Z_CRIT


def test_jax_refuses_the_pooled_regimes():
    with pytest.raises(InputError, match="backend='jax' runs Replace and FreshData"):
        kde.simulate(1.0, 5, 2, bandwidth=0.3, regime=Accumulate(), backend="jax")


# --------------------------------------------------------------------------------------------
# Command line


def test_simulate_kde_command(capsys, tmp_path):
    from collapse_theory.cli import main

    out_file = tmp_path / "run.npz"
    argv = [
        "simulate",
        "kde",
        "--bandwidth",
        "proportional:0.5",
        "--num-samples",
        "20",
        "--generations",
        "3",
        "--replicates",
        "300",
        "--record",
        "0,3",
        "--seed",
        "1",
        "--regime",
        "accumulate-subsample",
        "--out",
        str(out_file),
    ]
    assert main(argv) == 0
    out = capsys.readouterr().out
    exact = kde.expected_variance(20, 3, bandwidth=Proportional(0.5), regime=AccumulateSubsample())
    assert f"{float(exact):.6g}" in out and out_file.exists()
    assert (
        main(["simulate", "kde", "--bandwidth", "wide", "--num-samples", "5", "--generations", "1"])
        == 2
    )
    assert "the bandwidth h must be a number; got 'wide'" in capsys.readouterr().err


def test_tail_loss_table_rows():
    from collapse_theory.tails.table import CurveRequest, record_generations

    settings_ = kde.tails.benchmark_settings((10, 1000), quick=True)
    assert [(s.num_samples, s.regime, s.horizon) for s in settings_] == [
        (10, "replace", 20),
        (10, "fresh 10%", 20),
        (10, "accumulate", 20),
        (1000, "replace", 200),
        (1000, "fresh 10%", 200),
        (1000, "accumulate", 100),
    ]
    request = CurveRequest(
        settings_[0],
        record_generations(20),
        0.1,
        0.01,
        np.random.SeedSequence(1),
        np.random.SeedSequence(2),
    )
    (curve,) = kde.tails.benchmark_curves(request)
    assert curve.method == "monte-carlo" and curve.initial_mass == pytest.approx(0.1)
    exact = kde.expected_tail_mass(10, curve.generations, bandwidth=1 / math.sqrt(10))
    z = (curve.mean[1:] - exact[1:]) / curve.mean_se[1:]
    assert np.all(np.abs(z) < Z_CRIT)


def test_jax_as_the_default_leaves_the_pooled_regimes_on_numba():
    with ct.backends.use("jax"):
        run = kde.simulate(1.0, 5, 2, bandwidth=0.3, regime=Accumulate(), num_replicates=4)
    assert run.metadata["backend"] == "numba"


@settings(max_examples=30, deadline=None)
@given(
    m=st.integers(1, 100),
    n=st.integers(0, 40),
    h=st.floats(0.01, 3.0),
    regime=regimes,
    q=st.floats(0.001, 0.999),
)
def test_fuzz_tail_law(m, n, h, regime, q):
    weights = kde_ancestry_weights(m, n, regime)
    assert np.all(weights >= 0) and weights.sum(axis=1) == pytest.approx(np.ones(n + 1))
    mass = kde.expected_tail_mass(m, np.arange(n + 1), bandwidth=h, quantile=q, regime=regime)
    assert mass[0] == pytest.approx(q) and np.all(np.diff(mass) >= -1e-12)  # tails only fatten
