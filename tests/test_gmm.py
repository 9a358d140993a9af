"""Gaussian mixtures (docs/theory.md §4): EM against scikit-learn and the naive numpy EM, recursive
fitting against the single-Gaussian (§2.6, §3.3) and Wright–Fisher (§1.3) theory, lost components,
reproducibility, mixture metrics and input validation.

Statistical checks are z-tests with |z| < Z_CRIT = 4.0 at fixed seeds (two-sided false alarm
6.3e-5 each; 35 such checks here, a family-wise rate near 2e-3).
"""

from __future__ import annotations

import itertools
import time
import warnings

import numpy as np
import pytest
import scipy.stats as st
from hypothesis import given, settings
from hypothesis import strategies as hs
from scipy.special import digamma, polygamma
from sklearn.mixture import GaussianMixture
from threadpoolctl import threadpool_limits

import collapse_theory as ct
from collapse_theory import metrics
from collapse_theory._stats import mean_difference_z, mean_z
from collapse_theory._validate import InputError, InputTypeError
from collapse_theory.gmm import (
    DEGENERATE_FLOOR,
    DegenerateFitWarning,
    EMResult,
    Mixture,
    degenerate_components,
    fit_em,
    simulate,
)
from collapse_theory.gmm.simulate import INITS
from tests import naive

Z_CRIT = 4.0


def two_blobs(dim: int = 2) -> Mixture:
    means = np.zeros((2, dim))
    means[0, 0], means[1, 0] = -2.0, 2.5
    cov1 = np.eye(dim)
    cov2 = 0.5 * np.eye(dim) + 0.3 * np.ones((dim, dim))
    return Mixture([0.4, 0.6], means, [cov1, cov2])


def best_permutation(means_a: np.ndarray, means_b: np.ndarray) -> tuple[int, ...]:
    """Label permutation of b closest to a."""
    return min(
        itertools.permutations(range(means_a.shape[0])),
        key=lambda p: float(np.sum((means_a - means_b[list(p)]) ** 2)),
    )


def sklearn_fit(x, init: Mixture, tol: float, init_params: str = "kmeans") -> GaussianMixture:
    return GaussianMixture(
        init.num_components,
        covariance_type="full",
        tol=tol,
        max_iter=2000,
        reg_covar=0.0,
        weights_init=init.weights,
        means_init=init.means,
        precisions_init=np.linalg.inv(init.covs),
        init_params=init_params,
    ).fit(x)


# ------------------------------------------------------------------------------------------------
# 1. EM agrees with scikit-learn and the naive EM


@pytest.mark.parametrize("dim,num_components", [(2, 2), (3, 2)])
def test_diagonal_fit_matches_sklearn_diag(dim, num_components):
    """covariance_type="diag" takes scikit-learn's diagonal EM steps: same log-likelihood and
    parameters up to label permutation, diagonal covariances, in fit_em and in simulate."""
    rng = np.random.default_rng(30 + dim)
    truth = two_blobs(dim)
    x = np.stack([truth.sample(400, rng) for _ in range(3)])
    init = Mixture(
        np.full(num_components, 1.0 / num_components),
        rng.normal(size=(num_components, dim)),
        np.stack([np.eye(dim) * (1.0 + k) for k in range(num_components)]),
    )
    fit = fit_em(x, init, tol=1e-6, covariance_type="diag")
    for r in range(x.shape[0]):
        gm = GaussianMixture(
            num_components,
            covariance_type="diag",
            tol=1e-6,
            max_iter=2000,
            reg_covar=0.0,
            weights_init=init.weights,
            means_init=init.means,
            precisions_init=1.0 / np.diagonal(init.covs, axis1=1, axis2=2),
        ).fit(x[r])
        assert abs(fit.iterations[r] - gm.n_iter_) <= 1
        assert abs(fit.log_likelihood[r] - gm.lower_bound_) <= 1e-6 * abs(gm.lower_bound_)
        perm = list(best_permutation(fit.means[r], gm.means_))
        np.testing.assert_allclose(fit.means[r], gm.means_[perm], atol=1e-6)
        np.testing.assert_allclose(
            np.diagonal(fit.covs[r], axis1=1, axis2=2), gm.covariances_[perm], atol=1e-6
        )
        off_diagonal = fit.covs[r] * (1 - np.eye(dim))
        assert np.all(off_diagonal == 0.0)
    run = simulate(truth, 300, 3, num_replicates=4, covariance_type="diag", seed=1)
    assert np.all(run["covs"][1:] * (1 - np.eye(dim)) == 0.0)  # generation 0 is the truth
    with pytest.raises(ValueError, match="covariance_type"):
        fit_em(x, init, covariance_type="spherical")


@pytest.mark.parametrize("dim,num_components", [(2, 2), (3, 3), (1, 2)])
def test_fit_em_matches_sklearn_and_naive(dim, num_components):
    rng = np.random.default_rng(10 + dim)
    truth = two_blobs(dim)
    x = np.stack([truth.sample(400, rng) for _ in range(5)])
    init = Mixture(
        np.full(num_components, 1.0 / num_components),
        rng.normal(size=(num_components, dim)),
        np.stack([np.eye(dim) * (1.0 + k) for k in range(num_components)]),
    )
    fit = fit_em(x, init, tol=1e-6)
    assert fit.weights.shape == (5, num_components)
    for r in range(x.shape[0]):
        gm = sklearn_fit(x[r], init, tol=1e-6)
        assert fit.converged[r] and gm.converged_
        assert abs(fit.iterations[r] - gm.n_iter_) <= 1
        assert abs(fit.log_likelihood[r] - gm.lower_bound_) <= 1e-6 * abs(gm.lower_bound_)
        final = fit.mixture(r).logpdf(x[r]).mean()
        assert abs(final - gm.score(x[r])) <= 1e-6 * abs(gm.score(x[r]))
        perm = list(best_permutation(fit.means[r], gm.means_))
        np.testing.assert_allclose(fit.weights[r], gm.weights_[perm], atol=1e-6)
        np.testing.assert_allclose(fit.means[r], gm.means_[perm], atol=1e-6)
        np.testing.assert_allclose(fit.covs[r], gm.covariances_[perm], atol=1e-6)
        w, m, c, iterations, lower = naive.em_gmm(
            x[r], init.weights, init.means, init.covs, tol=1e-6
        )
        assert iterations == fit.iterations[r]
        assert abs(lower - fit.log_likelihood[r]) <= 1e-9 * abs(lower)
        np.testing.assert_allclose(fit.weights[r], w, atol=1e-8)
        np.testing.assert_allclose(fit.means[r], m, atol=1e-8)
        np.testing.assert_allclose(fit.covs[r], c, atol=1e-8)


def test_fit_em_reg_covar_matches_sklearn_and_single_dataset_shapes():
    rng = np.random.default_rng(3)
    x = two_blobs().sample(300, rng)
    init = Mixture([0.5, 0.5], [[-1.0, 0.0], [1.0, 0.0]], [np.eye(2), np.eye(2)])
    fit = fit_em(x, init, tol=1e-7, reg_covar=1e-2)
    assert fit.weights.shape == (2,) and fit.iterations.shape == ()
    gm = GaussianMixture(
        2,
        tol=1e-7,
        reg_covar=1e-2,
        max_iter=2000,
        weights_init=init.weights,
        means_init=init.means,
        precisions_init=np.linalg.inv(init.covs),
    ).fit(x)
    assert abs(float(fit.log_likelihood) - gm.lower_bound_) <= 1e-6 * abs(gm.lower_bound_)
    np.testing.assert_allclose(fit.covs, gm.covariances_, atol=1e-6)


def test_kmeans_init_reaches_sklearn_optimum():
    rng = np.random.default_rng(4)
    truth = Mixture([0.3, 0.7], [[-6.0, 0.0], [6.0, 1.0]], [np.eye(2), 2 * np.eye(2)])
    x = np.stack([truth.sample(500, rng) for _ in range(4)])
    fit = fit_em(x, "kmeans++", num_components=2, seed=5, tol=1e-8)
    for r in range(4):
        gm = GaussianMixture(2, tol=1e-8, reg_covar=0.0, max_iter=2000, random_state=0).fit(x[r])
        assert abs(fit.log_likelihood[r] - gm.lower_bound_) <= 1e-6 * abs(gm.lower_bound_)
        perm = list(best_permutation(fit.means[r], gm.means_))
        np.testing.assert_allclose(fit.means[r], gm.means_[perm], atol=1e-5)


def test_kmeans_start_fits_like_sklearn_on_a_blob():
    """On one Gaussian blob (the paper's data) EM's result depends on its k-means start, which
    follows scikit-learn's KMeans (greedy seeding, its Lloyd stopping rule, docs/theory.md §4.1):
    the fitted component spreads over 200 starts, with the floor 1e-6, agree in mean and median
    with 200 scikit-learn fits of the same dataset (two-sample z-tests)."""
    x = np.random.default_rng(17).normal(size=(200, 2))
    ours = fit_em(
        np.broadcast_to(x, (200, 200, 2)), "kmeans++", num_components=2, seed=5, reg_covar=1e-6
    )
    with threadpool_limits(1):  # scikit-learn's k-means threads only slow small fits down
        theirs = np.array(
            [
                GaussianMixture(2, tol=1e-5, max_iter=2000, random_state=s).fit(x).covariances_
                for s in range(200)
            ]
        )
    for covs in (ours.covs, theirs):
        assert covs.shape == (200, 2, 2, 2)
    spread = [np.sort(np.trace(c, axis1=-2, axis2=-1), axis=1) for c in (ours.covs, theirs)]
    for k in range(2):
        assert abs(mean_difference_z(spread[0][:, k], spread[1][:, k])) < Z_CRIT
        below = [np.mean(s[:, k] < np.median(spread[1][:, k])) for s in spread]
        se = np.sqrt(0.25 / 200 + 0.25 / 200)
        assert abs(below[0] - below[1]) < Z_CRIT * se


def test_lost_component_is_recorded_not_nan():
    rng = np.random.default_rng(6)
    x = rng.normal(size=(200, 2))
    # A component far away from every point gets no responsibility: lost, weight exactly 0.
    init = Mixture([0.5, 0.5], [[0.0, 0.0], [1e3, 1e3]], [np.eye(2), np.eye(2)])
    fit = fit_em(x, init)
    assert fit.lost.tolist() == [False, True]
    assert fit.weights[1] == 0.0 and fit.weights[0] == 1.0
    assert np.all(np.isfinite(fit.means)) and np.all(np.isfinite(fit.covs))
    assert np.isfinite(fit.log_likelihood) and fit.converged
    np.testing.assert_allclose(fit.covs[0], np.cov(x.T, ddof=0), atol=1e-10)
    # A lost component (weight 0) in the start stays lost.
    again = fit_em(x, fit)
    assert again.lost.tolist() == [False, True]
    # A rare component in recursive fitting: lost for good once its weight hits 0 (§1, §4).
    rare = Mixture([0.97, 0.03], [[0.0, 0.0], [30.0, 0.0]], [np.eye(2), np.eye(2)])
    run = simulate(rare, 30, 20, num_replicates=200, seed=7)
    lost = run["lost"][:, :, 1]
    assert lost[-1].mean() > 0.5
    assert np.all(lost[1:] >= lost[:-1])  # absorbing
    assert np.all(run["weights"][:, :, 1][lost] == 0.0)
    assert np.all(np.isfinite(run["log_likelihood"][1:]))
    np.testing.assert_allclose(run["weights"].sum(axis=-1), 1.0, atol=1e-12)


# ------------------------------------------------------------------------------------------------
# 2. Recursive fitting against theory


def test_one_component_collapses_at_mle_rate_1d():
    """docs/theory.md §2.6: E sigma_n^2 = sigma_0^2 r^n, r = (M-1)/M; §2.3 with S = chi2_k / M:
    E ln sigma_n^2 = n (psi(k/2) - ln(M/2)), Var = n psi'(k/2)."""
    m, n, reps, var0 = 20, 10, 4000, 2.0
    run = simulate(Mixture([1.0], [[1.0]], [[[var0]]]), m, n, num_replicates=reps, seed=11)
    var = run["covs"][:, :, 0, 0, 0]
    k = m - 1
    for g in (1, 5, 10):
        assert abs(mean_z(var[g], var0 * ((m - 1) / m) ** g)) < Z_CRIT
        log_var = np.log(var[g] / var0)
        assert abs(mean_z(log_var, g * (digamma(k / 2) - np.log(m / 2)))) < Z_CRIT
        # variance of the log: z from the chi-square law of the sample variance (Var of s^2 ~ 2s^4/R)
        predicted = g * polygamma(1, k / 2)
        z = (log_var.var(ddof=1) - predicted) / (predicted * np.sqrt(2.0 / (reps - 1)))
        assert abs(z) < Z_CRIT
    assert np.all(run["converged"]) and np.all(run["iterations"][1:] <= 3)


def test_one_component_collapses_at_mle_rate_2d():
    """Per dimension E Sigma_n[jj] = Sigma_0[jj] r^n (§2.6); log-det drift of §3.3 for the MLE:
    E ln det Sigma_n = ln det Sigma_0 + n sum_j [psi((k-j+1)/2) + ln(2/M)]."""
    m, n, reps = 15, 8, 3000
    cov0 = np.array([[1.0, 0.5], [0.5, 2.0]])
    run = simulate(Mixture([1.0], [[0.0, 0.0]], [cov0]), m, n, num_replicates=reps, seed=12)
    covs = run["covs"][:, :, 0]
    k = m - 1
    for g in (2, 8):
        for j in range(2):
            assert abs(mean_z(covs[g, :, j, j], cov0[j, j] * ((m - 1) / m) ** g)) < Z_CRIT
        drift = g * sum(digamma((k - j) / 2) + np.log(2 / m) for j in range(2))
        log_det = np.linalg.slogdet(covs[g])[1] - np.linalg.slogdet(cov0)[1]
        assert abs(mean_z(log_det, drift)) < Z_CRIT


def test_separated_weights_drift_like_wright_fisher():
    """docs/theory.md §1.3 with 2 states: E w_n = w_0, Var w_n = w_0 (1 - w_0)(1 - (1 - 1/M)^n)."""
    m, n, reps, p = 100, 10, 2000, 0.3
    mix = Mixture([p, 1 - p], [[-50.0, 0.0], [50.0, 0.0]], [np.eye(2), np.eye(2)])
    run = simulate(mix, m, n, num_replicates=reps, seed=13)
    w = run["weights"][:, :, 0]
    for g in (1, 4, 10):
        assert abs(mean_z(w[g], p)) < Z_CRIT
        predicted = p * (1 - p) * (1 - (1 - 1 / m) ** g)
        assert abs(mean_z((w[g] - p) ** 2, predicted)) < Z_CRIT


# ------------------------------------------------------------------------------------------------
# Regimes, init, reproducibility


@pytest.mark.parametrize(
    "regime", [ct.Replace(), ct.Accumulate(), ct.FreshData(0.3), ct.FreshData(0.3, "split")]
)
@pytest.mark.parametrize("init", ["warm", "kmeans++"])
def test_same_seed_same_arrays_for_any_threads_and_chunks(regime, init):
    mix = two_blobs()
    kwargs = dict(num_replicates=600, seed=21, regime=regime, init=init, record=[0, 2, 3])
    runs = [
        simulate(mix, 40, 3, num_threads=1, **kwargs),
        simulate(mix, 40, 3, num_threads=2, chunk_size=1, **kwargs),
        simulate(mix, 40, 3, num_threads=2, chunk_size=2, **kwargs),
    ]
    for run in runs[1:]:
        for name, array in runs[0].trajectories.items():
            np.testing.assert_array_equal(run[name], array, err_msg=name)
    assert runs[0]["weights"].shape == (3, 600, 2)
    assert np.isnan(runs[0]["log_likelihood"][0]).all()
    assert np.isfinite(runs[0]["log_likelihood"][1:]).all()


def test_fit_em_kmeans_reproducible_across_threads():
    x = np.stack([two_blobs().sample(60, np.random.default_rng(s)) for s in range(300)])
    fits = [
        fit_em(x, "kmeans++", num_components=2, seed=3, num_threads=t, chunk_size=c)
        for t, c in [(1, 1), (2, 1), (2, 2)]
    ]
    for fit in fits[1:]:
        for a, b in zip(fits[0].__dict__.values(), fit.__dict__.values(), strict=True):
            np.testing.assert_array_equal(a, b)


def test_fresh_data_keeps_variance_and_accumulate_slows_collapse():
    mix = Mixture([1.0], [[0.0]], [[[1.0]]])
    replace = simulate(mix, 10, 30, num_replicates=500, seed=31, record="last")
    fresh = simulate(
        mix, 10, 30, num_replicates=500, seed=31, record="last", regime=ct.FreshData(0.5, "split")
    )
    pooled = simulate(
        mix, 10, 30, num_replicates=500, seed=31, record="last", regime=ct.Accumulate()
    )
    med = [np.median(r["covs"][-1, :, 0, 0, 0]) for r in (replace, fresh, pooled)]
    assert med[0] < 0.3 < med[1] and med[2] > 0.7


def test_schedule_and_metadata():
    run = simulate(
        two_blobs(),
        ct.schedules.Linear(20, 5.0),
        4,
        num_replicates=3,
        seed=1,
        record="last",
        progress=False,
    )
    assert run.generations.tolist() == [4]
    assert run.metadata["model"] == "gmm"
    assert run.metadata["parameters"]["sample_sizes"].tolist() == [20, 25, 30, 35]


# ------------------------------------------------------------------------------------------------
# Mixture and metrics


def test_mixture_sample_and_logpdf():
    mix = two_blobs()
    x = mix.sample(50_000, np.random.default_rng(0))
    # the empirical mean of draws agrees with sum_k w_k m_k per coordinate
    truth = mix.weights @ mix.means
    for j in range(2):
        assert abs(mean_z(x[:, j], truth[j])) < Z_CRIT
    reference = np.log(
        sum(
            w * st.multivariate_normal(m, c).pdf(x[:100])
            for w, m, c in zip(mix.weights, mix.means, mix.covs, strict=True)
        )
    )
    np.testing.assert_allclose(mix.logpdf(x[:100]), reference, rtol=1e-12)
    assert mix.logpdf(x[0]).shape == ()


def test_l2_gmm_against_quadrature_and_mw2_against_bures():
    a = Mixture([0.3, 0.7], [[-1.0], [2.0]], [[[0.5]], [[1.5]]])
    b = Mixture([0.6, 0.4], [[0.0], [3.0]], [[[1.0]], [[0.2]]])
    grid = np.linspace(-15, 15, 60001)[:, None]
    quad = np.trapezoid((a.pdf(grid) - b.pdf(grid)) ** 2, grid[:, 0])
    assert abs(metrics.l2_gmm(a, b, squared=True) - quad) < 1e-10
    assert metrics.l2_gmm(a, a) == 0.0
    assert metrics.l2_gmm(a, b) == pytest.approx(metrics.l2_gmm(b, a), rel=1e-12)
    single_a = Mixture([1.0], [[0.0, 1.0]], [[[2.0, 0.3], [0.3, 1.0]]])
    single_b = Mixture([1.0], [[1.0, 0.0]], [np.eye(2)])
    expected = metrics.w2_gaussian(
        single_a.means[0], single_a.covs[0], single_b.means[0], single_b.covs[0]
    )
    assert metrics.mw2_gmm(single_a, single_b) == pytest.approx(expected, rel=1e-12)
    # MW2 >= W2 between the mixtures >= |difference of means|
    assert metrics.mw2_gmm(a, b) >= np.linalg.norm(a.weights @ a.means - b.weights @ b.means)
    assert metrics.mw2_gmm(a, a) == pytest.approx(0.0, abs=1e-7)
    with pytest.raises(ValueError, match="dimension"):
        metrics.l2_gmm(a, single_a)
    with pytest.raises(TypeError, match="Mixture"):
        metrics.mw2_gmm(a, "b")


# ------------------------------------------------------------------------------------------------
# 3. Bad input


@pytest.mark.parametrize(
    "weights,means,covs,match",
    [
        ([0.5, 0.6], [[0.0], [1.0]], [[[1.0]], [[1.0]]], "weights must sum to 1"),
        ([1.5, -0.5], [[0.0], [1.0]], [[[1.0]], [[1.0]]], "weights must be non-negative"),
        ([0.5, 0.5], [[0.0], [1.0]], [[[1.0]], [[-1.0]]], r"covs\[1\] must be positive semi"),
        ([1.0], [[0.0, 0.0]], [[[1.0, 0.5], [0.0, 1.0]]], r"covs\[0\] must be symmetric"),
        ([0.5, 0.5], [[0.0], [1.0]], [[[1.0]]], "covs must have shape"),
        ([0.5, 0.5], [[0.0]], [[[1.0]], [[1.0]]], "means must have one row per weight"),
        ([1.0], [0.0], [[[1.0]]], r"means must have shape \(K, d\)"),
        ([1.0], [[np.nan]], [[[1.0]]], "means must contain only finite"),
    ],
)
def test_mixture_rejects_bad_input(weights, means, covs, match):
    with pytest.raises(ValueError, match=match):
        Mixture(weights, means, covs)


def test_fit_em_and_simulate_reject_bad_input():
    mix = two_blobs()
    x = mix.sample(100, np.random.default_rng(0))
    with pytest.raises(ValueError, match=r"N >= K \(d \+ 1\) = 6"):
        fit_em(x[:5], mix)
    bad = x.copy()
    bad[3, 1] = np.nan
    with pytest.raises(ValueError, match="samples must contain only finite"):
        fit_em(bad, mix)
    with pytest.raises(ValueError, match="init must be one of"):
        fit_em(x, "random")
    with pytest.raises(ValueError, match="num_components"):
        fit_em(x, "kmeans++")
    with pytest.raises(TypeError, match="init must be"):
        fit_em(x, 3)
    with pytest.raises(ValueError, match="tol must be > 0"):
        fit_em(x, mix, tol=0.0)
    with pytest.raises(ValueError, match="max_iter"):
        fit_em(x, mix, max_iter=0)
    with pytest.raises(ValueError, match="reg_covar"):
        fit_em(x, mix, reg_covar=-1.0)
    with pytest.raises(ValueError, match="dimension"):
        fit_em(x[:, :1], mix)
    with pytest.raises(ValueError, match="samples must have shape"):
        fit_em(x[:, 0], mix)
    with pytest.raises(ValueError, match="weights must sum to 1"):
        fit_em(x, ([0.5, 0.6], mix.means, mix.covs))
    with pytest.raises(ValueError, match=r"num_samples must be >= K \(d \+ 1\) = 6"):
        simulate(mix, 5, 3)
    with pytest.raises(ValueError, match="init must be one of"):
        simulate(mix, 50, 3, init="random")
    with pytest.raises(TypeError, match="mixture0 must be"):
        simulate((mix.weights, mix.means, mix.covs), 50, 3)
    with pytest.raises(TypeError, match="regime"):
        simulate(mix, 50, 3, regime="replace")
    with pytest.raises(ValueError, match="record"):
        simulate(mix, 50, 3, record=[5])
    with pytest.raises(TypeError, match="num_generations"):
        simulate(mix, 50, 3.0)


# ------------------------------------------------------------------------------------------------
# Property-based: any valid mixture samples and evaluates; EM never returns NaN


@hs.composite
def mixtures(draw, max_components=3, max_dim=3):
    k = draw(hs.integers(1, max_components))
    d = draw(hs.integers(1, max_dim))
    raw = np.array(draw(hs.lists(hs.floats(0.05, 1.0), min_size=k, max_size=k)))
    means = np.array(draw(hs.lists(hs.floats(-5, 5), min_size=k * d, max_size=k * d))).reshape(k, d)
    factors = np.array(
        draw(hs.lists(hs.floats(-2, 2), min_size=k * d * d, max_size=k * d * d))
    ).reshape(k, d, d)
    covs = factors @ factors.transpose(0, 2, 1) + 0.1 * np.eye(d)
    return Mixture(raw / raw.sum(), means, covs)


@settings(max_examples=25, deadline=None)
@given(mixtures(), hs.integers(0, 2**32 - 1))
def test_fuzz_mixture(mix, seed):
    x = mix.sample(20, np.random.default_rng(seed))
    assert x.shape == (20, mix.dim)
    values = mix.logpdf(x)
    assert np.all(np.isfinite(values))
    reference = np.log(
        sum(
            w * st.multivariate_normal(m, c).pdf(x).reshape(-1)
            for w, m, c in zip(mix.weights, mix.means, mix.covs, strict=True)
        )
    )
    np.testing.assert_allclose(values, reference, rtol=1e-8, atol=1e-8)


@settings(max_examples=25, deadline=None)
@given(mixtures(), mixtures(), hs.integers(0, 2**32 - 1), hs.sampled_from(["init", "kmeans++"]))
def test_fuzz_fit_em(truth, start, seed, how):
    if start.dim != truth.dim:
        start = Mixture(
            start.weights,
            np.zeros((start.num_components, truth.dim)),
            np.stack([np.eye(truth.dim)] * start.num_components),
        )
    x = truth.sample(3 * start.num_components * (truth.dim + 1), np.random.default_rng(seed))[None]
    if how == "init":
        fit = fit_em(x, start, max_iter=200)
    else:
        fit = fit_em(x, "kmeans++", num_components=start.num_components, seed=seed, max_iter=200)
    assert isinstance(fit, EMResult)
    for array in (fit.weights, fit.means, fit.covs, fit.log_likelihood):
        assert np.all(np.isfinite(array))
    np.testing.assert_allclose(fit.weights.sum(axis=-1), 1.0, atol=1e-12)
    assert np.all(fit.weights[fit.lost] == 0.0)
    assert np.all(fit.iterations >= 1) and np.all(fit.iterations <= 200)


def test_vectorised_exp_matches_math_exp():
    from collapse_theory.gmm._numba import exp_nonpositive

    values = -np.concatenate(
        [np.linspace(0, 750, 20001), np.random.default_rng(0).exponential(3, 5000)]
    )
    out = values.copy()
    exp_nonpositive(out, out.size, np.empty(out.size))
    expected = np.exp(np.maximum(values, -708.0))
    np.testing.assert_array_less(np.abs(out - expected), 4 * np.spacing(expected))
    assert out[0] == 1.0


@pytest.mark.parametrize(
    "regime,kwargs",
    [
        (ct.Replace(), {}),
        (ct.FreshData(0.25), {"regime": "mix", "fraction": 0.25}),
        (ct.FreshData(0.25, "split"), {"regime": "split", "fraction": 0.25}),
        (ct.Accumulate(), {"regime": "accumulate"}),
    ],
)
def test_simulate_agrees_with_naive_chain(regime, kwargs):
    """Two-sample z-tests at generation 3: weight, its squared drift, log-variance of a component."""
    mix = Mixture([0.5, 0.5], [[-8.0], [8.0]], [[[1.0]], [[2.0]]])
    sizes = np.full(3, 60)
    fast = simulate(mix, 60, 3, num_replicates=4000, regime=regime, seed=41)
    rng = np.random.default_rng(42)
    slow = [naive.gmm_chain(mix, sizes, rng=rng, **kwargs) for _ in range(300)]
    slow_w = np.array([s[0][3, 0] for s in slow])
    slow_v = np.log([s[2][3, 1, 0, 0] for s in slow])
    fast_w = fast["weights"][3, :, 0]
    fast_v = np.log(fast["covs"][3, :, 1, 0, 0])
    for a, b in [(fast_w, slow_w), ((fast_w - 0.5) ** 2, (slow_w - 0.5) ** 2), (fast_v, slow_v)]:
        assert abs(mean_difference_z(a, b)) < Z_CRIT


def test_data_without_spread_gives_a_degenerate_fit_not_a_crash():
    one = Mixture([1.0], [[0.0, 0.0]], [np.eye(2)])
    with pytest.warns(DegenerateFitWarning, match="1 of 1 fits"):
        fit = fit_em(np.ones((10, 2)), one)
    assert not fit.converged and fit.weights[0] == 1.0 and np.isfinite(fit.log_likelihood)
    np.testing.assert_array_equal(fit.covs[0], np.zeros((2, 2)))
    assert fit.degenerate.tolist() == [True] and fit.lost.tolist() == [False]
    two = Mixture([0.5, 0.5], [[0.0, 0.0], [1.0, 1.0]], [np.eye(2), np.eye(2)])
    line = np.zeros((10, 2))
    line[:, 0] = np.arange(10)
    with pytest.warns(DegenerateFitWarning):
        fit = fit_em(line, two)
    assert fit.lost.sum() == 1 and fit.weights.sum() == 1.0
    assert fit.degenerate.tolist() == (~fit.lost).tolist()  # the survivor lies on the line
    assert np.all(np.isfinite(fit.covs)) and np.isfinite(fit.log_likelihood)
    with pytest.raises(ValueError, match="must be positive definite"):
        fit_em(line, Mixture([0.5, 0.5], [[0.0, 0.0], [1.0, 1.0]], [np.eye(2), np.zeros((2, 2))]))
    with pytest.raises(ValueError, match="mixture0: the covariance of component"):
        simulate(Mixture([1.0], [[0.0, 0.0]], [np.zeros((2, 2))]), 10, 2)
    # a zero-weight component may be singular
    with pytest.warns(DegenerateFitWarning):
        fit = fit_em(
            line, Mixture([1.0, 0.0], [[0.0, 0.0], [1.0, 1.0]], [np.eye(2), np.zeros((2, 2))])
        )
    assert fit.lost.tolist() == [False, True] and fit.degenerate.tolist() == [True, False]


def _line_data(rng: np.random.Generator, num_datasets: int, size: int) -> np.ndarray:
    """Points on the line x_2 = 2 x_1 + 1 (every covariance fitted to them is singular)."""
    t = rng.normal(size=(num_datasets, size))
    return np.stack([t, 2.0 * t + 1.0], axis=-1)


def _duplicated_data(rng: np.random.Generator, num_datasets: int, size: int) -> np.ndarray:
    """Two distinct points, each repeated: a component sits on one point or on both (rank <= 1)."""
    points = rng.normal(size=(num_datasets, 2, 2))
    return points[:, np.arange(size) % 2]


@pytest.mark.parametrize("make_data", [_line_data, _duplicated_data])
@pytest.mark.parametrize("init", ["kmeans++", "warm"])
def test_constructed_degenerate_data_are_flagged_without_nan(make_data, init):
    """Issue 14: points on a line and duplicated points. Every fitted component of positive
    weight is singular, so it is flagged degenerate (never also lost), with one warning per call,
    no NaN and no crash; a covariance floor reg_covar > 0 removes every flag."""
    x = make_data(np.random.default_rng(8), 40, 60)
    start = "kmeans++" if init == "kmeans++" else two_blobs()
    kwargs = {"num_components": 2, "seed": 3} if init == "kmeans++" else {}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fit = fit_em(x, start, **kwargs)
    assert [w.category for w in caught] == [DegenerateFitWarning]
    assert "40 fits have degenerate components" in str(caught[0].message)
    for array in (fit.weights, fit.means, fit.covs):
        assert np.all(np.isfinite(array))
    # the log-likelihood is +inf (unbounded) where EM could not start (every k-means cluster
    # flat); after an E step it may be -inf (a point off a flat component underflows), never NaN
    stuck = fit.iterations == 0
    assert np.all(fit.log_likelihood[stuck] == np.inf) and not np.any(fit.converged[stuck])
    assert not np.any(np.isnan(fit.log_likelihood))
    assert np.array_equal(fit.degenerate, ~fit.lost) and not np.any(fit.degenerate & fit.lost)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no DegenerateFitWarning with a floor
        floored = fit_em(x, start, reg_covar=1e-6, **kwargs)
    assert not floored.degenerate.any()
    assert np.all(np.linalg.eigvalsh(floored.covs)[..., 0][~floored.lost] >= 1e-6 * (1 - 1e-9))


def test_degenerate_components_thresholds():
    """docs/theory.md §4.2: smallest eigenvalue below the floor, or below ratio x the largest;
    lost components are never degenerate."""
    covs = np.array(
        [
            np.eye(2),
            np.diag([1.0, 5e-11]),  # below the floor 1e-10
            np.diag([1e3, 5e-8]),  # above the floor, ratio 5e-11 below 1e-10
            np.diag([1e3, 5e-7]),  # ratio 5e-10: not degenerate
            1e-12 * np.eye(2),  # collapsed onto a point
        ]
    )
    assert degenerate_components(covs).tolist() == [False, True, True, False, True]
    lost = np.array([False, True, False, False, False])
    assert degenerate_components(covs, lost).tolist() == [False, False, True, False, True]
    assert degenerate_components(covs, floor=0.0, ratio=0.0).tolist() == [False] * 5
    assert degenerate_components(covs[None], floor=1e-6, ratio=1e-6).tolist() == [
        [False, True, True, True, True]
    ]
    with pytest.raises(InputError, match="shape"):
        degenerate_components(np.eye(2))
    with pytest.raises(InputError, match="floor"):
        degenerate_components(covs, floor=-1.0)


def test_simulate_flags_degenerate_chains_once():
    """A chain whose model 0 has a needle component (variance ratio 1e-12) is degenerate from
    generation 0 on; the run warns once; a floor in the refits ends the flags after it."""
    needle = Mixture([0.5, 0.5], [[-5.0, 0.0], [5.0, 0.0]], [np.eye(2), np.diag([1.0, 1e-12])])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        run = simulate(needle, 60, 3, num_replicates=5, seed=2)
    assert [w.category for w in caught] == [DegenerateFitWarning]
    assert "5 of 5 chains" in str(caught[0].message)
    assert "first at generation 0" in str(caught[0].message)
    degenerate = run["degenerate"]
    assert degenerate.shape == run["lost"].shape == (4, 5, 2)
    assert degenerate[0, :, 1].all() and not degenerate[0, :, 0].any()
    assert not np.any(degenerate & run["lost"])
    with pytest.warns(DegenerateFitWarning, match="first at generation 0"):
        floored = simulate(needle, 60, 3, num_replicates=5, seed=2, reg_covar=1e-4)
    assert floored["degenerate"][0].any() and not floored["degenerate"][1:].any()
    assert floored.metadata["parameters"]["degenerate_floor"] == DEGENERATE_FLOOR


def test_sizes_are_checked_before_allocating():
    """Issue 13: absurd sizes are refused at once with an InputError naming them, before any
    array exists (generations, replicates, recorded slots, N x d x K work buffers)."""
    mix = two_blobs()
    cases = [
        (lambda: simulate(mix, 50, 10**9), "num_generations=1000000000"),
        (lambda: simulate(mix, 50, 5, num_replicates=10**9), "num_replicates=1000000000"),
        (lambda: simulate(mix, 10**9, 1, record="last"), "datasets of up to 1000000000 points"),
        (
            lambda: simulate(mix, 10**6, 10**4, regime=ct.Accumulate(), record="last"),
            "datasets of up to 10000000000 points",
        ),
        (lambda: simulate(mix, 50, 10**9, record="last", backend="jax"), "num_generations"),
        (
            lambda: (
                fit_em(np.zeros((10**4, 3, 1)), "kmeans++", num_components=1, num_threads=1)
                if False
                else fit_em(np.zeros((2, 10, 1)), "kmeans++", num_components=10**9)
            ),
            r"N >= K \(d \+ 1\)",
        ),
    ]
    for call, match in cases:
        start = time.perf_counter()
        with pytest.raises(InputError, match=match):
            call()
        assert time.perf_counter() - start < 5.0  # refused, not computed (a loose bound)


def test_integer_arguments_follow_check_int():
    """Integers: ints and numpy integers; floats (even integral) and strings refused
    (collapse_theory._validate.check_int)."""
    mix = two_blobs()
    x = mix.sample(60, np.random.default_rng(0))
    assert simulate(mix, np.int64(30), np.int32(2), num_replicates=np.int64(2), seed=0)
    for bad in (2.0, "2", True):
        with pytest.raises(InputTypeError, match="num_generations"):
            simulate(mix, 30, bad)
        with pytest.raises(InputTypeError, match="num_replicates"):
            simulate(mix, 30, 2, num_replicates=bad)
        with pytest.raises(InputTypeError, match="max_iter"):
            fit_em(x, mix, max_iter=bad)
        with pytest.raises(InputTypeError, match="num_components"):
            fit_em(x, "kmeans++", num_components=bad)
    with pytest.raises(InputTypeError, match="num_samples"):
        simulate(mix, 30.0, 2)
    with pytest.raises(InputTypeError, match="reg_covar"):
        fit_em(x, mix, reg_covar="0")


def test_each_gmm_kernel_has_one_signature():
    """The numba kernels compile once each (cold start, issue 13): every call path (warm and
    k-means++ starts, every regime, full and diagonal covariances, fit_em and simulate) uses
    the same argument types."""
    from collapse_theory.gmm import _numba

    mix = two_blobs()
    for regime in (ct.Replace(), ct.Accumulate(), ct.FreshData(0.3)):
        for init in ("warm", "kmeans++"):
            simulate(mix, 30, 2, num_replicates=2, regime=regime, init=init, seed=0)
    simulate(mix, 30, 2, covariance_type="diag", record="last", seed=0)
    x = mix.sample(60, np.random.default_rng(0))
    fit_em(x, mix)
    fit_em(np.stack([x, x]), "kmeans++", num_components=2, seed=0, covariance_type="diag")
    assert len(_numba.simulate_block.signatures) == len(_numba.fit_block.signatures) == 1
    for name in dir(_numba):
        kernel = getattr(_numba, name)
        if hasattr(kernel, "signatures") and kernel.py_func.__module__ == _numba.__name__:
            # helpers show no signature when their caller came from the on-disk cache
            assert len(kernel.signatures) <= 1, (name, kernel.signatures)


@settings(max_examples=15, deadline=None)
@given(mixtures(max_components=2, max_dim=2), hs.integers(0, 2**32 - 1), hs.sampled_from(INITS))
def test_fuzz_simulate(mix, seed, init):
    size = 2 * mix.num_components * (mix.dim + 1)
    run = simulate(mix, size, 4, num_replicates=3, seed=seed, init=init, max_iter=100)
    for name in ("weights", "means", "covs"):
        assert np.all(np.isfinite(run[name]))
    np.testing.assert_allclose(run["weights"].sum(axis=-1), 1.0, atol=1e-12)
    assert np.all(run["weights"][run["lost"]] == 0.0)
    assert np.all(np.isfinite(run["log_likelihood"][1:]))
