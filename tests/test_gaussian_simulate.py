"""The Gaussian simulator: both methods against each other and the naive numpy reference,
reproducibility, recording and input validation.

Two-sample comparisons are z-tests with |z| < Z_CRIT = 4.0 (false alarm 6.3e-5 each; about 80
comparisons here, so a family-wise rate near 5e-3) and Kolmogorov–Smirnov tests with p > 1e-4,
at fixed seeds.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.stats as st
from hypothesis import given, settings
from hypothesis import strategies as hs

import collapse_theory as ct
from collapse_theory._stats import mean_difference_z
from collapse_theory.gaussian.simulate import simulate
from tests import naive

Z_CRIT = 4.0
P_MIN = 1e-4

REGIMES = {
    "replace": (ct.Replace(), {"regime": "replace"}),
    "mix": (ct.FreshData(0.25, "mix"), {"regime": "mix", "fraction": 0.25}),
    "split": (ct.FreshData(0.25, "split"), {"regime": "split", "fraction": 0.25}),
    "accumulate": (ct.Accumulate(), {"regime": "accumulate"}),
}


@pytest.mark.parametrize("name", list(REGIMES))
@pytest.mark.parametrize("estimator", ["unbiased", "mle"])
def test_1d_methods_agree_with_naive_reference(name, estimator):
    regime, kwargs = REGIMES[name]
    schedule = ct.schedules.Linear(8, 2.0)
    sizes = schedule.sizes(10)
    runs = [
        simulate(
            0.5,
            2.0,
            schedule,
            10,
            num_replicates=20_000,
            estimator=estimator,
            regime=regime,
            method=method,
            seed=seed,
        )
        for method, seed in [("sufficient", 1), ("samples", 2)]
    ]
    slow_mean, slow_var = naive.gaussian_replicates(
        0.5, 2.0, sizes, 1500, seed=3, ddof=1 if estimator == "unbiased" else 0, **kwargs
    )
    for generation in (1, 4, 10):
        samples = [(run["mean"][generation], np.log(run["var"][generation])) for run in runs]
        samples.append((slow_mean[generation], np.log(slow_var[generation])))
        for a, b in [(0, 1), (0, 2), (1, 2)]:
            assert abs(mean_difference_z(samples[a][0], samples[b][0])) < Z_CRIT
            assert abs(mean_difference_z(samples[a][1], samples[b][1])) < Z_CRIT
        assert st.ks_2samp(samples[0][1], samples[1][1]).pvalue > P_MIN
        assert st.ks_2samp(samples[0][0], samples[1][0]).pvalue > P_MIN


@pytest.mark.parametrize("name", ["replace", "split", "accumulate"])
def test_multivariate_methods_agree_with_naive_reference(name):
    regime, kwargs = REGIMES[name]
    cov0 = np.array([[2.0, 0.6, 0.0], [0.6, 1.0, -0.3], [0.0, -0.3, 0.5]])
    mean0 = np.array([1.0, -1.0, 0.0])
    runs = [
        simulate(mean0, cov0, 9, 6, num_replicates=8_000, regime=regime, method=method, seed=seed)
        for method, seed in [("sufficient", 4), ("samples", 5)]
    ]
    slow_mean, slow_cov = naive.gaussian_replicates(
        mean0, cov0, np.full(6, 9), 800, seed=6, **kwargs
    )
    for generation in (1, 6):
        stats = [
            (
                run["mean"][generation][:, 0],
                np.linalg.slogdet(run["cov"][generation])[1],
                run["cov"][generation][:, 0, 1],
            )
            for run in runs
        ]
        stats.append(
            (
                slow_mean[generation][:, 0],
                np.linalg.slogdet(slow_cov[generation])[1],
                slow_cov[generation][:, 0, 1],
            )
        )
        for a, b in [(0, 1), (0, 2), (1, 2)]:
            for i in range(3):
                assert abs(mean_difference_z(stats[a][i], stats[b][i])) < Z_CRIT


def test_sufficient_statistics_reproduce_theory_check_values():
    """docs/theory.md §2.2-2.4 at M=10, n=20 (z-tests against the closed forms)."""
    run = simulate(0.0, 1.0, 10, 20, num_replicates=100_000, seed=10, record="last")
    var = run["var"][0]
    log_var = np.log(var)
    k = 9
    kappa1 = 20 * (st.gamma.expect(np.log, args=(k / 2,), scale=2 / k))  # E ln(chi2_k / k)
    assert abs((log_var.mean() - kappa1) / (log_var.std() / np.sqrt(var.size))) < Z_CRIT
    p = np.mean(var < 0.1)
    assert abs((p - 0.4929) / np.sqrt(p * (1 - p) / var.size)) < Z_CRIT
    drift = run["mean"][0]
    assert abs((np.mean(drift**2) - 2.0) / (np.std(drift**2) / np.sqrt(var.size))) < Z_CRIT


def test_multivariate_log_det_drift_matches_bartlett_formula():
    """E ln det Sigma_n = ln det Sigma_0 + n sum_j [psi((k-j+1)/2) + ln(2/k)] (docs/theory.md §3.3)."""
    from scipy.special import digamma

    cov0 = np.diag([1.0, 2.0, 0.5])
    run = simulate(np.zeros(3), cov0, 12, 15, num_replicates=40_000, seed=11, record="last")
    log_det = np.linalg.slogdet(run["cov"][0])[1]
    k = 11
    expected = np.log(1.0) + 15 * sum(digamma((k - j + 1) / 2) + np.log(2 / k) for j in (1, 2, 3))
    assert abs((log_det.mean() - expected) / (log_det.std() / np.sqrt(log_det.size))) < Z_CRIT


def test_same_seed_same_arrays_for_any_threads_and_chunks():
    for args in [(0.0, 1.0, 10, 15), (np.zeros(2), np.eye(2), 6, 5)]:
        runs = [
            simulate(*args, num_replicates=700, seed=3, num_threads=t, chunk_size=c)
            for t, c in [(1, 1), (2, 1), (2, 3)]
        ]
        for run in runs[1:]:
            for name in run.trajectories:
                np.testing.assert_array_equal(run[name], runs[0][name])


def test_record_and_shapes():
    run = simulate(0.0, 1.0, 10, 12, num_replicates=30, seed=0, record=[0, 12])
    assert run["var"].shape == (2, 30) and run["mean"].shape == (2, 30)
    assert np.all(run["var"][0] == 1.0)
    full = simulate(0.0, 1.0, 10, 12, num_replicates=30, seed=0)
    np.testing.assert_array_equal(full["var"][[0, 12]], run["var"])
    multi = simulate(np.zeros(2), np.eye(2), 5, 3, num_replicates=4, seed=0, record="last")
    assert multi["mean"].shape == (1, 4, 2) and multi["cov"].shape == (1, 4, 2, 2)
    np.testing.assert_allclose(multi["cov"][0], np.transpose(multi["cov"][0], (0, 2, 1)))


def test_extreme_valid_inputs_stay_finite():
    tiny = simulate(0.0, 1e-300, 10, 50, num_replicates=50, seed=0, record="last")
    huge = simulate(0.0, 1e300, 10, 50, num_replicates=50, seed=0, record="last")
    assert np.all(np.isfinite(tiny["var"])) and np.all(tiny["var"] > 0)
    assert np.all(np.isfinite(huge["var"]))
    big_m = simulate(0.0, 1.0, 10**9, 5, num_replicates=50, seed=0, record="last")
    # ln sigma_5^2 has sd sqrt(5 * 2 / k), k = M - 1; 5 sd per value: false alarm 3e-5 over 50
    assert np.all(np.abs(np.log(big_m["var"])) < 5 * np.sqrt(5 * 2 / (10**9 - 1)))
    mle_one = simulate(0.0, 1.0, 1, 3, num_replicates=5, seed=0, estimator="mle")
    assert np.all(mle_one["var"][1:] == 0)
    singular = simulate(
        np.zeros(2), np.array([[1.0, 1.0], [1.0, 1.0]]), 5, 3, num_replicates=5, seed=0
    )
    assert np.all(np.isfinite(singular["cov"]))


@pytest.mark.parametrize(
    ("args", "kwargs", "error", "needle"),
    [
        ((0.0, 0.0, 10, 5), {}, ValueError, "cov0"),
        ((0.0, -1.0, 10, 5), {}, ValueError, "cov0"),
        ((0.0, np.nan, 10, 5), {}, ValueError, "cov0"),
        ((np.nan, 1.0, 10, 5), {}, ValueError, "mean0"),
        ((0.0, 1.0, 1, 5), {}, ValueError, "M >= 2"),
        ((np.zeros(3), np.eye(3), 3, 5), {}, ValueError, "M > d"),
        ((np.zeros(2), np.eye(3), 10, 5), {}, ValueError, "cov0"),
        ((np.zeros(2), [[1.0, 0.5], [0.0, 1.0]], 10, 5), {}, ValueError, "symmetric"),
        ((np.zeros(2), [[1.0, 2.0], [2.0, 1.0]], 10, 5), {}, ValueError, "semi-definite"),
        ((0.0, [1.0, 2.0], 10, 5), {}, ValueError, "cov0"),
        ((0.0, 1.0, 10, 5), {"estimator": "ols"}, ValueError, "estimator"),
        ((0.0, 1.0, 10, 5), {"method": "exact"}, ValueError, "method"),
        ((0.0, 1.0, 10, 5), {"regime": "fresh"}, TypeError, "regime"),
        ((0.0, 1.0, 10, 5), {"backend": "torch"}, ValueError, "backend"),
        ((0.0, 1.0, 4, 5), {"regime": ct.FreshData(1.0, "split")}, ValueError, "synthetic"),
        ((0.0, 1.0, 10, -1), {}, ValueError, "num_generations"),
        ((0.0, 1.0, 10.5, 5), {}, TypeError, "num_samples"),
    ],
)
def test_bad_input_is_refused_clearly(args, kwargs, error, needle):
    with pytest.raises(error, match=needle):
        simulate(*args, num_replicates=5, **kwargs)


def test_var0_is_the_1d_scale():
    """var0= is the positional scale of a 1-D model 0 (same arrays), recorded as var0."""
    by_position = simulate(0.5, 2.0, 10, 6, num_replicates=50, seed=3)
    by_keyword = simulate(
        0.5, var0=2.0, num_samples=10, num_generations=6, num_replicates=50, seed=3
    )
    for name in ("mean", "var"):
        np.testing.assert_array_equal(by_position[name], by_keyword[name])
    for run in (by_position, by_keyword):
        parameters = run.metadata["parameters"]
        assert parameters["var0"] == 2.0 and "cov0" not in parameters
    nd = simulate(np.zeros(2), np.eye(2), 10, 2, num_replicates=5, seed=0)
    assert "cov0" in nd.metadata["parameters"] and "var0" not in nd.metadata["parameters"]
    # the command line's summary reads var0, and the cov0 of results saved before the rename
    from collapse_theory.gaussian.cli import format_gaussian_summary

    table = format_gaussian_summary(by_keyword)
    old = ct.results.SimulationResult(
        generations=by_keyword.generations,
        trajectories=by_keyword.trajectories,
        metadata={
            **by_keyword.metadata,
            "parameters": {
                ("cov0" if k == "var0" else k): v
                for k, v in by_keyword.metadata["parameters"].items()
            },
        },
    )
    assert format_gaussian_summary(old) == table
    # the threshold P(var < 0.1 var0) is on the variance scale: 0.2 here, not 0.1 * 2**2
    last = by_keyword["var"][-1]
    assert f"{np.mean(last < 0.2):.4g}" in table.splitlines()[-1]


@pytest.mark.parametrize(
    ("args", "kwargs", "error", "needle"),
    [
        ((0.0,), {"sigma0": 2.0}, TypeError, r"takes var0.*var0=sigma0\*\*2 \(here var0=4\.0\)"),
        ((0.0, 1.0), {"var0": 1.0}, TypeError, "cov0.*var0.*not both"),
        ((np.zeros(2),), {"var0": 1.0}, ValueError, "var0 is the variance of a 1-D model 0"),
        ((0.0,), {"var0": 0.0}, ValueError, "var0"),
        ((0.0,), {"var0": -1.0}, ValueError, "var0"),
        ((0.0,), {"var0": [1.0, 2.0]}, ValueError, "var0 must be a scalar"),
        ((0.0,), {"var0": np.nan}, ValueError, "var0"),
        ((0.0,), {}, TypeError, "cov0.*var0"),
        ((None,), {"var0": 1.0, "data0": np.arange(5.0)}, ValueError, "data0"),
    ],
)
def test_var0_errors_name_the_argument(args, kwargs, error, needle):
    with pytest.raises(error, match=needle):
        simulate(*args, num_samples=10, num_generations=3, num_replicates=5, **kwargs)
    with pytest.raises(TypeError, match=r"missing required argument.*num_generations"):
        simulate(0.0, var0=1.0, num_samples=10)


def test_a_sweep_may_give_var0():
    """A sweep spec's var0 reaches the 1-D simulator (the plan checks it like any argument)."""
    from collapse_theory import sweep

    spec = sweep.SweepSpec(
        "gaussian.simulate",
        fixed={"mean0": 0.0, "num_samples": 10, "num_generations": 4, "record": "last"},
        grid={"var0": [1.0, 4.0]},
        seed=0,
        replicates=64,
    )
    plan = sweep.plan(spec)
    assert [kwargs["var0"] for kwargs in plan.arguments] == [1.0, 4.0]
    bad = sweep.SweepSpec(
        "gaussian.simulate",
        fixed={"mean0": 0.0, "num_samples": 10, "num_generations": 4},
        grid={"var0": [1.0, -4.0]},
        seed=0,
        replicates=64,
    )
    with pytest.raises(ValueError, match=r"grid\.var0\[1\].*var0"):
        sweep.plan(bad)
    theory = sweep.SweepSpec(
        "gaussian.theory.expected_variance",
        fixed={"num_samples": 10, "generations": 3},
        grid={"var0": [1.0, 4.0]},
        seed=0,
    )
    assert [kwargs["var0"] for kwargs in sweep.plan(theory).arguments] == [1.0, 4.0]


@settings(max_examples=30, deadline=None)
@given(
    dim=hs.integers(1, 3),
    num_samples=hs.integers(4, 20),
    num_generations=hs.integers(0, 8),
    scale=hs.floats(1e-3, 1e3),
    estimator=hs.sampled_from(["unbiased", "mle"]),
    method=hs.sampled_from(["sufficient", "samples"]),
    regime=hs.sampled_from(
        [ct.Replace(), ct.FreshData(0.3, "mix"), ct.FreshData(0.3, "split"), ct.Accumulate()]
    ),
    seed=hs.integers(0, 2**32),
)
def test_fuzz_simulate_gives_valid_fits(
    dim, num_samples, num_generations, scale, estimator, method, regime, seed
):
    if dim == 1:
        run = simulate(
            0.0,
            scale,
            num_samples,
            num_generations,
            num_replicates=3,
            estimator=estimator,
            method=method,
            regime=regime,
            seed=seed,
        )
        assert np.all(np.isfinite(run["mean"])) and np.all(run["var"] >= 0)
    else:
        cov0 = scale * (np.eye(dim) + 0.3 * np.ones((dim, dim)))
        run = simulate(
            np.zeros(dim),
            cov0,
            num_samples,
            num_generations,
            num_replicates=3,
            estimator=estimator,
            method=method,
            regime=regime,
            seed=seed,
        )
        cov = run["cov"]
        assert np.all(np.isfinite(cov))
        np.testing.assert_allclose(cov, np.swapaxes(cov, -1, -2), atol=1e-9 * scale)
        assert np.all(np.linalg.eigvalsh(cov) >= -1e-9 * scale)


@pytest.mark.parametrize("method", ["sufficient", "samples"])
def test_non_gaussian_start_only_changes_the_first_fit(method):
    """For D0 = Uniform(0, 1): E sigma_n^2 = 1/12 and E(mu_n - 1/2)^2 = (1/12) sum 1/M_i
    (docs/theory.md §2.1, §2.4 hold for any D0 with finite variance)."""
    run = simulate(
        None, None, 10, 6, num_replicates=50_000, seed=21, method=method, data0=st.uniform(0, 1)
    )
    assert run["mean"][0, 0] == 0.5 and run["var"][0, 0] == pytest.approx(1 / 12)
    for generation in (1, 6):
        var = run["var"][generation]
        assert abs((var.mean() - 1 / 12) / (var.std() / np.sqrt(var.size))) < Z_CRIT
        drift = (run["mean"][generation] - 0.5) ** 2
        expected = generation / 10 / 12
        assert abs((drift.mean() - expected) / (drift.std() / np.sqrt(drift.size))) < Z_CRIT
    # The first fit of uniform data is not the Gaussian law: its log-variance spread is smaller.
    # Var s^2 ∝ kurtosis - (M-3)/(M-1): 1.8 - 7/9 against 3 - 7/9, an sd ratio near 0.68; with
    # R = 5e4 each sd is known to 0.3 %, so the bound 0.9 is more than 50 SE from the expected ratio.
    gaussian = simulate(0.5, 1 / 12, 10, 1, num_replicates=50_000, seed=22)
    assert np.log(run["var"][1]).std() < 0.9 * np.log(gaussian["var"][1]).std()


def test_non_gaussian_start_from_points_and_in_d_dimensions():
    points = np.random.default_rng(0).exponential(size=(500, 2))
    run = simulate(
        None, None, 20, 3, num_replicates=600, seed=1, data0=points, regime=ct.Accumulate()
    )
    np.testing.assert_allclose(run["mean"][0, 0], points.mean(axis=0))
    assert run["cov"].shape == (4, 600, 2, 2)
    again = simulate(
        None,
        None,
        20,
        3,
        num_replicates=600,
        seed=1,
        data0=points,
        regime=ct.Accumulate(),
        num_threads=1,
        chunk_size=2,
    )
    np.testing.assert_array_equal(run["cov"], again["cov"])
    with pytest.raises(ValueError, match="mean0=None"):
        simulate(0.0, 1.0, 10, 3, data0=points[:, 0])
    with pytest.raises(ValueError, match="FreshData"):
        simulate(None, None, 10, 3, data0=points[:, 0], regime=ct.FreshData(0.1))
    with pytest.raises(ValueError, match="data0"):
        simulate(None, None, 10, 3, data0=[1.0])
